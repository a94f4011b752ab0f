"""Forms of fees: the fees part of the fulfillment panel (estimate or invoice, payment, waiver, void) and the
tenant's fulfillment settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from fulfillment import fees
from fulfillment.choices import FeeMethod, InvoiceKind, PaymentMethod
from fulfillment.models import FulfillmentPolicy
from workflow.choices import DeliveryMethod

CENT = Decimal("0.01")

# --- Forms ----------------------------------------------------------------------------------------------------


class InvoiceIssueForm(forms.Form):
    kind = forms.ChoiceField(choices=InvoiceKind.choices, widget=forms.HiddenInput, required=False)
    pages = forms.IntegerField(
        min_value=0, max_value=100_000, required=False, help_text="Pages of records (an estimate may guess)."
    )
    delivery_method = forms.ChoiceField(
        choices=[("", "As the request says"), *DeliveryMethod.choices], required=False, label="Delivery"
    )
    purpose = forms.ChoiceField(
        choices=fees.FEE_PURPOSES,
        required=False,
        label="Purpose",
        help_text="Some states waive the fee for a disability claim.",
    )
    fee_method = forms.ChoiceField(
        choices=FeeMethod.choices,
        required=False,
        label="Fee method",
        help_text="The patient's own copy (45 CFR 164.524(c)(4)): offer the method that suits the request. An "
        "electronic copy is never priced per page.",
        error_messages={
            "invalid_choice": "Choose the fee method from the list (flat fee, actual cost or average cost)."
        },
    )

    def __init__(
        self, *args: Any, packet_pages: int | None = None, default_fee_method: str = "", **kwargs: Any
    ) -> None:
        """`default_fee_method` is the tenant's method where the patient rate applies (fees.default_fee_method);
        empty, the form asks no method: every other request follows the fee rule table."""
        kwargs.setdefault("prefix", "fee")
        super().__init__(*args, **kwargs)
        self.packet_pages = packet_pages
        if default_fee_method:
            self.fields["fee_method"].initial = default_fee_method
        else:
            del self.fields["fee_method"]
        if packet_pages is not None:
            # The built packet decides the count: shown, not asked.
            self.fields["pages"].disabled = True
            self.fields["pages"].initial = packet_pages
            self.fields["pages"].help_text = "From the latest release packet."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.packet_pages is None and data.get("pages") is None and "pages" not in self.errors:
            self.add_error("pages", "Enter the number of pages (no release packet is built yet).")
        return data


class PaymentForm(forms.Form):
    method = forms.ChoiceField(choices=[("", "Choose"), *PaymentMethod.choices], label="Paid by")
    reference = forms.CharField(
        max_length=100, required=False, help_text="Check number, card authorisation or transfer id."
    )
    paid_on = forms.DateField(label="Received on", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "pay")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("method") and data["method"] != PaymentMethod.CASH and not (data.get("reference") or "").strip():
            self.add_error("reference", "Enter the reference (check number, card authorisation or transfer id).")
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.TextInput)


MONEY_FIELDS = {
    "access_flat_fee_cents": "access_flat_fee",
    "access_per_page_cents": "access_per_page",
    "access_average_cents_electronic": "access_average_electronic",
    "access_supplies_cents": "access_supplies",
    "access_labour_cents_per_page": "access_labour_per_page",
    "access_labour_cents_electronic": "access_labour_electronic",
    "postage_cents": "postage",
    "accounting_fee_cents": "accounting_fee",
}


def _money(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, min_value=Decimal("0"), max_value=Decimal("9999.99"), decimal_places=2, help_text=help_text
    )


class FulfillmentPolicyForm(forms.ModelForm):
    """Every fulfillment setting of the tenant; amounts in dollars, stored in cents."""

    access_flat_fee = _money(
        "Flat fee ($)", "At most $6.50, everything included: electronic copies of electronic records."
    )
    access_per_page = _money(
        "Average cost per page, paper ($)", "Average-cost method: paper copies (mail, pickup, fax)."
    )
    access_average_electronic = _money(
        "Average cost per electronic copy ($)",
        "Average-cost method: one standard amount per electronic copy (download or email link), never per page.",
    )
    access_supplies = _money("Supplies per request ($)", "Actual-cost method: paper, CD or USB drive.")
    access_labour_per_page = _money("Copying labour per page, paper ($)", "Actual-cost method: paper copies.")
    access_labour_electronic = _money(
        "Labour per electronic copy ($)",
        "Actual-cost method: preparing an electronic copy (download or email link), per request, never per page.",
    )
    postage = _money("Postage ($)", "Added when records go by mail (the flat fee includes it).")
    accounting_fee = _money(
        "Second accounting within 12 months ($)",
        "Cost-based; charged only after the fee estimate tells the requestor of it (45 CFR 164.528(c)(2)). "
        "0: never charged. The first accounting in 12 months is always free.",
    )

    class Meta:
        model = FulfillmentPolicy
        fields = [
            "qc_two_person_rule",
            "retrieval_overdue_days",
            "download_link_days",
            "download_link_max_uses",
            "access_fee_method",
            "require_prepayment_third_party",
            "payment_instructions",
        ]
        labels = {
            "qc_two_person_rule": "Two-person QC",
            "retrieval_overdue_days": "Retrieval overdue after (days)",
            "download_link_days": "Download links work for (days)",
            "download_link_max_uses": "Downloads per link",
            "access_fee_method": "Right-of-access fee method (the usual one; staff may offer another)",
            "require_prepayment_third_party": "Third parties pay before release",
        }
        widgets = {"payment_instructions": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for model_field, form_field in MONEY_FIELDS.items():
            self.fields[form_field].initial = (Decimal(getattr(self.instance, model_field)) / 100).quantize(CENT)
        self.order_fields(
            [
                "qc_two_person_rule",
                "retrieval_overdue_days",
                "download_link_days",
                "download_link_max_uses",
                "access_fee_method",
                *MONEY_FIELDS.values(),
                "require_prepayment_third_party",
                "payment_instructions",
            ]
        )

    def clean_retrieval_overdue_days(self) -> int:
        value = self.cleaned_data["retrieval_overdue_days"]
        if not 1 <= value <= 90:
            raise forms.ValidationError("Between 1 and 90 days.")
        return value

    def clean_download_link_days(self) -> int:
        value = self.cleaned_data["download_link_days"]
        if not 1 <= value <= 90:
            raise forms.ValidationError("Between 1 and 90 days: a link to health records should not live longer.")
        return value

    def clean_download_link_max_uses(self) -> int:
        value = self.cleaned_data["download_link_max_uses"]
        if not 1 <= value <= 20:
            raise forms.ValidationError("Between 1 and 20 downloads.")
        return value

    def clean_access_flat_fee(self) -> Decimal:
        value = self.cleaned_data["access_flat_fee"]
        if value * 100 > fees.FLAT_FEE_CAP_CENTS:
            raise forms.ValidationError("The flat fee can be at most $6.50 (HHS guidance on 45 CFR 164.524(c)(4)).")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        method = data.get("access_fee_method")
        if method == FeeMethod.AVERAGE and data.get("access_per_page") == 0:
            self.add_error("access_per_page", "The average-cost method needs a cost per page (or choose No fee).")
        if method == FeeMethod.AVERAGE and data.get("access_average_electronic") == 0:
            # HHS access guidance: no per-page fee on an electronic copy, so the per-page amount cannot stand in.
            self.add_error(
                "access_average_electronic",
                "The average-cost method needs an amount per electronic copy too: a per-page amount is for paper "
                "copies only (or choose No fee).",
            )
        labour = ("access_supplies", "access_labour_per_page", "access_labour_electronic")
        if method == FeeMethod.ACTUAL and not any(data.get(f) for f in labour):
            self.add_error(
                "access_labour_per_page", "The actual-cost method needs labour or supplies (or choose No fee)."
            )
        if method == FeeMethod.FLAT and data.get("access_flat_fee") == 0:
            self.add_error("access_flat_fee", "Enter the flat fee (or choose No fee).")
        return data

    def save(self, commit: bool = True) -> FulfillmentPolicy:
        policy = super().save(commit=False)
        for model_field, form_field in MONEY_FIELDS.items():
            setattr(policy, model_field, int((self.cleaned_data[form_field] * 100).to_integral_value()))
        if commit:
            policy.save()
        return policy
