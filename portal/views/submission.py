"""Online submission pages: the form of one organisation, and the confirmation. Public: no staff login; an inactive or
unknown organisation is 404. The form works without scripts (the portal's CSP allows none), on a phone first."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from portal import accounts, verification
from portal.forms.submission import SubmissionForm
from portal.http import portal_page
from portal.models import RequestorAccount
from portal.submission import form_token_new, form_token_read, portal_request_submit, submission_for_token
from roi.errors import ServiceError
from roi.models import Tenant
from workflow.models import RecordRequest


def active_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug, is_active=True).first()
    if tenant is None:
        raise Http404
    return tenant


def _initial(tenant: Tenant, account: RequestorAccount | None) -> dict[str, str]:
    initial = {"form_token": form_token_new(tenant)}
    if account is not None:
        initial.update(
            requestor_name=account.name,
            requestor_organization=account.organization,
            requestor_email=account.email,
            requestor_phone=account.phone,
        )
    return initial


def _to_confirmation(request: HttpRequest, tenant: Tenant, record_request: RecordRequest) -> HttpResponse:
    verification.grant(request, record_request.pk)
    response = redirect("portal:submit-received", slug=tenant.slug, tracking_number=record_request.tracking_number)
    return verification.keep_grants(request, response)


@portal_page
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = active_tenant(slug)
    account = accounts.signed_in_account(request, tenant)
    if request.method != "POST":
        form = SubmissionForm(initial=_initial(tenant, account))
        return _form_page(request, tenant, form, account)
    nonce = form_token_read(tenant, request.POST.get("form_token", ""))
    if nonce is not None:
        earlier = submission_for_token(tenant=tenant, nonce=nonce)
        if earlier is not None:  # the same form again: back button, reload, double click
            return _to_confirmation(request, tenant, earlier.request)
    form = SubmissionForm(request.POST, request.FILES)
    if nonce is None:
        # Forged or a day old: nothing is created; the visitor checks the answers and sends the form again.
        form.is_valid()
        form.add_error(None, _("This form was open too long. Check your answers, choose the files again and send it."))
        form.data = form.data.copy()
        form.data["form_token"] = form_token_new(tenant)
        return _form_page(request, tenant, form, account, status=400)
    if not form.is_valid():
        return _form_page(request, tenant, form, account, status=400)
    try:
        result = portal_request_submit(
            tenant=tenant,
            form_nonce=nonce,
            data=form.cleaned_data,
            language=request.LANGUAGE_CODE,
            account=account,
        )
    except ServiceError as error:  # a rule of the intake service the form could not check: nothing was created
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _form_page(request, tenant, form, account, status=400)
    return _to_confirmation(request, tenant, result.record_request)


def _form_page(
    request: HttpRequest, tenant: Tenant, form: SubmissionForm, account: RequestorAccount | None, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "tenant": tenant,
        "portal_org_name": tenant.name,
        "portal_org_slug": tenant.slug,
        "account": account,
    }
    return render(request, "portal/submit.html", context, status=status)


@portal_page
def received(request: HttpRequest, slug: str, tracking_number: str) -> HttpResponse:
    """The confirmation: tracking number, the expected date, what happens next. Only for the browser that sent the
    request (or was verified for it); anyone else is asked to verify, as on the status page."""
    tenant = active_tenant(slug)
    record_request = (
        RecordRequest.objects.for_tenant(tenant)
        .select_related("requestor")
        .filter(tracking_number=tracking_number)
        .first()
    )
    if record_request is None or not verification.has_access(request, record_request.pk):
        return redirect(f"{reverse('portal:lookup')}?number={tracking_number[:40]}")
    context = {
        "tenant": tenant,
        "portal_org_name": tenant.name,
        "portal_org_slug": tenant.slug,
        "rr": record_request,
        # The organisation's calendar day, not the server's (UTC): a request sent at 9 pm in Los Angeles was
        # received that day there.
        "received_on": timezone.localdate(record_request.received_at, timezone=tenant.tzinfo),
        "status_url": request.build_absolute_uri(
            reverse("portal:status", kwargs={"tracking_number": record_request.tracking_number})
        ),
    }
    return verification.keep_grants(request, render(request, "portal/submit_received.html", context))
