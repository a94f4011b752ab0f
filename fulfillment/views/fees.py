"""Pages and actions for fulfillment: fees. Estimates and invoices act from the request detail page (the fees
section of the fulfillment panel); the tenant's fulfillment settings (admins) and the fee rule table (staff) are
pages of their own. Fixed words come first, and every request route has "fees" after the tracking number, so no
route here takes another's path (roi/urls.py includes this app before workflow's "<tracking_number>/")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views import View

from fulfillment import fees
from fulfillment.choices import FeeMethod, InvoiceKind, PaymentMethod
from fulfillment.models import FeeRule, FulfillmentPolicy, Invoice
from fulfillment.policy import policy_for
from roi.audit import history_stamp
from roi.choices import Role
from roi.downloads import ServedFile
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow.choices import DeliveryMethod, RequestorKind, RequestType
from workflow.downloads import RequestDownloadView
from workflow.views import RequestDetailView

ADMIN_ROLES = frozenset({Role.ADMIN})
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


# --- Request actions (the fees section of the fulfillment panel) ------------------------------------------------


class FeeActionMixin(RequestDetailView):
    http_method_names = ["post"]

    def get_invoice(self, tracking_number: str, pk: int) -> Invoice:
        try:
            return fees.invoice_for_staff(tenant=self.tenant, tracking_number=tracking_number, pk=pk)
        except Invoice.DoesNotExist:
            raise Http404("No such invoice") from None

    def failed(
        self, request: HttpRequest, tracking_number: str, error: ServiceError, **panel_forms: Any
    ) -> HttpResponse:
        messages.error(request, error.message)
        return self.render_detail(
            request, self.get_object(tracking_number), panel_forms=panel_forms, status=error.status_code
        )


class InvoiceIssueView(FeeActionMixin):
    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        packet_pages = fees.release_pages(tenant=self.tenant, record_request=record_request)
        method = fees.default_fee_method(tenant=self.tenant, record_request=record_request)
        form = InvoiceIssueForm(request.POST, packet_pages=packet_pages, default_fee_method=method)
        if not form.is_valid():
            messages.error(request, "Check the fee fields.")
            return self.render_detail(request, record_request, panel_forms={"fees_issue_form": form}, status=400)
        data = form.cleaned_data
        kind = data["kind"] or InvoiceKind.ESTIMATE  # Enter in a field submits the first button: the estimate
        try:
            invoice = fees.invoice_issue(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                kind=kind,
                pages=data["pages"],
                delivery_method=data["delivery_method"],
                purpose=data["purpose"],
                fee_method=data.get("fee_method") or None,
            )
        except ServiceError as error:
            error.on_form(form)
            return self.failed(request, tracking_number, error, fees_issue_form=form)
        messages.success(
            request, f"{invoice.get_kind_display()} {invoice.number} issued: {fees.dollars(invoice.total_cents)}."
        )
        return redirect("workflow:detail", tracking_number=tracking_number)


class InvoicePaymentView(FeeActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        invoice = self.get_invoice(tracking_number, pk)
        form = PaymentForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the payment fields.")
            return self.render_detail(
                request, self.get_object(tracking_number), panel_forms={"fees_pay_form": form}, status=400
            )
        try:
            fees.invoice_record_payment(
                tenant=self.tenant,
                actor=request.user,
                invoice=invoice,
                method=form.cleaned_data["method"],
                reference=form.cleaned_data["reference"],
                paid_on=form.cleaned_data["paid_on"],
            )
        except ServiceError as error:
            error.on_form(form)
            return self.failed(request, tracking_number, error, fees_pay_form=form)
        messages.success(request, f"Payment of invoice {invoice.number} recorded.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class InvoiceWaiveView(FeeActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        invoice = self.get_invoice(tracking_number, pk)
        form = ReasonForm(request.POST, prefix="waive")
        if not form.is_valid():
            messages.error(request, "Say why the fee is waived.")
            return self.render_detail(
                request, self.get_object(tracking_number), panel_forms={"fees_waive_form": form}, status=400
            )
        try:
            fees.invoice_waive(
                tenant=self.tenant, actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"]
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error, fees_waive_form=form)
        messages.success(request, f"Fee of invoice {invoice.number} waived.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class InvoiceVoidView(FeeActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        invoice = self.get_invoice(tracking_number, pk)
        form = ReasonForm(request.POST, prefix="void")
        bound = {"fees_void_form": form, "fees_void_target": invoice.pk}
        if not form.is_valid():
            messages.error(request, "Say why it is voided.")
            return self.render_detail(request, self.get_object(tracking_number), panel_forms=bound, status=400)
        try:
            fees.invoice_void(
                tenant=self.tenant, actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"]
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error, **bound)
        messages.success(request, f"{invoice.get_kind_display()} {invoice.number} voided.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class InvoicePdfView(RequestDownloadView):
    """The PDF of an estimate or invoice, as an attachment. Every download is an access event (it names the
    requestor and the request)."""

    def find(self, *, tracking_number: str, pk: int) -> Invoice:
        try:
            return fees.invoice_for_staff(tenant=self.tenant, tracking_number=tracking_number, pk=pk)
        except Invoice.DoesNotExist:
            raise Http404("No such invoice") from None

    def open_file(self, invoice: Invoice) -> ServedFile:
        return ServedFile(
            content=fees.invoice_open(invoice),
            filename=f"{invoice.request.tracking_number}-{invoice.number}.pdf",
            content_type="application/pdf",
            obj=invoice,
            request_id=invoice.request_id,
            patient_id=invoice.request.patient_id,
            detail=f"{invoice.get_kind_display()} {invoice.number}",
        )


# --- Tenant pages -------------------------------------------------------------------------------------------------


class FulfillmentSettingsView(TenantViewMixin, View):
    """The tenant's fulfillment settings (admins): QC, retrieval, download links, fees, prepayment. Every change is
    kept in the policy's history with the admin's name."""

    required_roles = ADMIN_ROLES

    def render_page(self, request: HttpRequest, form: FulfillmentPolicyForm, status: int = 200) -> HttpResponse:
        history = list(form.instance.history.select_related("history_user").order_by("-history_date")[:10])
        return render(request, "fulfillment/fees/settings.html", {"form": form, "history": history}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request, FulfillmentPolicyForm(instance=policy_for(self.tenant)))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = FulfillmentPolicyForm(request.POST, instance=policy_for(self.tenant))
        if not form.is_valid():
            messages.error(request, "The settings were not saved: check the messages below.")
            return self.render_page(request, form, status=400)
        with transaction.atomic():
            policy = form.save(commit=False)
            history_stamp(policy, request.user)
            policy.save()
        messages.success(request, "Fulfillment settings saved.")
        return redirect("fulfillment:settings")


def describe_fee(rule: FeeRule, policy: FulfillmentPolicy) -> str:
    """What the rule charges, in the words of the fee rule page."""
    if rule.waived:
        return "No fee" + (
            f" when the records are for a {rule.waiver_purpose.replace('_', ' ')}" if rule.waiver_purpose else ""
        )
    if rule.cost_based:
        method = FeeMethod(policy.access_fee_method)
        return (
            "Cost-based (the patient rate), no search or retrieval fee, no per-page fee on an electronic copy. "
            f"Your usual method: {method.label}; staff may offer another per request"
        )
    parts = []
    if rule.base_fee_cents:
        parts.append(f"{fees.dollars(rule.base_fee_cents)} retrieval and processing")
    start = 1
    for tier in rule.page_tiers:
        up_to = tier.get("up_to")
        span = f"pages {start}-{up_to}" if up_to else f"pages {start} on" if start > 1 else "every page"
        parts.append(f"{span}: {fees.dollars(int(tier['cents']))} a page")
        if up_to:
            start = int(up_to) + 1
    if rule.max_total_cents is not None:
        parts.append(f"at most {fees.dollars(rule.max_total_cents)}")
    return "; ".join(parts) or "No fee"


def describe_scope(rule: FeeRule) -> str:
    if rule.request_types == [RequestType.RIGHT_OF_ACCESS] and rule.requestor_kinds:
        # The two sides of Ciox Health v. Azar: the individual's own copy, and a patient's directive.
        kinds = set(rule.requestor_kinds)
        if kinds <= fees.INDIVIDUAL_REQUESTORS:
            return "Right of access: the patient's own copy (patient or personal representative)"
        if not kinds & fees.INDIVIDUAL_REQUESTORS:
            return "Right of access: a patient's directive sending a copy to a third party"
    types = ", ".join(RequestType(t).label for t in rule.request_types if t in RequestType) or "Every request type"
    if rule.requestor_kinds:
        types += " from " + ", ".join(
            RequestorKind(k).label.lower() for k in rule.requestor_kinds if k in RequestorKind
        )
    return types


class FeeRuleListView(TenantViewMixin, View):
    """The fee rule table (platform data, read-only): the rules for the organisation's state and the federal ones
    first, then every other state's. Seeded examples show as unverified until checked against the statute."""

    def get(self, request: HttpRequest) -> HttpResponse:
        policy = policy_for(self.tenant)
        ours, others = [], []
        for rule in FeeRule.objects.filter(is_active=True).order_by("jurisdiction", "id"):
            row = (rule, describe_scope(rule), describe_fee(rule, policy))
            (ours if rule.jurisdiction in (fees.FEDERAL, self.tenant.jurisdiction) else others).append(row)
        context = {"ours": ours, "others": others, "jurisdiction": self.tenant.get_jurisdiction_display()}
        return render(request, "fulfillment/fees/fee_rules.html", context)


urlpatterns: list[URLPattern] = [
    path("fulfillment/settings/", FulfillmentSettingsView.as_view(), name="settings"),
    path("fulfillment/fee-rules/", FeeRuleListView.as_view(), name="fee-rules"),
    path("<str:tracking_number>/fees/issue/", InvoiceIssueView.as_view(), name="fee-issue"),
    path("<str:tracking_number>/fees/<int:pk>/pay/", InvoicePaymentView.as_view(), name="invoice-pay"),
    path("<str:tracking_number>/fees/<int:pk>/waive/", InvoiceWaiveView.as_view(), name="invoice-waive"),
    path("<str:tracking_number>/fees/<int:pk>/void/", InvoiceVoidView.as_view(), name="invoice-void"),
    path("<str:tracking_number>/fees/<int:pk>/pdf/", InvoicePdfView.as_view(), name="invoice-pdf"),
]
