"""Every audited action writes exactly one access event of the right kind, naming the request and the patient where
there is one (docs/architecture.md, "Audit"). One case per route that shows or hands out PHI; grep `access_record(` for the list,
and for downloads the PhiDownloadView routes (tests/roi/test_download_path.py checks each of them in more detail).
The actions' own tests check their details; this module checks that none is forgotten."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from fulfillment.models import Invoice
from intake.models import FailedIntake, IntakeDocument, Letter
from roi.choices import AccessAction, Role
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory, ReleasePacketFactory

PDF = b"%PDF-1.4\n% coverage\n"
DIGEST = hashlib.sha256(PDF).hexdigest()


@dataclass(frozen=True)
class Case:
    route: str
    action: str
    names_request: bool = True
    names_patient: bool = True
    query: str = ""


@pytest.fixture
def world(tenant_a, media):
    """A request of tenant A with one of everything a staff member can open or download."""
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, requestor__email="paralegal@hartley.example.com", patient__date_of_birth=date(1980, 4, 2)
    )
    now = timezone.now()
    document = IntakeDocument(
        tenant=tenant_a, request=rr, kind="authorization", source="staff_upload", original_name="auth.pdf",
        content_type="application/pdf", size_bytes=len(PDF), sha256=DIGEST, uploaded_at=now, page_count=1,
    )  # fmt: skip
    document.file.save("auth.pdf", ContentFile(PDF), save=True)
    letter = Letter(tenant=tenant_a, request=rr, kind="acknowledgment", sha256=DIGEST, generated_at=now)
    letter.file.save("ack.pdf", ContentFile(PDF), save=True)
    invoice = Invoice(
        tenant=tenant_a, request=rr, kind="invoice", number="INV-A-000001", total_cents=1000, basis="test",
        issued_at=now, sha256=DIGEST,
    )  # fmt: skip
    invoice.file.save("invoice.pdf", ContentFile(PDF), save=True)
    failed = FailedIntake(tenant=tenant_a, source="email", reason="unreadable", received_at=now)
    failed.raw.save("raw.eml", ContentFile(b"From: someone"), save=True)
    return {
        "rr": rr,
        "document_id": document.pk,
        "letter_id": letter.pk,
        "fulfillment:invoice-pdf": invoice.pk,
        "intake:failed-intake-raw": failed.pk,
        "fulfillment:release-document-download": ReleaseDocumentFactory(request=rr).pk,
        "fulfillment:release-document-viewer": ReleaseDocumentFactory(request=rr).pk,
        "fulfillment:packet-download": ReleasePacketFactory(request=rr, version=1).pk,
        "fulfillment:patient-disclosures": rr.patient_id,
    }


STAFF_CASES = [
    Case("workflow:detail", AccessAction.VIEW_REQUEST),
    Case("workflow:timeline", AccessAction.VIEW_REQUEST),
    Case("workflow:panel", AccessAction.VIEW_REQUEST),  # each panel of the request page, as it loads when opened
    Case("intake:checklist", AccessAction.VIEW_REQUEST),
    Case("request-detail", AccessAction.VIEW_REQUEST),
    Case("workflow:queue", AccessAction.LIST_REQUESTS, names_request=False, names_patient=False),
    Case("workflow:queue_export", AccessAction.EXPORT, names_request=False, names_patient=False),
    Case("request-list", AccessAction.LIST_REQUESTS, names_request=False, names_patient=False),
    Case("fulfillment:retrieval-waiting", AccessAction.LIST_REQUESTS, names_request=False, names_patient=False),
    Case("exceptions:board", AccessAction.LIST_REQUESTS, names_request=False, names_patient=False),
    Case("exceptions:inbox", AccessAction.LIST_REQUESTS, names_request=False, names_patient=False),
    Case(
        "intake:patient-lookup",
        AccessAction.SEARCH_PATIENTS,
        names_request=False,
        names_patient=False,
        query="patient_q=MRN",
    ),
    Case("workflow:search", AccessAction.SEARCH_REQUESTS, names_request=False, names_patient=False, query="q={mrn}"),
    Case("request-list", AccessAction.SEARCH_REQUESTS, names_request=False, names_patient=False, query="q={mrn}"),
    Case("intake:document-download", AccessAction.DOWNLOAD_DOCUMENT),
    # The document viewer: one event when it opens; its page images, under the grant it issued, write none
    # (tests/intake/test_document_viewer.py).
    Case("intake:document-viewer", AccessAction.VIEW_DOCUMENT),
    Case("fulfillment:release-document-viewer", AccessAction.VIEW_DOCUMENT),
    Case("intake:letter-download", AccessAction.DOWNLOAD_DOCUMENT),
    Case("fulfillment:release-document-download", AccessAction.DOWNLOAD_DOCUMENT),
    Case("fulfillment:packet-download", AccessAction.DOWNLOAD_DOCUMENT),
    Case("fulfillment:invoice-pdf", AccessAction.DOWNLOAD_DOCUMENT),
    Case("intake:failed-intake-raw", AccessAction.DOWNLOAD_DOCUMENT, names_request=False, names_patient=False),
    Case("fulfillment:patient-disclosures", AccessAction.VIEW_PATIENT, names_request=False),
    Case("reporting:audit-request", AccessAction.VIEW_AUDIT),
    Case("reporting:audit-request", AccessAction.EXPORT, query="export=csv"),
    Case("reporting:audit-events", AccessAction.VIEW_AUDIT, names_request=False, names_patient=False),
    Case("reporting:audit-events", AccessAction.EXPORT, names_request=False, names_patient=False, query="export=csv"),
    Case("reporting:audit-patient", AccessAction.VIEW_AUDIT, names_request=False, query="mrn={mrn}"),
    Case("reporting:audit-patient", AccessAction.EXPORT, names_request=False, query="mrn={mrn}&export=csv"),
    Case("reporting:break-glass", AccessAction.VIEW_AUDIT, names_request=False, names_patient=False),
    Case("reporting:break-glass", AccessAction.EXPORT, names_request=False, names_patient=False, query="export=csv"),
]


def _url(case: Case, world: dict) -> str:
    """The route with this world's objects: the first set of kwargs the route takes."""
    for kwargs in _kwarg_sets(case, world):
        try:
            url = reverse(case.route, kwargs=kwargs)
        except NoReverseMatch:
            continue
        query = case.query.format(mrn=world["rr"].patient.mrn)
        return f"{url}?{query}" if query else url
    raise AssertionError(f"cannot build a URL for {case.route}")


def _kwarg_sets(case: Case, world: dict) -> list[dict]:
    number = world["rr"].tracking_number
    pk = world.get(case.route)
    return [
        {},
        {"tracking_number": number},
        {"tracking_number": number, "panel": "intake"},
        {"tracking_number": number, "document_id": world["document_id"]},
        {"tracking_number": number, "letter_id": world["letter_id"]},
        {"tracking_number": number, "pk": pk},
        {"pk": pk},
    ]


@pytest.mark.parametrize("case", STAFF_CASES, ids=lambda c: f"{c.route}[{c.query}]")
def test_each_staff_action_writes_one_access_event(case, world, tenant_a, client_for):
    admin = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    rr = world["rr"]
    before = AccessEvent.objects.count()
    response = client_for(admin).get(_url(case, world))
    assert response.status_code == 200, response.content[:300]
    if response.streaming:
        b"".join(response.streaming_content)
    assert AccessEvent.objects.count() == before + 1
    event = AccessEvent.objects.latest("id")
    assert (event.action, event.actor, event.tenant) == (case.action, admin, tenant_a)
    assert event.ip_address == "127.0.0.1"
    assert event.request_id == (rr.pk if case.names_request else None)
    assert event.patient_id == (rr.patient_id if case.names_patient else None)


def test_the_portal_lookup_and_status_page_write_one_access_event_each(world, tenant_a):
    rr = world["rr"]
    client = Client(REMOTE_ADDR="10.77.1.2")
    response = client.post(
        reverse("portal:lookup"), {"tracking_number": rr.tracking_number, "verifier": "paralegal@hartley.example.com"}
    )
    assert response.status_code == 302
    lookup = AccessEvent.objects.get()
    assert (lookup.action, lookup.request_id, lookup.patient_id, lookup.actor) == (
        AccessAction.PORTAL_LOOKUP,
        rr.pk,
        rr.patient_id,
        None,
    )
    assert client.get(response["Location"]).status_code == 200
    status = AccessEvent.objects.exclude(pk=lookup.pk).get()
    assert (status.action, status.request_id, status.patient_id, status.ip_address) == (
        AccessAction.PORTAL_STATUS_VIEW,
        rr.pk,
        rr.patient_id,
        "10.77.1.2",
    )


def test_writing_an_internal_note_writes_one_access_event(world, tenant_a, client_for):
    """A POST route, so not a Case: adding a note and editing it each write one event naming the request."""
    from workflow.models import RequestNote

    specialist = factories.MembershipFactory(tenant=tenant_a, user__username="nora", role=Role.SPECIALIST).user
    rr = world["rr"]
    client = client_for(specialist)
    before = AccessEvent.objects.count()
    assert client.post(reverse("workflow:note_add", args=[rr.tracking_number]), {"note": "One"}).status_code == 302
    note = RequestNote.objects.get()
    edit = reverse("workflow:note_edit", args=[rr.tracking_number, note.pk])
    assert client.post(edit, {"note": "Two"}).status_code == 302
    events = list(AccessEvent.objects.order_by("id")[before:])
    assert [(e.action, e.actor, e.request_id, e.patient_id) for e in events] == [
        (AccessAction.REQUEST_NOTE, specialist, rr.pk, rr.patient_id)
    ] * 2
