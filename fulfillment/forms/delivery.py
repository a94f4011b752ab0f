"""Forms of the delivery part of the fulfillment panel: deliver with the evidence the method needs, and resend."""

from __future__ import annotations

from typing import Any

from django import forms

from fulfillment import delivery as service
from fulfillment.choices import ResendReason
from fulfillment.models import Delivery
from roi.models import Tenant
from workflow.choices import DeliveryMethod
from workflow.selectors import tenant_staff


def staff_choices(tenant: Tenant) -> list[tuple[str, str, Any]]:
    return [(str(m.user_id), str(m.user), m.user) for m in tenant_staff(tenant=tenant)]


class DeliveryForm(forms.Form):
    """The delivery and its evidence. Which fields are required depends on the method; the service checks them
    again and its message lands on the field it names."""

    expected_state = forms.CharField(widget=forms.HiddenInput, required=False)
    method = forms.ChoiceField(label="Method", choices=DeliveryMethod.choices)
    destination = forms.CharField(
        label="Destination",
        max_length=300,
        required=False,
        help_text="Email for a link; fax number; postal address; for pickup, who collected the records.",
    )
    fax_confirmation = forms.CharField(label="Fax transmission confirmation", max_length=100, required=False)
    mail_tracking_number = forms.CharField(label="Mail tracking number", max_length=100, required=False)
    pickup_id_checked_by = forms.ChoiceField(label="ID checked by (staff)", required=False)
    pickup_id_description = forms.CharField(label="ID shown", max_length=200, required=False)

    prefix_id = "deliver"

    def __init__(self, *args: Any, staff: list[tuple[str, str, Any]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.prefix_id}_%s")
        super().__init__(*args, **kwargs)
        self.staff = staff
        self.fields["pickup_id_checked_by"].choices = [("", "—"), *[(pk, name) for pk, name, _ in staff]]

    def evidence(self) -> service.Evidence:
        data = self.cleaned_data
        checker = next((user for pk, _, user in self.staff if pk == data["pickup_id_checked_by"]), None)
        return service.Evidence(
            method=data["method"],
            destination=data["destination"],
            fax_confirmation=data["fax_confirmation"],
            mail_tracking_number=data["mail_tracking_number"],
            pickup_id_checked_by=checker,
            pickup_id_description=data["pickup_id_description"],
        )


class ResendForm(DeliveryForm):
    prefix_id = "resend"
    resend_of = forms.ChoiceField(label="Delivery being repeated")
    reason = forms.ChoiceField(label="Why it is sent again", choices=[("", "—"), *ResendReason.choices])
    note = forms.CharField(label="Note", max_length=300, required=False)

    def __init__(self, *args: Any, deliveries: list[Delivery], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["resend_of"].choices = [
            (str(d.pk), f"{d.delivered_at:%b %-d, %Y}: {d.get_method_display()} to {d.destination}") for d in deliveries
        ]
