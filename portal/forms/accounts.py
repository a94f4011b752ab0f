"""Requestor account forms: sign up and sign in. Labels and errors are in the visitor's language."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.accounts import account_password_problem, email_normalise
from portal.forms.submission import PortalForm
from portal.models import RequestorAccount


class SignUpForm(PortalForm):
    name = forms.CharField(
        label=_("Your full name"), max_length=200, error_messages={"required": _("Enter your full name.")}
    )
    organization = forms.CharField(
        label=_("Organisation"),
        max_length=200,
        required=False,
        help_text=_("The law firm, insurance company or agency you work for."),
    )
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("You will see the requests sent with this address, once you confirm it."),
        error_messages={
            "required": _("Enter your email address."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(label=_("Phone number"), max_length=40, required=False)
    password = forms.CharField(
        label=_("Password"),
        help_text=_("At least 12 characters; not a common password."),
        error_messages={"required": _("Choose a password.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("Password again"),
        error_messages={"required": _("Type the password again.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password = data.get("password")
        if password and data.get("password_again") and password != data["password_again"]:
            self.add_error("password_again", _("The two passwords are different. Type the same password twice."))
        elif password:
            candidate = RequestorAccount(email=email_normalise(data.get("email", "")), name=data.get("name", ""))
            for problem in account_password_problem(password, candidate):
                self.add_error("password", problem)
        return data


class SignInForm(PortalForm):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        error_messages={
            "required": _("Enter your email address."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        error_messages={"required": _("Enter your password.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ResetRequestForm(PortalForm):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("The address of your account. We email it a link to choose a new password."),
        error_messages={
            "required": _("Enter your email address."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "username"}),
    )


class NewPasswordForm(PortalForm):
    """The new password, twice, checked by the same validators as at sign-up."""

    password = SignUpForm.base_fields["password"]
    password_again = SignUpForm.base_fields["password_again"]

    def __init__(self, *args: Any, account: RequestorAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password = data.get("password")
        if password and data.get("password_again") and password != data["password_again"]:
            self.add_error("password_again", _("The two passwords are different. Type the same password twice."))
        elif password:
            for problem in account_password_problem(password, self.account):
                self.add_error("password", problem)
        return data
