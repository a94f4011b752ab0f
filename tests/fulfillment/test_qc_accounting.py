"""Quality control of an accounting of disclosures (45 CFR 164.528): its scope is the accounting of the six years
before receipt, not record types or dates of service, so QC passes the report without either and keeps records
(or a report of another period) out of the release."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fulfillment import disclosures, qc
from fulfillment.models import ReleaseDocument
from tests.factories import complete_review
from tests.fulfillment.helpers import document, packet, show_released_pages
from workflow.choices import RecordType, RequestorKind, RequestState, RequestType

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def accounting(request_in_state):
    """An accounting request from the patient, in fulfillment, with no record types and no dates of service."""
    rr = request_in_state(
        RequestState.IN_FULFILLMENT,
        request_type=RequestType.ACCOUNTING,
        requestor__kind=RequestorKind.PATIENT,
        requestor__organization="",
        record_types=[],
        scope_date_from=None,
        scope_date_to=None,
    )
    complete_review(rr)  # the patient's identity verified at intake
    return rr


def _review(rr, actor):
    show_released_pages(rr, reviewer=actor)
    return qc.qc_review_record(tenant=rr.tenant, actor=actor, record_request=rr, confirmed=qc.CHECK_ORDER)


def _scope(rr) -> qc.QcCheck:
    checklist = qc.qc_checklist(
        tenant=rr.tenant, record_request=rr, packet=qc.current_packet(tenant=rr.tenant, record_request=rr)
    )
    return next(check for check in checklist.checks if check.code == qc.SCOPE)


def test_164_528_qc_passes_the_accounting_report_of_a_request_without_record_types(accounting, alice, sam):
    report = disclosures.accounting_report_generate(tenant=accounting.tenant, actor=alice, record_request=accounting)
    packet(accounting, builder=alice, documents=[report])
    start, end = disclosures.accounting_period(tenant=accounting.tenant, record_request=accounting)
    assert _scope(accounting).findings == (
        f"Requested: the accounting of disclosures from {start:%b %-d, %Y} to {end:%b %-d, %Y} (45 CFR 164.528(a)); "
        "no record types or dates of service.",
    )
    review = _review(accounting, sam)
    assert (review.outcome, review.failures) == ("passed", [])


def test_164_528_qc_keeps_records_out_of_an_accounting_release(accounting, alice, sam):
    report = disclosures.accounting_report_generate(tenant=accounting.tenant, actor=alice, record_request=accounting)
    records = document(accounting, record_type=RecordType.LAB, original_name="labs.pdf")
    packet(accounting, builder=alice, documents=[report, records])
    review = _review(accounting, sam)
    assert review.outcome == "failed"
    assert review.failures == [
        {
            "code": qc.SCOPE,
            "message": "labs.pdf: an accounting request releases the accounting of disclosures, not records; "
            "leave it out.",
        }
    ]


def test_164_528_qc_refuses_an_accounting_report_of_another_period(accounting, alice, sam):
    report = disclosures.accounting_report_generate(tenant=accounting.tenant, actor=alice, record_request=accounting)
    # The receipt date was corrected after the report was generated: the report covers the wrong six years.
    ReleaseDocument.objects.filter(pk=report.pk).update(
        service_date_from=report.service_date_from - timedelta(days=3),
        service_date_to=report.service_date_to - timedelta(days=3),
    )
    report.refresh_from_db()
    packet(accounting, builder=alice, documents=[report])
    review = _review(accounting, sam)
    assert [failure["code"] for failure in review.failures] == [qc.SCOPE]
    assert "not the six years before the request; generate the accounting again" in review.failures[0]["message"]
