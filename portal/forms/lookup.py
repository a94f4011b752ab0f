"""Portal forms. Labels and errors are in the visitor's language; each error says what to do."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LookupForm(forms.Form):
    tracking_number = forms.CharField(
        label=_("Tracking number"),
        max_length=40,
        help_text=_("On the letter or email we sent you, for example ROI-7KQ2-M4XD-9PTA."),
        error_messages={"required": _("Enter the tracking number from our letter or email.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )
    verifier = forms.CharField(
        label=_("Email address, phone number or the patient's date of birth"),
        max_length=120,
        help_text=_(
            "The email address or phone number you gave us with the request. If you are the patient or their "
            "representative, you can also use the patient's date of birth (MM/DD/YYYY)."
        ),
        error_messages={"required": _("Enter your email address, phone number or the patient's date of birth.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class UploadForm(forms.Form):
    """While we need something from the requestor: the document, what it is, and an optional note."""

    kind = forms.ChoiceField(
        label=_("What are you sending?"),
        choices=[
            ("authorization", _("A signed authorization form")),
            ("identity", _("A copy of a photo ID")),
            ("authority", _("Proof of authority (power of attorney, guardianship, letters testamentary)")),
            ("consent", _("A signed consent for sensitive records")),
            ("correspondence", _("A letter answering your questions")),
            ("other", _("Something else")),
        ],
        error_messages={"required": _("Choose what you are sending.")},
    )
    file = forms.FileField(
        label=_("Document"),
        help_text=_("A PDF, or a photo or scan (JPEG, PNG or TIFF). Up to 25 MB."),
        error_messages={
            "required": _("Choose the file to upload."),
            "empty": _("The file is empty. Choose the scanned or saved document."),
        },
    )
    note = forms.CharField(
        label=_("Note for our staff"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": _("Keep the note to 300 characters.")},
    )
