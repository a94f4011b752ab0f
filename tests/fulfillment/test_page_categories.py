"""Sensitive categories per page (fulfillment.documents.release_document_pages_tag) and consents recorded after
validation (intake.authorizations.consent_record): one HIV page of a discharge summary needs its consent only while it
goes out, and a consent for a category found in the records later can be recorded at any time while the request is
open."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fulfillment import documents as docs
from fulfillment import gate, packets, qc
from fulfillment.choices import ReleaseAction
from intake.authorizations import consent_record
from intake.models import IntakeReview
from roi.errors import ServiceError
from tests import factories
from tests.fulfillment.helpers import authorization_on_file, document, packet, pass_qc
from workflow.choices import RequestState, SensitiveCategory

pytestmark = pytest.mark.usefixtures("media")

HIV = SensitiveCategory.HIV


def _verdict(rr):
    current = qc.current_packet(tenant=rr.tenant, record_request=rr)
    return gate.release_verdict(tenant=rr.tenant, record_request=rr, packet=current, action=ReleaseAction.DELIVER)


def _codes(rr) -> set[str]:
    return {r.code for r in _verdict(rr).refusals}


@pytest.fixture
def summary(request_in_state, alice):
    """A third-party request on a valid authorization, in fulfillment, with a three-page discharge summary whose
    second page is an HIV result."""
    rr = request_in_state(RequestState.IN_FULFILLMENT, assignee=alice, delivery_destination="(312) 555-0199")
    authorization_on_file(rr)
    doc = document(rr, page_count=3, original_name="discharge-summary.pdf")
    docs.release_document_pages_tag(
        tenant=rr.tenant, actor=alice, document=doc, first_page=2, last_page=2, category=HIV
    )
    doc.refresh_from_db()
    return rr, doc


def test_a_tagged_page_needs_its_consent_only_while_it_goes_out(summary, alice, sam):
    rr, doc = summary
    packet(rr, builder=alice, documents=[doc])
    assert "CONSENT_MISSING_HIV" in _codes(rr)

    docs.page_exclusion_add(
        tenant=rr.tenant, actor=alice, document=doc, first_page=2, reason="sensitive_without_consent"
    )
    doc.refresh_from_db()
    assert docs.included_pages(doc) == [1, 3]
    packet(rr, builder=alice, documents=[doc], contents=[{"document": doc.pk, "pages": [1, 3]}], record_pages=2)
    pass_qc(rr, reviewer=sam)
    assert _verdict(rr).allowed  # the rest of the summary goes; the HIV page stays


def test_a_page_tagged_after_qc_voids_the_pass(request_in_state, alice, sam):
    rr = request_in_state(RequestState.IN_FULFILLMENT, assignee=alice, delivery_destination="(312) 555-0199")
    authorization_on_file(rr)
    doc = document(rr, page_count=3)
    packet(rr, builder=alice, documents=[doc])
    pass_qc(rr, reviewer=sam)
    assert _verdict(rr).allowed
    docs.release_document_pages_tag(
        tenant=rr.tenant, actor=alice, document=doc, first_page=3, last_page=None, category=HIV
    )
    assert {"CHANGED_SINCE_QC", "CONSENT_MISSING_HIV"} <= _codes(rr)


def test_a_part2_page_puts_the_redisclosure_notice_on_the_packet_only_while_it_goes_out(summary, alice):
    rr, doc = summary
    docs.release_document_confirm_patient(tenant=rr.tenant, actor=alice, document=doc)
    docs.release_document_pages_tag(
        tenant=rr.tenant, actor=alice, document=doc, first_page=3, last_page=3, category=SensitiveCategory.SUD_PART2
    )
    assert packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr).includes_part2
    docs.page_exclusion_add(
        tenant=rr.tenant, actor=alice, document=doc, first_page=3, reason="sensitive_without_consent"
    )
    rebuilt = packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr)
    assert (rebuilt.record_pages, rebuilt.includes_part2) == (2, False)


@pytest.mark.parametrize(
    ("first", "last", "category", "message"),
    [
        (4, None, HIV, "it has 3 pages"),
        (2, 1, HIV, "the first page or after it"),
        (1, 9, HIV, "the last page can be 3 at most"),
        (2, 2, HIV, "already marked with that category"),
        (1, 1, "gossip", "Choose the sensitive category"),
    ],
)
def test_a_tag_that_cannot_be_is_refused_and_nothing_changes(summary, alice, first, last, category, message):
    rr, doc = summary
    with pytest.raises(ServiceError, match=message):
        docs.release_document_pages_tag(
            tenant=rr.tenant, actor=alice, document=doc, first_page=first, last_page=last, category=category
        )
    doc.refresh_from_db()
    assert doc.page_categories == [{"first": 2, "last": 2, "category": HIV}]


def test_a_tag_removed_by_mistake_is_kept_in_the_history(summary, alice):
    rr, doc = summary
    docs.release_document_pages_untag(
        tenant=rr.tenant, actor=alice, document=doc, first_page=2, last_page=2, category=HIV
    )
    doc.refresh_from_db()
    assert doc.page_categories == []
    assert doc.history.first().history_user == alice
    assert doc.history.all()[1].page_categories == [{"first": 2, "last": 2, "category": HIV}]


def test_pages_are_tagged_and_untagged_from_the_request_page(summary, alice, client_for):
    rr, doc = summary
    client = client_for(alice)
    url = reverse("fulfillment:page-category-add", args=[rr.tracking_number, doc.pk])
    bad = client.post(url, {"first_page": "7", "category": "genetic"})
    assert bad.status_code == 400
    assert "page 7 is not in it" in bad.content.decode()
    assert client.post(url, {"first_page": "1", "last_page": "1", "category": "genetic"}).status_code == 302
    doc.refresh_from_db()
    assert {"first": 1, "last": 1, "category": "genetic"} in doc.page_categories
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Genetic testing" in page
    remove = reverse("fulfillment:page-category-remove", args=[rr.tracking_number, doc.pk])
    assert client.post(remove, {"first": "1", "last": "1", "category": "genetic"}).status_code == 302
    doc.refresh_from_db()
    assert doc.page_categories == [{"first": 2, "last": 2, "category": HIV}]


# --- A consent recorded after validation ---------------------------------------------------------------------------


def test_a_consent_found_after_validation_is_recorded_from_its_form_and_the_gate_stops_asking(summary, alice, sam):
    rr, doc = summary
    packet(rr, builder=alice, documents=[doc])
    assert "CONSENT_MISSING_HIV" in _codes(rr)
    consent = factories.IntakeDocumentFactory(request=rr, tenant=rr.tenant, kind="consent", original_name="hiv.pdf")
    review = consent_record(tenant=rr.tenant, actor=alice, record_request=rr, category=HIV, document=consent)
    assert HIV in review.consents_received
    assert review.history.first().history_user == alice
    pass_qc(rr, reviewer=sam)
    assert _verdict(rr).allowed


def test_a_consent_needs_its_signed_form_and_is_not_for_psychotherapy_notes(summary, alice, tenant_b):
    rr, _doc = summary
    with pytest.raises(ServiceError, match="Choose the document the consent is on"):
        consent_record(tenant=rr.tenant, actor=alice, record_request=rr, category=HIV, document=None)
    elsewhere = factories.IntakeDocumentFactory(tenant=tenant_b, kind="consent")
    with pytest.raises(ServiceError, match="Choose a document received with this request"):
        consent_record(tenant=rr.tenant, actor=alice, record_request=rr, category=HIV, document=elsewhere)
    mine = factories.IntakeDocumentFactory(request=rr, tenant=rr.tenant, kind="consent")
    with pytest.raises(ServiceError, match="authorization of their own"):
        consent_record(tenant=rr.tenant, actor=alice, record_request=rr, category="psychotherapy_notes", document=mine)
    assert HIV not in IntakeReview.objects.get(request=rr).consents_received


def test_a_consent_is_recorded_from_the_checklist_page_after_validation(summary, alice, client_for):
    rr, _doc = summary
    consent = factories.IntakeDocumentFactory(request=rr, tenant=rr.tenant, kind="consent")
    client = client_for(alice)
    page = client.get(reverse("intake:checklist", args=[rr.tracking_number])).content.decode()
    assert "Record a consent from its signed form" in page
    response = client.post(
        reverse("intake:consent-record", args=[rr.tracking_number]),
        {"category": HIV, "document": str(consent.pk)},
    )
    assert response.status_code == 302
    assert HIV in IntakeReview.objects.get(request=rr).consents_received
    missing = client.post(reverse("intake:consent-record", args=[rr.tracking_number]), {"category": "genetic"})
    assert missing.status_code == 400
