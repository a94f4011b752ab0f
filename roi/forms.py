"""Forms of the platform's own staff pages: the Integrations page (roi/views/integrations.py). The services check the
same rules again (roi/services.py)."""

from __future__ import annotations

from django import forms

from roi.choices import INTEGRATION_ROLES, ApiScope, Role
from roi.services import API_TOKEN_DEFAULT_DAYS, API_TOKEN_MAX_DAYS


class IntegrationClientForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the system is, as your team calls it: 'Epic interface', 'Vendor portal'.",
    )
    description = forms.CharField(
        max_length=300, required=False, help_text="Who runs it and whom to call when it misbehaves."
    )
    role = forms.ChoiceField(
        choices=INTEGRATION_ROLES,
        initial=Role.SPECIALIST,
        label="Acts with the permissions of",
        help_text="A supervisor's lets it deny requests and assign them to others; most interfaces need a "
        "specialist's.",
    )


class ApiTokenIssueForm(forms.Form):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        initial=[ApiScope.READ],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope: a token without one could do nothing."},
        help_text="Give only what the system needs. Without 'restricted', requests with a sensitive category are "
        "missing from every answer it gets.",
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=API_TOKEN_MAX_DAYS,
        initial=API_TOKEN_DEFAULT_DAYS,
        label="Expires after (days)",
        error_messages={
            "min_value": f"A token lasts 1 to {API_TOKEN_MAX_DAYS} days.",
            "max_value": f"A token lasts at most {API_TOKEN_MAX_DAYS} days: rotate it before then.",
            "required": f"Say how many days the token lasts (1 to {API_TOKEN_MAX_DAYS}).",
            "invalid": f"Give a whole number of days (1 to {API_TOKEN_MAX_DAYS}).",
        },
        help_text=f"1 to {API_TOKEN_MAX_DAYS} days; {API_TOKEN_DEFAULT_DAYS} is usual. Rotate it before it expires.",
    )
