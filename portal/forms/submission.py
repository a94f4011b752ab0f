"""The online request form and the portal's form base. Labels and errors are in the visitor's language; each error
says what to fix. Rules that depend on another answer (the document a request type needs, the address for mail)
are checked in `clean`, on the field the visitor must change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from intake.documents import human_size, inspect_upload, max_upload_bytes
from portal.submission import (
    ASKING_CHOICES,
    ASKING_RULES,
    DELIVERY_CHOICES,
    THIRD_PARTY_KINDS,
    Asking,
)
from roi import clock
from roi.choices import US_STATES
from roi.errors import ServiceError
from workflow.choices import DeliveryMethod, RecordType, RequestorKind

RECORD_TYPE_CHOICES = [
    (RecordType.COMPLETE.value, _("Complete medical record")),
    (RecordType.DISCHARGE_SUMMARY.value, _("Discharge summaries")),
    (RecordType.HISTORY_PHYSICAL.value, _("History and physical")),
    (RecordType.PROGRESS_NOTES.value, _("Progress notes")),
    (RecordType.OPERATIVE.value, _("Operative reports")),
    (RecordType.EMERGENCY.value, _("Emergency department records")),
    (RecordType.LAB.value, _("Laboratory results")),
    (RecordType.IMAGING_REPORTS.value, _("Imaging reports")),
    (RecordType.MEDICATIONS.value, _("Medication lists")),
    (RecordType.BILLING.value, _("Billing records and itemised bills")),
    (RecordType.OTHER.value, _("Other (say which in the notes)")),
]


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PortalForm(forms.Form):
    """Links each field's help and error to its input (aria-describedby) and marks invalid inputs, for screen
    readers; the markup itself is templates/portal/_field.html."""

    def full_clean(self) -> None:
        super().full_clean()
        for name, field in self.fields.items():
            described = []
            if field.help_text:
                described.append(f"id_{name}_helptext")  # templates/portal/_field.html
            if name in self.errors:
                described.append(f"id_{name}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)


# Browsers with a date picker send ISO dates; typed dates are read month first, as the hints show, in Spanish too
# (Django's Spanish formats would read 03/14/1980 day first and refuse it).
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y"]


class UploadField(forms.FileField):
    """A document upload checked by its content (intake.documents.inspect_upload) while the form validates, so a
    refused file stops the form before anything is created."""

    def clean(self, data: Any, initial: Any = None) -> Any:
        uploaded = super().clean(data, initial)
        if not uploaded:
            return uploaded
        name = getattr(uploaded, "name", "") or _("The file")
        if uploaded.size == 0:
            raise forms.ValidationError(
                _("%(name)s is empty. Scan or save it again and choose the new file."), params={"name": name}
            )
        limit = max_upload_bytes()
        if uploaded.size > limit:
            raise forms.ValidationError(
                _(
                    "%(name)s is %(size)s; files can be at most %(limit)s. Scan it in black and white or at a lower resolution."
                ),
                params={"name": name, "size": human_size(uploaded.size), "limit": human_size(limit)},
            )
        try:
            inspect_upload(uploaded)
        except ServiceError:
            raise forms.ValidationError(
                _(
                    "%(name)s is not a PDF, TIFF, PNG or JPEG file we can open. Choose the scanned document or a photo "
                    "of it, saved as PDF, JPEG or PNG."
                ),
                params={"name": name},
            ) from None
        return uploaded


def _upload(label: Any, help_text: Any) -> UploadField:
    return UploadField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.tif,.tiff,.png,.jpg,.jpeg,application/pdf,image/*"}),
    )


class SubmissionForm(PortalForm):
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    asking = forms.ChoiceField(
        label=_("Who is asking?"),
        choices=ASKING_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose who is asking for the records.")},
    )
    third_party_kind = forms.ChoiceField(
        label=_("If you ask with the patient's authorization: you are"),
        choices=[("", _("Choose one")), *THIRD_PARTY_KINDS],
        required=False,
    )

    requestor_name = forms.CharField(
        label=_("Your full name"),
        max_length=200,
        error_messages={"required": _("Enter your full name.")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    requestor_organization = forms.CharField(
        label=_("Organisation"),
        max_length=200,
        required=False,
        help_text=_(
            "The law firm, insurance company or agency you ask for. Needed unless you are the patient or their representative."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    requestor_email = forms.EmailField(
        label=_("Your email address"),
        max_length=254,
        help_text=_("We tell you about your request at this address."),
        error_messages={
            "required": _("Enter your email address: it is how we tell you about your request."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    requestor_phone = forms.CharField(
        label=_("Your phone number"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    address_line1 = forms.CharField(
        label=_("Street address"),
        max_length=200,
        required=False,
        help_text=_("Needed when we mail the records."),
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    address_line2 = forms.CharField(
        label=_("Apartment, suite (optional)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-level2"}),
    )
    state = forms.ChoiceField(label=_("State"), choices=[("", "—"), *US_STATES], required=False)
    postal_code = forms.RegexField(
        label=_("ZIP code"),
        regex=r"^\d{5}(-\d{4})?$",
        required=False,
        error_messages={"invalid": _("Enter a ZIP code like 90210 or 90210-1234.")},
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}),
    )

    patient_first_name = forms.CharField(
        label=_("Patient's first name"),
        max_length=100,
        error_messages={"required": _("Enter the patient's first name.")},
    )
    patient_last_name = forms.CharField(
        label=_("Patient's last name"), max_length=100, error_messages={"required": _("Enter the patient's last name.")}
    )
    patient_date_of_birth = forms.DateField(
        input_formats=DATE_INPUT_FORMATS,
        label=_("Patient's date of birth"),
        widget=_date_input(),
        error_messages={
            "required": _("Enter the patient's date of birth."),
            "invalid": _("Enter the date of birth like 03/14/1980."),
        },
    )
    patient_other_names = forms.CharField(
        label=_("Other names the patient used"),
        max_length=200,
        required=False,
        help_text=_("A maiden or former name helps us find the records."),
    )
    patient_phone = forms.CharField(label=_("Patient's phone number"), max_length=40, required=False)

    record_types = forms.MultipleChoiceField(
        label=_("Which records?"),
        choices=RECORD_TYPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one kind of record.")},
    )
    scope_date_from = forms.DateField(
        input_formats=DATE_INPUT_FORMATS,
        label=_("Visits from"),
        required=False,
        widget=_date_input(),
        help_text=_("Leave the dates empty for all dates."),
        error_messages={"invalid": _("Enter a date like 01/31/2024.")},
    )
    scope_date_to = forms.DateField(
        input_formats=DATE_INPUT_FORMATS,
        label=_("Visits to"),
        required=False,
        widget=_date_input(),
        error_messages={"invalid": _("Enter a date like 01/31/2024.")},
    )
    scope_notes = forms.CharField(
        label=_("Anything else we should know"),
        max_length=2000,
        required=False,
        help_text=_("For example the visit, the doctor or the purpose of the request."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    delivery_method = forms.ChoiceField(
        label=_("How should we send the records?"),
        choices=DELIVERY_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how we should send the records.")},
    )
    delivery_fax = forms.CharField(
        label=_("Fax number"),
        max_length=40,
        required=False,
        help_text=_("Only when we should fax the records."),
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )

    identity_document = _upload(
        _("Photo ID"),
        _("Needed when you are the patient: a photo or scan of your driver's license, passport or state ID."),
    )
    authority_document = _upload(
        _("Proof of authority"),
        _(
            "Needed when you are the patient's representative: guardianship papers, power of attorney, letters testamentary or a birth certificate."
        ),
    )
    authorization_document = _upload(
        _("Signed authorization"),
        _("Needed when you ask for someone else's records: the HIPAA authorization the patient signed."),
    )
    extra_document = _upload(_("Another document"), _("Anything else that supports the request."))

    attestation = forms.BooleanField(
        label=_("I confirm that the information I gave is true and that I am entitled to ask for these records."),
        error_messages={"required": _("Confirm that the information is true and that you are entitled to ask.")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._drop_what_does_not_apply(data)
        asking = data.get("asking")
        if asking == Asking.THIRD_PARTY:
            if not data.get("third_party_kind"):
                self.add_error("third_party_kind", _("Choose what kind of requestor you are."))
            elif data.get("third_party_kind") != RequestorKind.OTHER and not data.get("requestor_organization"):
                self.add_error("requestor_organization", _("Enter the organisation you ask for."))
        if asking in ASKING_RULES:
            needed = ASKING_RULES[asking].document_field
            if not data.get(needed) and needed not in self.errors:
                self.add_error(needed, REQUIRED_DOCUMENT_MESSAGES[needed])
        start, end = data.get("scope_date_from"), data.get("scope_date_to")
        if start and end and start > end:
            self.add_error("scope_date_to", _("The end date is before the start date."))
        born = data.get("patient_date_of_birth")
        if born and born > clock.now().date():
            self.add_error("patient_date_of_birth", _("The date of birth is in the future. Check the year."))
        method = data.get("delivery_method")
        if method == DeliveryMethod.MAIL:
            for name, message in ADDRESS_MESSAGES.items():
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, message)
        if method == DeliveryMethod.FAX:
            digits = "".join(ch for ch in data.get("delivery_fax", "") if ch.isdigit())
            if len(digits) < 10:
                self.add_error("delivery_fax", _("Enter the full fax number with its area code."))
        return data

    def _drop_what_does_not_apply(self, data: dict[str, Any]) -> None:
        """The page shows a field only when it applies (CONDITIONAL_FIELDS; templates/portal/submit.html hides the
        others with CSS, no script), but a hidden field is still sent: what the visitor typed or chose before
        changing an earlier answer. It is neither saved nor checked, so a request carries only what its page showed
        at the end."""
        answers = {"asking": data.get("asking"), "delivery_method": data.get("delivery_method")}
        for name, (question, values) in CONDITIONAL_FIELDS.items():
            if answers[question] in values:
                continue
            data[name] = None if isinstance(self.fields[name], forms.FileField) else ""
            if name in self._errors:
                del self._errors[name]


# Fields that apply only to some answers: field -> (the question, the answers it applies to). The page shows them
# through CSS classes of the same names (portal.css: .when-asking-*, .when-delivery_method-*).
CONDITIONAL_FIELDS: dict[str, tuple[str, frozenset[str]]] = {
    "third_party_kind": ("asking", frozenset({Asking.THIRD_PARTY})),
    "requestor_organization": ("asking", frozenset({Asking.THIRD_PARTY})),
    "identity_document": ("asking", frozenset({Asking.SELF})),
    "authority_document": ("asking", frozenset({Asking.REPRESENTATIVE})),
    "authorization_document": ("asking", frozenset({Asking.THIRD_PARTY})),
    "delivery_fax": ("delivery_method", frozenset({DeliveryMethod.FAX.value})),
    **{
        name: ("delivery_method", frozenset({DeliveryMethod.MAIL.value}))
        for name in ("address_line1", "address_line2", "city", "state", "postal_code")
    },
}

REQUIRED_DOCUMENT_MESSAGES = {
    "identity_document": _("Add a photo or scan of your photo ID: we must confirm who is asking."),
    "authority_document": _("Add the document that makes you the patient's representative."),
    "authorization_document": _(
        "Add the authorization the patient signed: we cannot release records to you without it."
    ),
}
ADDRESS_MESSAGES = {
    "address_line1": _("Enter the street address to mail the records to."),
    "city": _("Enter the city."),
    "state": _("Choose the state."),
    "postal_code": _("Enter the ZIP code."),
}
