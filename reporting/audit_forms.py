"""Filters of the audit pages. An MRN or tracking number the tenant does not have is a message on the form, never a
500 (and never a hint that another tenant has it)."""

from __future__ import annotations

from typing import Any

from django import forms

from reporting.audit import AccessFilters
from roi import widgets
from roi.choices import AccessAction
from roi.models import Membership, Tenant
from workflow.models import Patient, RecordRequest


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )


class AuditFilterForm(forms.Form):
    """Every filter; each page uses the fields it needs (see the subclasses) and requires what it is about."""

    user = forms.ChoiceField(label="User", required=False, widget=widgets.Select)
    mrn = forms.CharField(label="Patient MRN", required=False, max_length=40)
    tracking_number = forms.CharField(label="Tracking number", required=False, max_length=20)
    action = forms.ChoiceField(label="Action", required=False, widget=widgets.Select)
    date_from = _date_field("From")
    date_to = _date_field("To")

    def __init__(self, *args: Any, tenant: Tenant, staff: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        if "user" in self.fields:
            self.fields["user"].choices = [("", "Anyone"), *[(str(m.user_id), m.user.get_username()) for m in staff]]
        if "action" in self.fields:
            self.fields["action"].choices = [("", "Any action"), *AccessAction.choices]

    def clean_mrn(self) -> Patient | None:
        mrn = self.cleaned_data.get("mrn", "").strip()
        if not mrn:
            return None
        patient = Patient.objects.for_tenant(self.tenant).filter(mrn__iexact=mrn).first()
        if patient is None:
            raise forms.ValidationError(f"No patient with MRN {mrn}.")
        return patient

    def clean_tracking_number(self) -> RecordRequest | None:
        number = self.cleaned_data.get("tracking_number", "").strip().upper()
        if not number:
            return None
        record_request = RecordRequest.objects.for_tenant(self.tenant).filter(tracking_number=number).first()
        if record_request is None:
            raise forms.ValidationError(f"No request with tracking number {number}.")
        return record_request

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> AccessFilters:
        """The filters of a valid form (call after is_valid())."""
        data = self.cleaned_data
        return AccessFilters(
            actor_id=int(data["user"]) if data.get("user") else None,
            patient=data.get("mrn"),
            record_request=data.get("tracking_number"),
            action=data.get("action", ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


class PatientAuditForm(AuditFilterForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("user", "tracking_number", "action"):
            del self.fields[name]
        self.fields["mrn"].required = True
        self.fields["mrn"].error_messages["required"] = "Enter the patient's MRN."


class UserAuditForm(AuditFilterForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("mrn", "tracking_number", "action"):
            del self.fields[name]
        self.fields["user"].required = True
        self.fields["user"].choices = [("", "Choose a user"), *self.fields["user"].choices[1:]]
        self.fields["user"].error_messages["required"] = "Choose a user."


class BreakGlassReportForm(AuditFilterForm):
    """The break-glass report's period: grants given between two days, both optional."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("user", "mrn", "tracking_number", "action"):
            del self.fields[name]
