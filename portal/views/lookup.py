"""Portal pages: status lookup, the signed status link, the status page. Public: no staff login, no tenant
middleware; what a visitor may see comes from portal.verification."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from intake.status_links import status_link_read
from portal import verification
from portal.forms.lookup import LookupForm, UploadForm
from portal.http import LANGUAGE_CODES, portal_page
from portal.lookup import lookup as lookup_check
from portal.lookup import wait_phrase
from portal.status import PortalStatus, portal_status, status_facts, status_from_facts
from portal.uploads import portal_upload
from roi import rls
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.models import Tenant
from workflow.models import RecordRequest


def _granted_request(request: HttpRequest, tracking_number: str) -> RecordRequest | None:
    record_request = (
        RecordRequest.objects.select_related("tenant", "patient").filter(tracking_number=tracking_number).first()
    )
    if record_request is None or not verification.has_access(request, record_request.pk):
        return None
    return record_request


@portal_page
@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    """Tracking number and verifier. Every failure gets the same answer (portal.lookup)."""
    form = LookupForm(request.POST or None, initial={"tracking_number": request.GET.get("number", "")[:40]})
    failure, wait = "", 0
    if request.method == "POST" and form.is_valid():
        result = lookup_check(
            tracking_number=form.cleaned_data["tracking_number"],
            verifier=form.cleaned_data["verifier"],
            http_request=request,
        )
        if result.found:
            verification.grant(request, result.record_request.pk)
            response = redirect("portal:status", tracking_number=result.record_request.tracking_number)
            return verification.keep_grants(request, response)
        failure, wait = ("wait", result.wait_seconds) if result.must_wait else ("no_match", 0)
    organisation = _organisation(request.GET.get("org", ""))
    context = {
        "form": form,
        "failure": failure,
        "retry_wait": wait_phrase(wait) if wait else "",
        "organisation": organisation,
        "portal_org_name": organisation.name if organisation else "",
        "portal_org_slug": organisation.slug if organisation else "",
        # Without an organisation in the link: where to submit, when the portal serves one organisation or several.
        "organisations": [] if organisation else list(Tenant.objects.filter(is_active=True).order_by("name")[:20]),
    }
    response = render(request, "portal/lookup.html", context, status=429 if wait else 200)
    if wait:
        response["Retry-After"] = str(wait)
    return response


def _organisation(slug: str) -> Tenant | None:
    """The organisation a link to the lookup page names (`?org=<slug>`, from its submission pages and letters):
    the page shows its name and where to send it a request. An unknown slug is simply no organisation."""
    if not slug or len(slug) > 50:
        return None
    return Tenant.objects.filter(slug=slug, is_active=True).first()


@portal_page
def status_link(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link from a letter or email: opens the status page without typing anything."""
    tracking_number = status_link_read(token)
    with rls.tenant_scope(rls.resolve_tenant(RecordRequest, tracking_number or "")):
        return _status_link(request, tracking_number)


def _status_link(request: HttpRequest, tracking_number: str | None) -> HttpResponse:
    record_request = (
        RecordRequest.objects.only("id", "tenant_id", "patient_id", "tracking_number")
        .filter(tracking_number=tracking_number)
        .first()
        if tracking_number
        else None
    )
    if record_request is None:
        return render(request, "portal/link_expired.html", status=404)
    verification.requestor_access_record(
        http_request=request,
        record_request=record_request,
        action=AccessAction.PORTAL_LOOKUP,
        detail="Status opened with the signed link from a letter or email",
        who="portal requestor (signed link)",
    )
    verification.grant(request, record_request.pk)
    response = redirect("portal:status", tracking_number=record_request.tracking_number)
    return verification.keep_grants(request, response)


def _ask_for_verifier(tracking_number: str) -> HttpResponse:
    """Not verified in this browser (or no such request): ask for the verifier, saying nothing about the number."""
    return HttpResponseRedirect(f"{reverse('portal:lookup')}?number={tracking_number[:40]}")


@portal_page
def status(request: HttpRequest, tracking_number: str) -> HttpResponse:
    """The status page: one query for every fact on it (portal.status.STATUS_SQL) and the access event."""
    facts = status_facts(tracking_number[:40])
    if facts is None or not verification.has_access(request, facts["id"]):
        return _ask_for_verifier(tracking_number)
    return _status_page(request, status_from_facts(facts), UploadForm())


def _status_page(request: HttpRequest, current: PortalStatus, upload_form: UploadForm, status: int = 200):
    verification.requestor_access_record(
        http_request=request,
        record_request=current.record_request,
        action=AccessAction.PORTAL_STATUS_VIEW,
        detail=f"Status page: {current.phase}",
    )
    context = {
        "status": current,
        "portal_org_name": current.tenant.name,
        "portal_org_slug": current.tenant.slug,
        "upload_form": upload_form,
    }
    response = render(request, "portal/status.html", context, status=status)
    return verification.keep_grants(request, response)


@portal_page
@require_POST
def upload(request: HttpRequest, tracking_number: str) -> HttpResponse:
    """While action is needed: the requestor's document joins the request and goes back to staff."""
    record_request = _granted_request(request, tracking_number)
    if record_request is None:
        return _ask_for_verifier(tracking_number)
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            portal_upload(
                record_request=record_request,
                uploaded_file=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                note=form.cleaned_data["note"],
                http_request=request,
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else "file", str(error))
        else:
            response = redirect(f"{reverse('portal:status', args=[tracking_number])}?uploaded=1#main")
            return verification.keep_grants(request, response)
    return _status_page(request, portal_status(record_request), form, status=400)


@portal_page
@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    """Forget every request this browser was verified for (on a shared computer)."""
    return verification.forget(redirect("portal:lookup"))


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The language switch: a cookie, then back to the page the visitor was on."""
    code = request.POST.get("language", "")
    if code not in LANGUAGE_CODES:
        raise Http404
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("portal:lookup")
    response = HttpResponseRedirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=365 * 24 * 3600,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response
