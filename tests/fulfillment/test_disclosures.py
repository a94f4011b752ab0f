"""Accounting of disclosures (45 CFR 164.528): which releases are accountable, the entry a delivery writes, the six-year
window, suspensions, summarised repeats, and the report PDF."""

from __future__ import annotations

import io
import subprocess
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from fulfillment import disclosures
from fulfillment.choices import DisclosurePurpose, ExclusionReason
from fulfillment.models import Disclosure, ReleaseDocument
from intake.models import IntakeReview
from roi import clock
from roi.errors import ServiceError
from tests import factories
from tests.fulfillment.factories import DeliveryFactory, ReleaseDocumentFactory
from tests.fulfillment.pdfs import pdf_texts
from workflow.choices import RecordType, RequestorKind, RequestState, RequestType

P = DisclosurePurpose
K = RequestorKind
T = RequestType


# --- The table ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "kind", "legal_document", "purpose"),
    [
        (T.RIGHT_OF_ACCESS, K.PATIENT, "", None),
        (T.RIGHT_OF_ACCESS, K.ATTORNEY, "", None),  # a patient's directive to a third party
        (T.AUTHORIZATION, K.GOVERNMENT, "", None),  # SSA with a signed authorization: not accountable
        (T.AUTHORIZATION, K.INSURER, "", None),
        (T.CONTINUITY_OF_CARE, K.PROVIDER, "", None),
        (T.ACCOUNTING, K.PATIENT, "", None),
        (T.LEGAL, K.ATTORNEY, "court_order", P.COURT_ORDER),
        (T.LEGAL, K.ATTORNEY, "subpoena", P.SUBPOENA),
        (T.LEGAL, K.GOVERNMENT, "administrative", P.OTHER_REQUIRED_BY_LAW),
        (T.LEGAL, K.ATTORNEY, "", P.OTHER_REQUIRED_BY_LAW),
        (T.OTHER, K.GOVERNMENT, "", P.OTHER_REQUIRED_BY_LAW),
        (T.OTHER, K.PATIENT, "", None),
        (T.OTHER, K.PERSONAL_REPRESENTATIVE, "", None),
        (T.OTHER, K.ATTORNEY, "", None),
        (T.OTHER, K.PROVIDER, "", None),
    ],
)
def test_the_accountability_table(request_type, kind, legal_document, purpose):
    rule = disclosures.accountability_rule(
        request_type=request_type, requestor_kind=kind, legal_document_type=legal_document
    )
    assert rule.accountable is (purpose is not None)
    assert rule.purpose == (purpose or "")
    assert rule.citation.startswith("45 CFR 164.5")


def test_every_request_type_and_requestor_kind_has_a_rule():
    for request_type in T.values:
        for kind in K.values:
            assert disclosures.accountability_rule(request_type=request_type, requestor_kind=kind)


# --- The entry a delivery writes -----------------------------------------------------------------------------------


def _delivered(tenant, request_type, kind, legal_document="", **delivery_fields):
    rr = factories.RecordRequestFactory(tenant=tenant, request_type=request_type, requestor__kind=kind)
    if legal_document:
        IntakeReview.objects.create(tenant=tenant, request=rr, legal_document_type=legal_document)
    document = ReleaseDocumentFactory(
        request=rr,
        record_type=RecordType.LAB,
        page_count=4,
        service_date_from=date(2025, 1, 5),
        service_date_to=date(2025, 2, 1),
    )
    return DeliveryFactory(
        packet__request=rr,
        packet__record_pages=4,
        packet__contents=[{"document": document.pk, "pages": [1, 2, 3, 4]}],
        **delivery_fields,
    )


def test_a_court_order_release_writes_the_disclosure(media, tenant_a, alice):
    delivery = _delivered(tenant_a, T.LEGAL, K.ATTORNEY, "court_order")
    disclosure = disclosures.disclosure_for_delivery(tenant=tenant_a, actor=alice, delivery=delivery)
    assert disclosure.purpose == P.COURT_ORDER
    assert disclosure.patient == delivery.request.patient
    assert disclosure.delivery == delivery
    assert disclosure.disclosed_on == delivery.delivered_at.astimezone(tenant_a.tzinfo).date()
    assert "Hartley & Moss LLP" in disclosure.recipient_name
    assert "100 Main Street" in disclosure.recipient_address
    assert "Laboratory results" in disclosure.description
    assert "Jan 5, 2025 to Feb 1, 2025" in disclosure.description
    assert "(4 pages)" in disclosure.description
    assert "164.512(e)(1)(i)" in disclosure.purpose_statement
    # Idempotent: the deliver service may call twice (a retry); one row.
    assert disclosures.disclosure_for_delivery(tenant=tenant_a, actor=alice, delivery=delivery) == disclosure
    assert Disclosure.objects.count() == 1


def test_an_authorized_release_writes_none(media, tenant_a, alice):
    delivery = _delivered(tenant_a, T.AUTHORIZATION, K.GOVERNMENT)
    assert disclosures.disclosure_for_delivery(tenant=tenant_a, actor=alice, delivery=delivery) is None
    assert not Disclosure.objects.exists()


def test_a_resend_repeats_the_disclosure_unless_it_adds_records(media, tenant_a, alice):
    first = _delivered(tenant_a, T.LEGAL, K.ATTORNEY, "subpoena")
    disclosures.disclosure_for_delivery(tenant=tenant_a, actor=alice, delivery=first)
    again = DeliveryFactory(packet=first.packet, resend_of=first, resend_reason="not_received")
    assert disclosures.disclosure_for_delivery(tenant=tenant_a, actor=alice, delivery=again) is None
    more = DeliveryFactory(packet=first.packet, resend_of=first, resend_reason="additional_records")
    assert disclosures.disclosure_for_delivery(tenant=tenant_a, actor=alice, delivery=more) is not None
    assert Disclosure.objects.count() == 2


def test_another_tenants_delivery_is_refused(media, tenant_a, tenant_b, alice):
    delivery = _delivered(tenant_b, T.LEGAL, K.ATTORNEY, "subpoena")
    with pytest.raises(ServiceError):
        disclosures.disclosure_for_delivery(tenant=tenant_a, actor=alice, delivery=delivery)


# --- Recording and correcting ----------------------------------------------------------------------------------


def _disclosure(patient, on, recipient="State Department of Health", purpose=P.PUBLIC_HEALTH, **extra):
    return Disclosure.objects.create(
        tenant=patient.tenant,
        patient=patient,
        disclosed_on=on,
        recipient_name=recipient,
        description=extra.pop("description", "Immunization record"),
        purpose=purpose,
        recorded_at=clock.now(),
        **extra,
    )


def test_staff_record_a_public_health_report_and_correct_it_as_a_new_entry(tenant_a, alice, sam):
    """A disclosure is a record of fact (roi/records.py): the correction is a new entry pointing at the one it
    corrects, which stays as it was and leaves the accounting."""
    patient = factories.PatientFactory(tenant=tenant_a)
    values = {
        "disclosed_on": date(2025, 3, 1),
        "recipient_name": "County Health Department",
        "recipient_address": "",
        "description": "Reportable disease notification",
        "purpose": P.PUBLIC_HEALTH,
        "purpose_statement": "",
    }
    disclosure = disclosures.disclosure_record(tenant=tenant_a, actor=alice, patient=patient, **values)
    corrected = disclosures.disclosure_correct(
        tenant=tenant_a,
        actor=sam,
        disclosure=disclosure,
        reason="Wrong date",
        **{**values, "disclosed_on": date(2025, 3, 2)},
    )
    assert corrected.pk != disclosure.pk
    assert (corrected.disclosed_on, corrected.corrects, corrected.correction_reason) == (
        date(2025, 3, 2),
        disclosure,
        "Wrong date",
    )
    assert corrected.recorded_by == sam
    assert corrected.history.get().history_change_reason == "Wrong date"
    disclosure.refresh_from_db()
    assert disclosure.disclosed_on == date(2025, 3, 1)  # the original stays as recorded
    period = {"period_end": date(2025, 12, 1), "as_of": date(2025, 12, 1)}
    entries = disclosures.accounting_entries(tenant=tenant_a, patient=patient, **period)
    assert [entry.first.pk for entry in entries] == [corrected.pk]  # only the newest version counts

    with pytest.raises(ServiceError, match="corrected already"):
        disclosures.disclosure_correct(tenant=tenant_a, actor=alice, disclosure=disclosure, reason="Again", **values)

    disclosures.disclosure_correct(
        tenant=tenant_a, actor=alice, disclosure=corrected, reason="Wrong patient", entered_in_error=True
    )
    assert Disclosure.objects.filter(pk=disclosure.pk).exists()  # kept, not deleted
    assert disclosures.accounting_entries(tenant=tenant_a, patient=patient, **period) == []


def test_a_disclosure_for_treatment_cannot_be_recorded(tenant_a, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    with pytest.raises(ServiceError) as error:
        disclosures.disclosure_record(
            tenant=tenant_a, actor=alice, patient=patient, disclosed_on=date(2025, 3, 1),
            recipient_name="Dr. Who", description="Notes", purpose="treatment",
        )  # fmt: skip
    assert error.value.field == "purpose"


# --- Suspensions -----------------------------------------------------------------------------------------------


def _suspend(patient, actor, oral, starts, ends, agency="State Department of Health"):
    return disclosures.suspension_record(
        tenant=patient.tenant, actor=actor, patient=patient, agency=agency,
        statement="An accounting would impede our investigation.", oral=oral, starts_on=starts, ends_on=ends,
    )  # fmt: skip


def test_an_oral_suspension_lasts_at_most_thirty_days(tenant_a, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    start = date(2026, 1, 1)
    assert _suspend(patient, alice, True, start, start + timedelta(days=30)).oral
    with pytest.raises(ServiceError) as error:
        _suspend(patient, alice, True, start, start + timedelta(days=31))
    assert "at most 30 days" in error.value.message
    assert error.value.field == "ends_on"
    assert _suspend(patient, alice, False, start, start + timedelta(days=180)).ends_on == date(2026, 6, 30)


def test_disclosures_to_a_suspended_agency_are_left_out_while_it_is_active_and_listed_after(tenant_a, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, date(2025, 6, 1), recipient="STATE DEPARTMENT OF HEALTH.")
    _disclosure(patient, date(2025, 7, 1), recipient="Springfield Police", purpose=P.LAW_ENFORCEMENT)
    _suspend(patient, alice, False, date(2026, 1, 1), date(2026, 3, 31))

    def recipients(as_of):
        entries = disclosures.accounting_entries(
            tenant=tenant_a, patient=patient, period_end=date(2026, 1, 10), as_of=as_of
        )
        return [e.first.recipient_name for e in entries]

    assert recipients(date(2026, 2, 1)) == ["Springfield Police"]
    assert recipients(date(2026, 3, 31)) == ["Springfield Police"]
    assert recipients(date(2026, 4, 1)) == ["STATE DEPARTMENT OF HEALTH.", "Springfield Police"]
    assert recipients(date(2025, 12, 31)) == ["STATE DEPARTMENT OF HEALTH.", "Springfield Police"]


# --- The six-year window and repeats ------------------------------------------------------------------------------


def test_the_six_year_window_edges(tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    end = date(2026, 3, 15)
    _disclosure(patient, date(2020, 3, 14), recipient="Too old")
    _disclosure(patient, date(2020, 3, 15), recipient="First day")
    _disclosure(patient, end, recipient="Day of the request")
    _disclosure(patient, end + timedelta(days=1), recipient="After the request")
    entries = disclosures.accounting_entries(tenant=tenant_a, patient=patient, period_end=end, as_of=end)
    assert [e.first.recipient_name for e in entries] == ["First day", "Day of the request"]


def test_the_window_of_a_leap_day_reaches_back_to_february_28():
    assert disclosures.window_start(date(2028, 2, 29)) == date(2022, 2, 28)


def test_the_window_ends_on_the_receipt_day_in_the_tenant_calendar(tenant_a):
    # 02:00 UTC on March 16 is still March 15 in Los Angeles (tenant A).
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, received_at=datetime(2026, 3, 16, 2, 0, tzinfo=ZoneInfo("UTC"))
    )
    assert disclosures.accounting_period(tenant=tenant_a, record_request=rr) == (date(2020, 3, 15), date(2026, 3, 15))


def test_repeated_disclosures_to_one_recipient_for_one_purpose_are_summarised(tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    for month in (2, 5, 8):
        _disclosure(patient, date(2025, month, 1), recipient="State  Cancer Registry")
    _disclosure(patient, date(2025, 4, 1), recipient="state cancer registry", purpose=P.HEALTH_OVERSIGHT)
    entries = disclosures.accounting_entries(
        tenant=tenant_a, patient=patient, period_end=date(2026, 1, 1), as_of=date(2026, 1, 1)
    )
    assert [(e.first.disclosed_on, e.count, e.last_on, e.is_summary) for e in entries] == [
        (date(2025, 2, 1), 3, date(2025, 8, 1), True),
        (date(2025, 4, 1), 1, date(2025, 4, 1), False),
    ]


# --- The report ------------------------------------------------------------------------------------------------


def _accounting_request(tenant, actor, received):
    rr = factories.RecordRequestFactory(
        tenant=tenant, request_type=T.ACCOUNTING, requestor__kind=K.PATIENT, received_at=received,
        patient__first_name="Rosa", patient__last_name="Delgado",
    )  # fmt: skip
    tenant.him_phone = "(555) 010-2000"
    tenant.privacy_officer = "Dana Whitfield, Privacy Officer"
    tenant.save()
    return rr


def test_the_report_pdf_lists_the_accounting_and_joins_the_release(media, tenant_a, alice, tmp_path):
    received = datetime(2026, 3, 15, 17, 0, tzinfo=ZoneInfo("UTC"))
    rr = _accounting_request(tenant_a, alice, received)
    patient = rr.patient
    _disclosure(patient, date(2019, 1, 1), recipient="Before the window")
    for month in (1, 4, 7):
        _disclosure(patient, date(2024, month, 2), recipient="State Cancer Registry", recipient_address="1 Capitol Way")
    _disclosure(patient, date(2025, 5, 5), recipient="Springfield Police", purpose=P.LAW_ENFORCEMENT)
    _disclosure(patient, date(2025, 9, 9), recipient="Medical Board", purpose=P.HEALTH_OVERSIGHT)
    _suspend(patient, alice, True, date(2026, 3, 10), date(2026, 4, 5), agency="Medical Board")

    with clock.frozen(datetime(2026, 3, 20, 17, 0, tzinfo=ZoneInfo("UTC"))):
        document = disclosures.accounting_report_generate(tenant=tenant_a, actor=alice, record_request=rr)
    content = document.file.read()
    text = " ".join(pdf_texts(content))
    flat = " ".join(text.split())
    assert "Alpha General Hospital" in flat
    assert "Rosa Delgado" in flat
    assert "Accounting of disclosures" in flat
    assert "March 15, 2020 to March 15, 2026".replace(" ", "") in flat.replace("\u00a0", "").replace(" ", "")
    assert "State Cancer Registry" in flat
    assert "1 Capitol Way" in flat
    assert "3 in all" in flat
    assert "Springfield Police" in flat
    assert "Law enforcement" in flat
    assert "Before the window" not in flat
    assert "Medical Board" not in flat
    assert "suspen" not in flat.lower()
    assert "Dana Whitfield" in flat
    assert "Office for Civil Rights" in flat
    assert len(PdfReader(io.BytesIO(content)).pages) == document.page_count
    assert (document.request, document.excluded_reason, document.patient_confirmed) == (rr, "", True)

    # One page as an image, for a person to look at (pdftoppm from poppler-utils).
    pdf_path = tmp_path / "report.pdf"
    pdf_path.write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")], check=True
    )
    assert (tmp_path / "page-1.png").stat().st_size > 1000

    # A second report supersedes the first in the release; both are kept.
    again = disclosures.accounting_report_generate(tenant=tenant_a, actor=alice, record_request=rr)
    document.refresh_from_db()
    assert document.excluded_reason == ExclusionReason.OTHER
    assert again.excluded_reason == ""
    assert ReleaseDocument.objects.filter(request=rr).count() == 2


def test_a_report_with_nothing_to_list_says_so(media, tenant_a, alice):
    rr = _accounting_request(tenant_a, alice, clock.now() - timedelta(days=1))
    document = disclosures.accounting_report_generate(tenant=tenant_a, actor=alice, record_request=rr)
    assert "We made no disclosures" in " ".join(" ".join(pdf_texts(document.file.read())).split())


def test_only_an_open_accounting_request_has_a_report(media, tenant_a, alice, request_in_state):
    with pytest.raises(ServiceError):
        disclosures.accounting_report_generate(
            tenant=tenant_a, actor=alice, record_request=factories.RecordRequestFactory(tenant=tenant_a)
        )
    closed = request_in_state(RequestState.CANCELLED, request_type=T.ACCOUNTING)
    with pytest.raises(ServiceError):
        disclosures.accounting_report_generate(tenant=tenant_a, actor=alice, record_request=closed)
