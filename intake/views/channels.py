"""Inbound channels: the signed webhook that inbound-email providers post messages to, and the staff list of
messages that could not become requests (failed intakes), with their raw download and "mark resolved"."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from intake.documents import max_upload_bytes
from intake.ingest import failed_intake_resolve, ingest_message
from intake.models import FailedIntake
from roi import rls
from roi.downloads import PhiDownloadView, ServedFile
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import TenantViewMixin
from workflow.choices import Channel

# --- Webhook --------------------------------------------------------------------------------------------------

TIMESTAMP_HEADER = "X-OpenROI-Timestamp"
SIGNATURE_HEADER = "X-OpenROI-Signature"
# A signed call is accepted for 5 minutes; a replay within that window is caught by ingestion's idempotency.
MAX_CLOCK_SKEW_SECONDS = 300
# One answer for an unknown tenant, a tenant without a secret, a bad signature and a stale timestamp, so the
# endpoint does not tell a caller which tenant slugs exist.
REFUSED = {"detail": "Signature check failed."}
# Used when the tenant has no secret, so refusing takes the same work (and time) as checking a real signature.
_NO_SECRET = hashlib.sha256(b"openroi-no-webhook-secret").hexdigest()


def webhook_secret(tenant_slug: str) -> str | None:
    """The tenant's secret from settings.INBOUND_EMAIL_WEBHOOK_SECRETS (env "slug=secret,slug2=secret2")."""
    secret = getattr(settings, "INBOUND_EMAIL_WEBHOOK_SECRETS", {}).get(tenant_slug)
    return secret or None


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over "<timestamp>.<raw body>": what the provider sends in X-OpenROI-Signature."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def max_message_bytes() -> int:
    # A message carries its attachments in base64 (a third larger) plus headers and text: a message holding one
    # file at the document limit must still be accepted; documents.inspect_upload then checks each file.
    return max_upload_bytes() * 3 // 2


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is over `limit`. Read from the stream, not request.body, whose own limit
    (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) is meant for form posts and would refuse an ordinary fax."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def inbound_email(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """POST the raw RFC 822 message (Content-Type message/rfc822), signed; answers 202 with the outcome.

    No login: the provider authenticates with the tenant's shared secret. 400 without the signing headers, 413 over
    the size limit, 403 for anything that does not prove the secret (the same answer whatever failed).
    """
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    signature = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    if not timestamp or not signature:
        return JsonResponse(
            {"detail": f"Sign the message: send the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers."}, status=400
        )
    body = _read_body(request, max_message_bytes())
    if body is None:
        return JsonResponse({"detail": f"The message is over the {max_message_bytes()} byte limit."}, status=413)
    tenant = Tenant.objects.filter(slug=tenant_slug, is_active=True).first()
    secret = webhook_secret(tenant_slug) if tenant is not None else None
    expected = webhook_signature(secret or _NO_SECRET, timestamp, body)
    signature_ok = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
    try:
        fresh = abs(time.time() - int(timestamp)) <= MAX_CLOCK_SKEW_SECONDS
    except ValueError:
        fresh = False
    if tenant is None or secret is None or not signature_ok or not fresh:
        return JsonResponse(REFUSED, status=403)
    with rls.tenant_scope(tenant.pk):  # signed by the tenant's secret: the message is that tenant's
        result = ingest_message(tenant=tenant, raw=body, channel=Channel.EMAIL, source_label="webhook")
    # 202 for a failed message too: it is kept for staff (FailedIntake); the provider must not send it again.
    return JsonResponse({"status": result.status, "tracking_number": result.tracking_number}, status=202)


# --- Failed intakes -------------------------------------------------------------------------------------------


class FailedIntakeListView(TenantViewMixin, View):
    """Messages that could not become requests, newest first; unresolved ones unless ?show=all."""

    model = FailedIntake
    paginate_by = 50

    def get(self, request: HttpRequest) -> HttpResponse:
        show_all = request.GET.get("show") == "all"
        rows = self.get_queryset().select_related("resolved_by").order_by("-received_at", "-id")
        if not show_all:
            rows = rows.filter(resolved_at__isnull=True)
        page = Paginator(rows, self.paginate_by).get_page(request.GET.get("page"))
        return render(
            request,
            "intake/failed_intake.html",
            {
                "page": page,
                "show_all": show_all,
                "unresolved_count": self.get_queryset().filter(resolved_at__isnull=True).count(),
            },
        )


class FailedIntakeRawView(PhiDownloadView, View):
    """The message exactly as received, as an .eml file; every download is an access event (it may hold PHI). It
    belongs to no request yet, so its event names none."""

    model = FailedIntake

    def find(self, *, pk: int) -> FailedIntake:
        failed = self.get_queryset().filter(pk=pk).first()
        if failed is None:
            raise Http404("No such failed intake.")
        return failed

    def open_file(self, failed: FailedIntake) -> ServedFile:
        try:
            handle = failed.raw.open("rb")
        except FileNotFoundError:
            # A listed message gone from disk answers 404, as it always has (not the base view's message).
            raise Http404("The stored message is missing.") from None
        return ServedFile(
            content=handle,
            filename=f"failed-intake-{failed.pk}.eml",
            content_type="message/rfc822",
            obj=failed,
            detail=f"Failed intake message from {failed.sender or 'unknown sender'}",
        )

    def back(self, **kwargs: Any) -> HttpResponse:
        return redirect("intake:failed-intake")


class FailedIntakeResolveView(TenantViewMixin, View):
    model = FailedIntake
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        failed = self.get_queryset().filter(pk=pk).first()
        if failed is None:
            raise Http404("No such failed intake.")
        try:
            failed_intake_resolve(
                tenant=self.tenant, actor=request.user, failed_intake=failed, note=request.POST.get("note", "")
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Marked resolved.")
        return redirect("intake:failed-intake")


urlpatterns = [
    path("failed-intake/", FailedIntakeListView.as_view(), name="failed-intake"),
    path("failed-intake/<int:pk>/raw/", FailedIntakeRawView.as_view(), name="failed-intake-raw"),
    path("failed-intake/<int:pk>/resolve/", FailedIntakeResolveView.as_view(), name="failed-intake-resolve"),
    path("inbound/email/<slug:tenant_slug>/", inbound_email, name="inbound-email"),
]
