"""Correcting a received request's details: the patient, type, scope and delivery (intake_details_update)."""

from __future__ import annotations

from typing import Any

from django import forms

from workflow.choices import DeliveryMethod, RecordType, RequestType, SensitiveCategory
from workflow.models import RecordRequest


class RequestDetailsForm(forms.Form):
    request_type = forms.ChoiceField(choices=RequestType.choices)
    mrn = forms.CharField(label="Patient MRN", max_length=40, required=False)
    first_name = forms.CharField(label="Patient first name", max_length=100, required=False)
    last_name = forms.CharField(label="Patient last name", max_length=100, required=False)
    date_of_birth = forms.DateField(
        label="Patient date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    record_types = forms.MultipleChoiceField(
        choices=RecordType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    scope_date_from = forms.DateField(
        label="Dates of service from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    scope_date_to = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    scope_notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)
    sensitive_categories = forms.MultipleChoiceField(
        choices=SensitiveCategory.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    urgency_date = forms.DateField(
        label="Needed by (appointment, hearing)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    urgency_reason = forms.CharField(required=False, max_length=200)
    delivery_method = forms.ChoiceField(choices=[("", "Not chosen yet"), *DeliveryMethod.choices], required=False)
    delivery_destination = forms.CharField(required=False, max_length=300)

    def __init__(self, *args: Any, record_request: RecordRequest, patient_unidentified: bool, **kwargs: Any) -> None:
        self.patient_unidentified = patient_unidentified
        if not kwargs.get("data") and not args:
            patient = record_request.patient
            kwargs["initial"] = {
                "request_type": record_request.request_type,
                "record_types": record_request.record_types,
                "scope_date_from": record_request.scope_date_from,
                "scope_date_to": record_request.scope_date_to,
                "scope_notes": record_request.scope_notes,
                "sensitive_categories": record_request.sensitive_categories,
                "urgency_date": record_request.urgency_date,
                "urgency_reason": record_request.urgency_reason,
                "delivery_method": record_request.delivery_method,
                "delivery_destination": record_request.delivery_destination,
                **(
                    {}
                    if patient_unidentified
                    else {
                        "mrn": patient.mrn,
                        "first_name": patient.first_name,
                        "last_name": patient.last_name,
                        "date_of_birth": patient.date_of_birth,
                    }
                ),
            }
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        patient_fields = ["first_name", "last_name", "date_of_birth"]
        given = [name for name in ["mrn", *patient_fields] if data.get(name)]
        if given or self.patient_unidentified:
            for name in patient_fields:
                if not data.get(name):
                    self.add_error(name, "Enter the patient's first name, last name and date of birth (and the MRN).")
        start, end = data.get("scope_date_from"), data.get("scope_date_to")
        if start and end and start > end:
            self.add_error("scope_date_from", "The start date is after the end date.")
        return data

    def patient_data(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data.get("last_name"):
            return None
        return {key: data[key] for key in ["mrn", "first_name", "last_name", "date_of_birth"]}

    def details(self) -> dict[str, Any]:
        data = self.cleaned_data
        keys = [
            "request_type", "record_types", "scope_date_from", "scope_date_to", "scope_notes", "sensitive_categories",
            "urgency_date", "urgency_reason", "delivery_method", "delivery_destination",
        ]  # fmt: skip
        return {key: data[key] for key in keys}
