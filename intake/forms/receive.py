"""Forms for receiving a request at the staff desk (fax, mail, phone, walk-in, email) and for adding a document
to a request. They check what a person can fix on the page; intake.services.intake_receive checks the rules that
must always hold, and its ServiceErrors come back onto the same fields (`service_error_field`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from intake.choices import DocumentKind
from intake.documents import inspect_upload
from roi import clock
from roi.choices import US_STATES
from roi.errors import ServiceError
from roi.models import Tenant
from workflow.choices import Channel, DeliveryMethod, RecordType, RequestorKind, RequestType, SensitiveCategory
from workflow.deadlines import RECEIPT_LOOKBACK_DAYS, validate_received_at
from workflow.models import Patient, RecordRequest, Requestor

# Channels staff key in by hand. Portal, API and email ingestion create requests through their own code paths.
DESK_CHANNELS = [Channel.FAX, Channel.MAIL, Channel.PHONE, Channel.WALK_IN, Channel.EMAIL]
# A request that arrived on paper or as a message is kept with the request: it is what the intake checklist reads.
CHANNELS_WITH_DOCUMENT = frozenset({Channel.FAX, Channel.MAIL, Channel.EMAIL})

NEW_PATIENT_FIELDS = {
    "mrn": "Enter the patient's MRN, or search for the patient above.",
    "first_name": "Enter the patient's first name.",
    "last_name": "Enter the patient's last name.",
    "date_of_birth": "Enter the patient's date of birth.",
}
NEW_REQUESTOR_FIELDS = (
    "requestor_kind",
    "requestor_name",
    "requestor_organization",
    "requestor_email",
    "requestor_phone",
    "requestor_fax",
    "requestor_address_line1",
    "requestor_address_line2",
    "requestor_city",
    "requestor_state",
    "requestor_postal_code",
)
# The documents the form takes: (file field, kind field or None, the fixed kind for a field without one).
DOCUMENT_SLOTS = (
    ("scanned_request", None, DocumentKind.REQUEST_LETTER),
    ("document_2", "document_2_kind", None),
    ("document_3", "document_3_kind", None),
)
# Where a ServiceError from intake_receive (ServiceError.field) is shown on this form.
SERVICE_FIELDS = {
    "mrn": "mrn",
    "patient": "patient_id",
    "requestor": "requestor_id",
    "received_at": "received_at",
    "scope_date_from": "scope_date_from",
    "scope_date_to": "scope_date_to",
    "kind": "document_2_kind",
}


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _kind_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank), *DocumentKind.choices]


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Patient) -> str:
        born = obj.date_of_birth
        return f"{obj.last_name}, {obj.first_name} · MRN {obj.mrn} · born {born:%b} {born.day}, {born.year}"


class RequestorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Requestor) -> str:
        parts = [obj.name]
        if obj.organization:
            parts.append(obj.organization)
        parts.append(obj.get_kind_display().lower())
        if obj.email:
            parts.append(obj.email)
        return " · ".join(parts)


def patient_choice_field(queryset: Any) -> PatientChoiceField:
    """The radio list of patients to pick from: the lookup's results, or the one picked when the form comes back."""
    return PatientChoiceField(
        queryset=queryset,
        required=False,
        widget=forms.RadioSelect,
        empty_label="None of these: a new patient, entered below",
        label="Patient found",
        error_messages={"invalid_choice": "That patient is no longer on file here. Search again."},
    )


def requestor_choice_field(queryset: Any) -> RequestorChoiceField:
    return RequestorChoiceField(
        queryset=queryset,
        required=False,
        widget=forms.RadioSelect,
        empty_label="None of these: a new requestor, entered below",
        label="Requestor found",
        error_messages={"invalid_choice": "That requestor is no longer on file here. Search again."},
    )


def _picked_id(data: Any, name: str) -> int | None:
    value = (data or {}).get(name) if data is not None else None
    return int(value) if isinstance(value, str) and value.isdigit() else None


class IntakeForm(forms.Form):
    """Everything a request received at the desk needs, posted at once: intake_receive records it in one go."""

    channel = forms.ChoiceField(
        label="Received by",
        choices=[(c.value, c.label) for c in DESK_CHANNELS],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how the request was received."},
    )
    received_at = forms.DateTimeField(
        label="Received at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When the request reached the organisation (your local time), at most "
        f"{RECEIPT_LOOKBACK_DAYS} days ago. The legal clock starts here.",
        error_messages={
            "required": "Enter when the request was received.",
            "invalid": "Enter the receipt date and time, for example 2025-03-14 09:30.",
        },
        # The same check as the API's and request_create's (workflow/deadlines.py).
        validators=[validate_received_at],
    )
    request_type = forms.ChoiceField(
        label="Request type",
        choices=[("", "Choose the type"), *RequestType.choices],
        error_messages={"required": "Choose the request type: it decides the legal due date."},
    )

    # Patient: pick one found by the lookup, or enter a new one.
    patient_q = forms.CharField(label="MRN or last name", required=False, max_length=100)
    patient_q_dob = forms.DateField(label="Date of birth (for a name search)", required=False, widget=_date_input())
    mrn = forms.CharField(label="MRN", required=False, max_length=40)
    first_name = forms.CharField(label="First name", required=False, max_length=100)
    last_name = forms.CharField(label="Last name", required=False, max_length=100)
    date_of_birth = forms.DateField(
        label="Date of birth",
        required=False,
        widget=_date_input(),
        error_messages={"invalid": "Enter the date of birth as a date, for example 1980-05-31."},
    )

    # Requestor: pick one found by the lookup, or enter a new one.
    requestor_q = forms.CharField(label="Name, organization or email", required=False, max_length=100)
    requestor_kind = forms.ChoiceField(
        label="Kind of requestor", required=False, choices=[("", "Choose the kind"), *RequestorKind.choices]
    )
    requestor_name = forms.CharField(
        label="Name",
        required=False,
        max_length=200,
        help_text="The person who asks, or the contact at the organization.",
    )
    requestor_organization = forms.CharField(label="Organization", required=False, max_length=200)
    requestor_email = forms.EmailField(
        label="Email",
        required=False,
        error_messages={"invalid": "Enter a complete email address, for example records@lawfirm.com."},
    )
    requestor_phone = forms.CharField(label="Phone", required=False, max_length=40)
    requestor_fax = forms.CharField(label="Fax", required=False, max_length=40)
    requestor_address_line1 = forms.CharField(label="Address", required=False, max_length=200)
    requestor_address_line2 = forms.CharField(label="Address line 2", required=False, max_length=200)
    requestor_city = forms.CharField(label="City", required=False, max_length=100)
    requestor_state = forms.ChoiceField(label="State", required=False, choices=[("", "—"), *US_STATES])
    requestor_postal_code = forms.CharField(label="ZIP code", required=False, max_length=10)

    # Scope.
    scope_date_from = forms.DateField(label="Dates of service from", required=False, widget=_date_input())
    scope_date_to = forms.DateField(label="Dates of service to", required=False, widget=_date_input())
    record_types = forms.MultipleChoiceField(
        label="Record types", required=False, choices=RecordType.choices, widget=forms.CheckboxSelectMultiple
    )
    scope_notes = forms.CharField(
        label="Scope notes", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    sensitive_categories = forms.MultipleChoiceField(
        label="Sensitive categories requested",
        required=False,
        choices=SensitiveCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each one needs its own consent before release.",
    )
    urgency_date = forms.DateField(
        label="Needed by", required=False, widget=_date_input(), help_text="An appointment, hearing or other date."
    )
    urgency_reason = forms.CharField(label="Reason it is urgent", required=False, max_length=200)

    # Delivery.
    delivery_method = forms.ChoiceField(
        label="Delivery method", required=False, choices=[("", "Not known yet"), *DeliveryMethod.choices]
    )
    delivery_destination = forms.CharField(
        label="Destination",
        required=False,
        max_length=300,
        help_text="Email address, fax number or postal address, as the method needs.",
    )

    # Documents. Each is checked here (type, size, readable) so a bad file is reported before anything is saved.
    # allow_empty_file: inspect_upload refuses an empty file with a message that names it.
    scanned_request = forms.FileField(label="Scanned request", required=False, allow_empty_file=True)
    document_2 = forms.FileField(label="Authorization or other document", required=False, allow_empty_file=True)
    document_2_kind = forms.ChoiceField(
        label="Kind of document",
        required=False,
        choices=_kind_choices("Choose the kind"),
        initial=DocumentKind.AUTHORIZATION,
    )
    document_3 = forms.FileField(label="Another document", required=False, allow_empty_file=True)
    document_3_kind = forms.ChoiceField(
        label="Kind of the other document", required=False, choices=_kind_choices("Choose the kind")
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        # Only the patient or requestor picked is ever listed (the lookup endpoints list the search results): a
        # bound form's choice is checked against this tenant's rows, and nothing else is rendered.
        picked_patient = _picked_id(self.data if self.is_bound else None, "patient_id")
        picked_requestor = _picked_id(self.data if self.is_bound else None, "requestor_id")
        # A placeholder patient (intake/patients.py) is nobody to pick, even by a crafted post.
        patients = Patient.objects.for_tenant(tenant).filter(is_placeholder=False)
        requestors = Requestor.objects.for_tenant(tenant)
        self.fields["patient_id"] = patient_choice_field(
            patients.filter(pk=picked_patient) if picked_patient else patients.none()
        )
        self.fields["requestor_id"] = requestor_choice_field(
            requestors.filter(pk=picked_requestor) if picked_requestor else requestors.none()
        )
        if not self.is_bound:
            self.initial.setdefault(
                "received_at", timezone.localtime(clock.now(), tenant.tzinfo).replace(second=0, microsecond=0)
            )

    @property
    def shows_patient_choice(self) -> bool:
        return self.fields["patient_id"].queryset.exists()

    @property
    def shows_requestor_choice(self) -> bool:
        return self.fields["requestor_id"].queryset.exists()

    @property
    def had_files(self) -> bool:
        """Files were posted: the page must say they have to be chosen again (browsers do not keep them)."""
        return self.is_bound and any(self.files.get(name) for name, _, _ in DOCUMENT_SLOTS)

    # --- Field checks ------------------------------------------------------------------------------------------

    def _clean_document(self, name: str) -> UploadedFile | None:
        uploaded = self.cleaned_data.get(name)
        if not uploaded:
            return None
        try:
            inspect_upload(uploaded)
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None
        return uploaded

    def clean_scanned_request(self) -> UploadedFile | None:
        return self._clean_document("scanned_request")

    def clean_document_2(self) -> UploadedFile | None:
        return self._clean_document("document_2")

    def clean_document_3(self) -> UploadedFile | None:
        return self._clean_document("document_3")

    def clean_mrn(self) -> str:
        return self.cleaned_data["mrn"].strip()

    # --- Rules across fields --------------------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._clean_patient(data)
        self._clean_requestor(data)
        self._clean_scope(data)
        self._clean_delivery(data)
        self._clean_documents(data)
        return data

    def _clean_patient(self, data: dict[str, Any]) -> None:
        if "patient_id" in self.errors:
            return
        entered = [name for name in NEW_PATIENT_FIELDS if data.get(name) not in (None, "")]
        if data.get("patient_id"):
            if entered:
                self.add_error(
                    "patient_id",
                    "You picked a patient on file and also entered a new patient's details. Clear one of them.",
                )
            return
        for name, message in NEW_PATIENT_FIELDS.items():
            if data.get(name) in (None, "") and name not in self.errors:
                self.add_error(name, message)
        dob = data.get("date_of_birth")
        if dob and dob > timezone.localdate(clock.now(), self.tenant.tzinfo):
            self.add_error("date_of_birth", "The date of birth cannot be in the future.")

    def _clean_requestor(self, data: dict[str, Any]) -> None:
        if "requestor_id" in self.errors:
            return
        entered = [name for name in NEW_REQUESTOR_FIELDS if data.get(name)]
        if data.get("requestor_id"):
            if entered:
                self.add_error(
                    "requestor_id",
                    "You picked a requestor on file and also entered a new requestor's details. Clear one of them.",
                )
            return
        if not data.get("requestor_kind") and "requestor_kind" not in self.errors:
            self.add_error("requestor_kind", "Choose the kind of requestor (patient, attorney, insurer...).")
        if not (data.get("requestor_name") or "").strip() and "requestor_name" not in self.errors:
            self.add_error("requestor_name", "Enter the requestor's name, or search for the requestor above.")

    def _clean_scope(self, data: dict[str, Any]) -> None:
        start, end = data.get("scope_date_from"), data.get("scope_date_to")
        if start and end and start > end:
            self.add_error("scope_date_to", "The end of the dates of service is before their start.")

    def _clean_delivery(self, data: dict[str, Any]) -> None:
        method = data.get("delivery_method") or ""
        destination = (data.get("delivery_destination") or "").strip()
        if destination and not method:
            self.add_error("delivery_method", "Choose the delivery method for this destination.")
            return
        if not method or not destination:
            return  # a missing destination is a gap the intake checklist reports; the request is still received
        # The model's own rules for a destination (intake_gaps), so the form and the checklist agree.
        probe = RecordRequest(delivery_method=method, delivery_destination=destination, record_types=["complete"])
        for gap in probe.intake_gaps():
            if gap.startswith("Delivery"):
                message = gap.removeprefix("Delivery: ")
                self.add_error("delivery_destination", message[:1].upper() + message[1:])

    def _clean_documents(self, data: dict[str, Any]) -> None:
        for file_field, kind_field, _ in DOCUMENT_SLOTS:
            if kind_field and data.get(file_field) and not data.get(kind_field) and kind_field not in self.errors:
                self.add_error(kind_field, "Choose what kind of document this is.")
        if data.get("channel") in CHANNELS_WITH_DOCUMENT:
            posted = any(self.files.get(name) for name, _, _ in DOCUMENT_SLOTS)
            if not posted and "scanned_request" not in self.errors:
                label = Channel(data["channel"]).label.lower()
                self.add_error(
                    "scanned_request", f"Attach the scanned request: a request received by {label} is kept with it."
                )

    # --- What intake_receive is called with -----------------------------------------------------------------

    def documents(self) -> list[tuple[UploadedFile, str]]:
        """(file, kind) for each document posted, in the form's order."""
        chosen = []
        for file_field, kind_field, fixed_kind in DOCUMENT_SLOTS:
            uploaded = self.cleaned_data.get(file_field)
            if uploaded:
                chosen.append((uploaded, fixed_kind or self.cleaned_data[kind_field]))
        return chosen

    def patient_data(self) -> dict[str, Any] | None:
        if self.cleaned_data.get("patient_id"):
            return None
        return {name: self.cleaned_data[name] for name in NEW_PATIENT_FIELDS}

    def requestor_data(self) -> dict[str, Any] | None:
        if self.cleaned_data.get("requestor_id"):
            return None
        return {
            name.removeprefix("requestor_"): (self.cleaned_data.get(name) or "").strip()
            for name in NEW_REQUESTOR_FIELDS
        }

    def request_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "scope_date_from": data.get("scope_date_from"),
            "scope_date_to": data.get("scope_date_to"),
            "record_types": data.get("record_types") or [],
            "scope_notes": data.get("scope_notes", ""),
            "sensitive_categories": data.get("sensitive_categories") or [],
            "urgency_date": data.get("urgency_date"),
            "urgency_reason": data.get("urgency_reason", ""),
            "delivery_method": data.get("delivery_method", ""),
            "delivery_destination": data.get("delivery_destination", ""),
        }

    def add_service_error(self, error: ServiceError) -> None:
        """Show a ServiceError from intake_receive on the field it is about (or above the form)."""
        field = SERVICE_FIELDS.get(error.field or "")
        if field == "mrn" and self.cleaned_data.get("patient_id"):
            field = "patient_id"
        self.add_error(field if field in self.fields else None, error.message)


class DocumentUploadForm(forms.Form):
    """Adding one document to a request already recorded (the detail page)."""

    kind = forms.ChoiceField(
        label="Kind of document",
        choices=_kind_choices("Choose the kind"),
        error_messages={"required": "Choose what kind of document this is."},
    )
    file = forms.FileField(
        label="File",
        help_text="PDF, TIFF, PNG or JPEG.",
        allow_empty_file=True,
        error_messages={"required": "Choose the file to add."},
    )
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_file(self) -> UploadedFile:
        uploaded = self.cleaned_data["file"]
        try:
            inspect_upload(uploaded)
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None
        return uploaded
