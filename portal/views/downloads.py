"""Secure download of delivered records: the page a download link opens, and the button on the status page.

A link (fulfillment.links) is not enough on its own: email scanners open links, and mailboxes get forwarded. So
opening a link (GET) shows a page and takes nothing; the records come on POST, after the visitor gave a verifier
(email, phone or the patient's date of birth, as for a status lookup, with the same failure counting and the same
answer whatever failed: portal.lookup.verifier_check), or when this browser already holds a grant for the request
(portal.verification). Each download takes one of the link's uses atomically and writes an access event saying how
the visitor was verified (fulfillment.links.download_link_use). A link that is unknown, expired, used up or
revoked gets one page: it no longer works, and how to get a new one.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from fulfillment import links
from fulfillment.models import DownloadLink
from portal import verification
from portal.forms.lookup import LookupForm
from portal.http import portal_page
from portal.lookup import verifier_check, wait_phrase
from roi import clock, rls
from roi.downloads import phi_file_response
from roi.models import Tenant
from workflow.deadlines import local_date
from workflow.models import RecordRequest

BY_VERIFIER = "portal requestor (verified by verifier)"
BY_GRANT = "portal requestor (verified earlier in this browser)"


class DownloadVerifyForm(forms.Form):
    """The verifier alone: the link already names the request. The same field as the status lookup's."""

    verifier = LookupForm.base_fields["verifier"]


def _gone(request: HttpRequest, tenant: Tenant | None) -> HttpResponse:
    """Unknown (404) or no longer working (410): the same page, which says neither which nor what it was for."""
    return render(
        request,
        "portal/download_gone.html",
        {"contact_tenant": tenant, "portal_org_name": tenant.name if tenant else ""},
        status=404 if tenant is None else 410,
    )


def _serve(request: HttpRequest, download: links.Download) -> HttpResponse:
    response = phi_file_response(download.content, filename=download.filename, content_type="application/pdf")
    return verification.keep_grants(request, response)


@portal_page
@require_http_methods(["GET", "POST"])
def download(request: HttpRequest, token: str) -> HttpResponse:
    """The page a download link opens. GET takes no use."""
    # The link's organisation, found from the token itself: the page runs in its row-level security scope.
    with rls.tenant_scope(rls.resolve_tenant(DownloadLink, links.token_digest(token or ""))):
        return _download(request, token)


def _download(request: HttpRequest, token: str) -> HttpResponse:
    link = links.link_for_download(token)
    if link is None or links.link_status(link, clock.now()) != "active":
        return _gone(request, link.tenant if link is not None else None)
    record_request = link.delivery.request
    granted = verification.has_access(request, record_request.pk)
    form = None if granted else DownloadVerifyForm(request.POST or None)
    failure, status, wait = "", 200, 0
    if request.method == "POST":
        label = BY_GRANT if granted else ""
        if form is not None and form.is_valid():
            result = verifier_check(
                record_request=record_request, verifier=form.cleaned_data["verifier"], http_request=request
            )
            if result.found:
                verification.grant(request, record_request.pk)
                label = BY_VERIFIER
            else:
                failure, status, wait = ("wait", 429, result.wait_seconds) if result.must_wait else ("no_match", 200, 0)
        if label:
            try:
                return _serve(request, links.download_link_use(token=token, http_request=request, actor_label=label))
            except links.LinkUnavailable as unavailable:  # the last use went to another download meanwhile
                return _gone(request, unavailable.tenant)
    context = {
        "form": form, "failure": failure, "retry_wait": wait_phrase(wait) if wait else "", "tenant": link.tenant,
        "portal_org_name": link.tenant.name, **_limits(link),
    }  # fmt: skip
    response = render(request, "portal/download.html", context, status=status)
    if wait:
        response["Retry-After"] = str(wait)
    return verification.keep_grants(request, response)


def _limits(link: DownloadLink) -> dict[str, object]:
    return {
        "expires_on": local_date(link.expires_at, link.tenant),
        "uses_left": max(0, link.max_uses - link.uses),
    }


@portal_page
@require_POST
def status_download(request: HttpRequest, tracking_number: str, link_id: int) -> HttpResponse:
    """The status page's "Download your records" button, for a browser verified for this request. A link of
    another request answers 404, like a missing one."""
    record_request = RecordRequest.objects.select_related("tenant").filter(tracking_number=tracking_number[:40]).first()
    if record_request is None or not verification.has_access(request, record_request.pk):
        return HttpResponseRedirect(f"{reverse('portal:lookup')}?number={tracking_number[:40]}")
    try:
        download = links.download_link_use_for_request(
            tenant=record_request.tenant,
            record_request=record_request,
            link_id=link_id,
            http_request=request,
            actor_label=BY_GRANT,
        )
    except links.LinkUnavailable as unavailable:
        return _gone(request, unavailable.tenant)
    return _serve(request, download)
