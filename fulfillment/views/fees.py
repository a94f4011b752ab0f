"""Pages and actions for fulfillment: fees. Estimates and invoices act from the request detail page (the fees
section of the fulfillment panel); the tenant's fulfillment settings (admins) and the fee rule table (staff) are
pages of their own. Fixed words come first, and every request route has "fees" after the tracking number, so no
route here takes another's path (roi/urls.py includes this app before workflow's "<tracking_number>/")."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views import View

from fulfillment import fees, invoices
from fulfillment.choices import FeeMethod, InvoiceKind
from fulfillment.forms.fees import FulfillmentPolicyForm, InvoiceIssueForm, PaymentForm, ReasonForm
from fulfillment.models import FeeRule, FulfillmentPolicy, Invoice
from fulfillment.policy import policy_for
from roi.audit import history_stamp
from roi.choices import Role
from roi.downloads import ServedFile
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow.choices import RequestorKind, RequestType
from workflow.views.base import RequestActionView
from workflow.views.downloads import RequestDownloadView

ADMIN_ROLES = frozenset({Role.ADMIN})


# --- Request actions (the fees section of the fulfillment panel) ------------------------------------------------


class FeeActionMixin(RequestActionView):
    """The invoice actions of the fees panel."""

    def get_invoice(self, tracking_number: str, pk: int) -> Invoice:
        try:
            return invoices.invoice_for_staff(tenant=self.tenant, tracking_number=tracking_number, pk=pk)
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
            invoice = invoices.invoice_issue(
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
            invoices.invoice_record_payment(
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
            invoices.invoice_waive(
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
            invoices.invoice_void(
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
            return invoices.invoice_for_staff(tenant=self.tenant, tracking_number=tracking_number, pk=pk)
        except Invoice.DoesNotExist:
            raise Http404("No such invoice") from None

    def open_file(self, invoice: Invoice) -> ServedFile:
        return ServedFile(
            content=invoices.invoice_open(invoice),
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
    path("<tracking:tracking_number>/fees/issue/", InvoiceIssueView.as_view(), name="fee-issue"),
    path("<tracking:tracking_number>/fees/<int:pk>/pay/", InvoicePaymentView.as_view(), name="invoice-pay"),
    path("<tracking:tracking_number>/fees/<int:pk>/waive/", InvoiceWaiveView.as_view(), name="invoice-waive"),
    path("<tracking:tracking_number>/fees/<int:pk>/void/", InvoiceVoidView.as_view(), name="invoice-void"),
    path("<tracking:tracking_number>/fees/<int:pk>/pdf/", InvoicePdfView.as_view(), name="invoice-pdf"),
]
