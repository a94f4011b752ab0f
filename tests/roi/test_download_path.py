"""Every file with PHI leaves through one audited path (roi/downloads.py): staff downloads are PhiDownloadView pages,
each writes exactly one access event through download_record, and a file that cannot be served writes none.

The guards below fail when a new view builds a file response of its own, sets a Content-Disposition of its own,
writes a download event another way, or adds a download route without a case here. Coverage that grows by itself,
like tests/test_tenant_isolation.py."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from fulfillment.models import Invoice
from intake.models import FailedIntake, InboundMessage, IntakeDocument, Letter
from roi import clock
from roi.choices import AccessAction
from roi.downloads import PhiDownloadView
from roi.errors import ServiceError
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory, ReleasePacketFactory
from workflow.views.downloads import RequestDownloadView

PDF = b"%PDF-1.4\n% download path\n"
DIGEST = hashlib.sha256(PDF).hexdigest()
ROOT = Path(settings.BASE_DIR)


# --- The source: one place builds a file response and writes a download event ----------------------------------

# Files that may build a file response or write download events, and why. Anything else is a view that forgot the
# path: it must build on roi.downloads.PhiDownloadView instead.
FILE_RESPONSE_ALLOWED = {
    "roi/downloads.py": "the path itself",
    "portal/views/downloads.py": "the link download: no staff user; its event is written with the link's use, in the "
    "same transaction, by fulfillment.delivery._use through download_record",
}
CONTENT_DISPOSITION_ALLOWED = {
    "roi/downloads.py": "the path itself",
    "reporting/views.py": "the dashboard's CSV tables: counts, an export event written by the view",
    "reporting/audit_views.py": "the audit pages' CSV exports, an export event written by each view",
    "workflow/views/queue.py": "the queue's CSV export, an export event with its row count written by the view",
}
DOWNLOAD_EVENT_ALLOWED = {
    "roi/downloads.py": "download_record, the one writer",
    "roi/choices.py": "where the action is defined",
}


def _app_sources() -> list[tuple[str, ast.Module]]:
    skipped = {"tests", "var", "node_modules", "migrations", "static", "templates", "locale", "docs"}
    sources = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if any(part.startswith(".") or part in skipped for part in parts[:-1]):
            continue
        sources.append(("/".join(parts), ast.parse(path.read_text(), filename=str(path))))
    return sources


def _named(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _offences(allowed: dict[str, str], found: Callable[[ast.AST], bool]) -> list[str]:
    return [
        f"{name}:{node.lineno}"  # type: ignore[attr-defined]  # the nodes `found` accepts are expressions, which have lineno
        for name, tree in _app_sources()
        if name not in allowed
        for node in ast.walk(tree)
        if found(node)
    ]


def test_the_source_scan_sees_the_apps():
    names = {name for name, _ in _app_sources()}
    assert {"roi/downloads.py", "intake/views/receive.py", "portal/views/downloads.py", "reporting/views.py"} <= names


def test_only_roi_downloads_builds_a_file_response():
    """A view that hands out a file calls neither phi_file_response nor FileResponse itself, nor imports them under
    another name: it builds on PhiDownloadView."""
    names = {"phi_file_response", "FileResponse"}

    def builds(node: ast.AST) -> bool:
        if isinstance(node, ast.Call):
            return _named(node.func) in names
        return isinstance(node, ast.alias) and node.name in names and node.asname is not None

    assert _offences(FILE_RESPONSE_ALLOWED, builds) == []


def test_no_view_sets_a_content_disposition_of_its_own():
    """An HttpResponse with an attachment header is a file response by another name."""

    def sets(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and str(node.value).lower() == "content-disposition"

    assert _offences(CONTENT_DISPOSITION_ALLOWED, sets) == []


def test_download_record_is_the_only_writer_of_download_events():
    def names_the_action(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "DOWNLOAD_DOCUMENT") or (
            isinstance(node, ast.Constant) and node.value == AccessAction.DOWNLOAD_DOCUMENT.value
        )

    assert _offences(DOWNLOAD_EVENT_ALLOWED, names_the_action) == []


# --- The routes: every download is a PhiDownloadView, and has a case below -----------------------------------------


def _download_routes(resolver: URLResolver | None = None, namespace: str = "", prefix: str = "") -> dict[str, tuple]:
    found: dict[str, tuple] = {}
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found |= _download_routes(entry, inner, route)
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "view_class", None)
            if view is not None and issubclass(view, PhiDownloadView):
                found[f"{namespace}{entry.name}"] = (route, view)
    return found


def test_every_download_route_is_a_case_here_and_a_request_file_passes_the_restricted_check():
    routes = _download_routes()
    assert set(routes) == set(CASES)
    for route, view in routes.values():
        assert not view.__abstractmethods__, f"{route}: {view.__name__} does not say {sorted(view.__abstractmethods__)}"
        if "<tracking:tracking_number>" in route:
            assert issubclass(view, RequestDownloadView), route


# --- The behaviour: one access event per download, none for a file not served ------------------------------------


@dataclass(frozen=True)
class Case:
    object_type: str
    detail: str
    names_request: bool = True
    back: str = "request"  # where a refused download returns: the request page, its documents, or a named page
    stored: str = "file"  # the stored file's field ("" for a report made on the spot)
    action: str = AccessAction.DOWNLOAD_DOCUMENT


CASES: dict[str, Case] = {
    "intake:document-download": Case("intake.IntakeDocument", "HIPAA authorization: auth.pdf"),
    "intake:letter-download": Case("intake.Letter", "Acknowledgment letter"),
    "intake:failed-intake-raw": Case(
        "intake.FailedIntake",
        "Failed intake message from fax-gateway@example.org",
        names_request=False,
        back="intake:failed-intake",
        stored="raw",
    ),
    "intake:inbound-message": Case(
        "intake.InboundMessage", "Message as received, from fax-gateway@example.org", stored="raw"
    ),
    "fulfillment:release-document-download": Case(
        "fulfillment.ReleaseDocument", "Retrieved record, Laboratory results: labs.pdf", back="documents"
    ),
    "fulfillment:packet-download": Case("fulfillment.ReleasePacket", "Release packet v1 (3 pages)", back="documents"),
    "fulfillment:invoice-pdf": Case("fulfillment.Invoice", "Invoice INV-A-000001"),
    "fulfillment:accounting-report": Case("fulfillment.ReleaseDocument", "accounting of disclosures report"),
    "reporting:monthly": Case(
        "",
        "monthly report {month}",
        names_request=False,
        back="reporting:dashboard",
        stored="",
        action=AccessAction.EXPORT,
    ),
}


@pytest.fixture
def world(tenant_a, media) -> dict[str, Any]:
    """A request of tenant A with one of every file a staff member can download, keyed by route."""
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    now = timezone.now()
    document = IntakeDocument(
        tenant=tenant_a, request=rr, kind="authorization", source="staff_upload", original_name="auth.pdf",
        content_type="application/pdf", size_bytes=len(PDF), sha256=DIGEST, uploaded_at=now,
    )  # fmt: skip
    document.file.save("auth.pdf", ContentFile(PDF), save=True)
    letter = Letter(tenant=tenant_a, request=rr, kind="acknowledgment", sha256=DIGEST, generated_at=now)
    letter.file.save("ack.pdf", ContentFile(PDF), save=True)
    invoice = Invoice(
        tenant=tenant_a, request=rr, kind="invoice", number="INV-A-000001", total_cents=1000, basis="test",
        issued_at=now, sha256=DIGEST,
    )  # fmt: skip
    invoice.file.save("invoice.pdf", ContentFile(PDF), save=True)
    failed = FailedIntake(
        tenant=tenant_a, source="email", reason="unreadable", received_at=now, sender="fax-gateway@example.org"
    )
    failed.raw.save("raw.eml", ContentFile(b"From: fax-gateway@example.org"), save=True)
    inbound = InboundMessage(
        tenant=tenant_a, message_key="k" * 64, channel="fax", sender="fax-gateway@example.org", received_at=now,
        request=rr,
    )  # fmt: skip
    inbound.raw.save("message.eml", ContentFile(b"From: fax-gateway@example.org"), save=True)
    number = rr.tracking_number
    objects = {
        "intake:document-download": document,
        "intake:letter-download": letter,
        "intake:failed-intake-raw": failed,
        "intake:inbound-message": inbound,
        "fulfillment:release-document-download": ReleaseDocumentFactory(
            request=rr, original_name="labs.pdf", record_type="lab"
        ),
        "fulfillment:packet-download": ReleasePacketFactory(request=rr, version=1),
        "fulfillment:invoice-pdf": invoice,
        "fulfillment:accounting-report": ReleaseDocumentFactory(
            request=rr, original_name="accounting-of-disclosures-1.pdf"
        ),
    }
    month = f"{timezone.localdate(clock.now(), timezone=tenant_a.tzinfo):%Y-%m}"
    urls = {
        "intake:document-download": reverse("intake:document-download", args=[number, document.pk]),
        "intake:letter-download": reverse("intake:letter-download", args=[number, letter.pk]),
        "intake:failed-intake-raw": reverse("intake:failed-intake-raw", args=[failed.pk]),
        "intake:inbound-message": reverse("intake:inbound-message", args=[number]),
        "reporting:monthly": f"{reverse('reporting:monthly')}?month={month}",
        **{
            route: reverse(route, args=[number, objects[route].pk])
            for route in (
                "fulfillment:release-document-download",
                "fulfillment:packet-download",
                "fulfillment:invoice-pdf",
                "fulfillment:accounting-report",
            )
        },
    }
    return {"rr": rr, "objects": objects, "urls": urls, "month": month}


def _back_url(case: Case, world: dict[str, Any]) -> str:
    detail = reverse("workflow:detail", args=[world["rr"].tracking_number])
    return {"request": detail, "documents": f"{detail}#release-documents"}.get(case.back) or reverse(case.back)


def _messages(response: Any) -> list[str]:
    return [message.message for message in get_messages(response.wsgi_request)]


def _spoil(world: dict[str, Any], route: str, spoil: Callable[[Path], None]) -> None:
    stored = getattr(world["objects"][route], CASES[route].stored)
    spoil(Path(stored.path))


@pytest.mark.parametrize("route", CASES)
def test_each_download_writes_exactly_one_access_event_saying_what_it_served(route, world, tenant_a, sam, client_for):
    case, rr = CASES[route], world["rr"]
    before = set(AccessEvent.objects.values_list("pk", flat=True))

    response = client_for(sam).get(world["urls"][route])

    assert response.status_code == 200
    assert b"".join(response.streaming_content)
    assert (response["Cache-Control"], response["X-Content-Type-Options"]) == ("no-store", "nosniff")
    event = AccessEvent.objects.exclude(pk__in=before).get()
    served = world["objects"].get(route)
    assert (event.tenant, event.actor, event.action, event.ip_address) == (tenant_a, sam, case.action, "127.0.0.1")
    assert (event.object_type, event.object_id) == (case.object_type, str(served.pk) if served else "")
    assert event.detail == case.detail.format(month=world["month"])
    assert (event.request_id, event.patient_id) == ((rr.pk, rr.patient_id) if case.names_request else (None, None))


STORED_FILE_ROUTES = [route for route, case in CASES.items() if case.stored == "file"]


@pytest.mark.parametrize("route", STORED_FILE_ROUTES)
def test_a_file_that_changed_on_disk_is_not_served_and_leaves_no_access_event(route, world, sam, client_for):
    _spoil(world, route, lambda path: path.write_bytes(b"%PDF-1.4\n% swapped\n"))

    response = client_for(sam).get(world["urls"][route])

    assert response.status_code == 302
    assert response["Location"] == _back_url(CASES[route], world)
    [message] = _messages(response)
    assert "does not match" in message
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("route", STORED_FILE_ROUTES)
def test_a_file_gone_from_disk_is_refused_with_a_message_and_leaves_no_access_event(route, world, sam, client_for):
    _spoil(world, route, Path.unlink)

    response = client_for(sam).get(world["urls"][route])

    assert response.status_code == 302
    assert response["Location"] == _back_url(CASES[route], world)
    [message] = _messages(response)
    assert "missing" in message
    assert not AccessEvent.objects.exists()


def test_a_failed_intake_message_gone_from_disk_answers_404_and_leaves_no_access_event(world, sam, client_for):
    _spoil(world, "intake:failed-intake-raw", Path.unlink)
    assert client_for(sam).get(world["urls"]["intake:failed-intake-raw"]).status_code == 404
    assert not AccessEvent.objects.exists()


def test_a_monthly_report_refused_for_a_future_month_leaves_no_access_event(world, sam, client_for):
    response = client_for(sam).get(f"{reverse('reporting:monthly')}?month=2999-01")
    assert (response.status_code, response["Location"]) == (302, reverse("reporting:dashboard"))
    assert _messages(response) == ["That month has not started yet."]
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("route", CASES)
def test_a_refusal_before_serving_sends_nothing_and_leaves_no_access_event(route, world, sam, client_for, monkeypatch):
    """before_serving is where the release gate checks released records: every download asks it, with the object
    it found, before opening the file; its refusal is shown on the page the download returns to."""
    asked: list[Any] = []

    def refuse(view: PhiDownloadView, request: Any, target: Any) -> None:
        asked.append(target)
        raise ServiceError("Held: no valid basis to release.")

    monkeypatch.setattr(PhiDownloadView, "before_serving", refuse)
    # A view with a check of its own (the release packet asks the release gate) is refused the same way.
    view_class = resolve(urlsplit(world["urls"][route]).path).func.view_class
    monkeypatch.setattr(view_class, "before_serving", refuse)

    response = client_for(sam).get(world["urls"][route])

    assert (response.status_code, response["Location"]) == (302, _back_url(CASES[route], world))
    assert _messages(response) == ["Held: no valid basis to release."]
    assert not AccessEvent.objects.exists()
    if route in world["objects"]:
        assert asked == [world["objects"][route]]
