"""An agency's suspension of the accounting (45 CFR 164.528(a)(2)) names the agency as a record: its requestor on
file, or its exact name (case, spacing and punctuation folded). A suspension by "Springfield Police" must not hide the
disclosures to the "Springfield Police Athletic League": leaving a disclosure out of an accounting that the rule
does not let us leave out is itself a violation. The service, the form on the patient's accounting page, and the
agreement between that page and the report PDF."""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment import disclosures
from fulfillment.choices import DisclosurePurpose
from fulfillment.models import Disclosure, DisclosureSuspension
from roi import clock
from roi.errors import ServiceError
from tests import factories
from tests.fulfillment.pdfs import pdf_texts
from workflow.choices import RequestorKind, RequestType

POLICE = "Springfield Police"
LEAGUE = "Springfield Police Athletic League"
TODAY = date(2026, 2, 1)


def _disclosure(patient, recipient: str, *, on: date = date(2025, 7, 1), request=None) -> Disclosure:
    return Disclosure.objects.create(
        tenant=patient.tenant, patient=patient, request=request, disclosed_on=on, recipient_name=recipient,
        description="Emergency department record", purpose=DisclosurePurpose.LAW_ENFORCEMENT, recorded_at=clock.now(),
    )  # fmt: skip


def _via_request(patient, requestor, *, recipient: str | None = None, on: date = date(2025, 7, 1)) -> Disclosure:
    """A disclosure written by the delivery of a request made by `requestor` (recipient: the requestor, as delivery
    writes it, unless a correction changed the text)."""
    rr = factories.RecordRequestFactory(
        tenant=patient.tenant, patient=patient, requestor=requestor, request_type=RequestType.OTHER
    )
    return _disclosure(patient, recipient if recipient is not None else str(requestor), request=rr, on=on)


def _government(tenant, name: str, organization: str = ""):
    return factories.RequestorFactory(
        tenant=tenant, kind=RequestorKind.GOVERNMENT, name=name, organization=organization
    )


def _suspend(patient, actor, **agency):
    return disclosures.suspension_record(
        tenant=patient.tenant, actor=actor, patient=patient, statement="An accounting would impede our investigation.",
        oral=False, starts_on=TODAY - timedelta(days=10), ends_on=TODAY + timedelta(days=90), **agency,
    )  # fmt: skip


def _listed(patient) -> list[str]:
    entries = disclosures.accounting_entries(tenant=patient.tenant, patient=patient, period_end=TODAY, as_of=TODAY)
    return [entry.first.recipient_name for entry in entries]


# --- The rule --------------------------------------------------------------------------------------------------


def test_164_528_a_2_a_suspension_by_springfield_police_does_not_hide_the_athletic_league(tenant_a, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, POLICE)
    _disclosure(patient, LEAGUE, on=date(2025, 8, 1))
    _suspend(patient, alice, agency=POLICE)
    assert _listed(patient) == [LEAGUE]


def test_164_528_a_2_the_name_matches_with_case_spacing_and_punctuation_folded_and_nothing_else(tenant_a, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, "SPRINGFIELD  POLICE.")
    _disclosure(patient, "Springfield Police Dept", on=date(2025, 8, 1))
    _disclosure(patient, "Police", on=date(2025, 9, 1))
    _suspend(patient, alice, agency=" springfield police ")
    assert _listed(patient) == ["Springfield Police Dept", "Police"]


def test_164_528_a_2_a_suspension_by_the_agencys_requestor_leaves_out_its_disclosures_whatever_their_text(
    tenant_a, alice
):
    patient = factories.PatientFactory(tenant=tenant_a)
    detective = _government(tenant_a, "Det. Jane Smith", POLICE)
    coach = _government(tenant_a, "Coach Bob Reyes", LEAGUE)
    # A correction changed the entry's recipient text: the requestor on file still identifies the agency.
    _via_request(patient, detective, recipient="SPD records unit")
    _via_request(patient, coach)
    suspension = _suspend(patient, alice, agency_requestor=detective)
    assert (suspension.agency, suspension.agency_requestor) == (POLICE, detective)
    assert _listed(patient) == [f"Coach Bob Reyes ({LEAGUE})"]


def test_164_528_a_2_a_suspension_by_name_covers_every_official_of_the_agency_and_no_other(tenant_a, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    _via_request(patient, _government(tenant_a, "Det. Jane Smith", POLICE))
    _via_request(patient, _government(tenant_a, "Sgt. Ana Ruiz", "springfield police"))
    _via_request(patient, _government(tenant_a, "Coach Bob Reyes", LEAGUE))
    _suspend(patient, alice, agency=POLICE)
    assert _listed(patient) == [f"Coach Bob Reyes ({LEAGUE})"]


def test_164_528_a_2_the_suspension_ends_and_the_disclosures_come_back(tenant_a, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, POLICE)
    suspension = _suspend(patient, alice, agency=POLICE)
    after = suspension.ends_on + timedelta(days=1)
    entries = disclosures.accounting_entries(tenant=tenant_a, patient=patient, period_end=TODAY, as_of=after)
    assert [entry.first.recipient_name for entry in entries] == [POLICE]


def test_164_528_a_2_another_organisations_requestor_or_a_name_without_letters_is_refused(tenant_a, tenant_b, alice):
    patient = factories.PatientFactory(tenant=tenant_a)
    with pytest.raises(ServiceError) as error:
        _suspend(patient, alice, agency_requestor=_government(tenant_b, "Det. Other", POLICE))
    assert error.value.field == "agency"
    with pytest.raises(ServiceError) as error:
        _suspend(patient, alice, agency=" ... ")
    assert (error.value.field, "exactly as the disclosures name their recipient" in error.value.message) == (
        "agency",
        True,
    )
    assert not DisclosureSuspension.objects.exists()


# --- The form on the patient's accounting page ------------------------------------------------------------------


def _page(patient) -> str:
    return reverse("fulfillment:patient-disclosures", kwargs={"pk": patient.pk})


def _post_url(patient) -> str:
    return reverse("fulfillment:suspension-record", kwargs={"pk": patient.pk})


def _body(**agency: str) -> dict[str, str]:
    today = timezone.localdate(timezone.now(), ZoneInfo("America/Los_Angeles"))  # tenant A's calendar
    return {
        "agency_pick": "",
        "agency": "",
        "statement": "Detective Smith asked in writing: an accounting would impede the investigation until June.",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=90)).isoformat(),
        **agency,
    }


def _accounting_section(html: str) -> str:
    return html.split('id="accounting-h"')[1].split('id="entries-h"')[0]


def test_164_528_a_2_the_form_offers_the_patients_recipients_and_the_government_requestors(
    client_for, alice, tenant_a, tenant_b
):
    patient = factories.PatientFactory(tenant=tenant_a)
    detective = _government(tenant_a, "Det. Jane Smith", POLICE)
    _via_request(patient, detective)
    _disclosure(patient, "State Medical Board")
    court = _government(tenant_a, "Clerk of the Circuit Court")
    attorney = factories.RequestorFactory(tenant=tenant_a, name="Jo Hartley")  # no disclosure, not an agency
    elsewhere = _government(tenant_b, "Beta County Sheriff")
    html = client_for(alice).get(_page(patient)).content.decode()
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', html))
    assert options[f"requestor:{detective.pk}"] == f"Det. Jane Smith ({POLICE}) · Government agency or court"
    assert options["recipient:statemedicalboard"] == "State Medical Board · recorded outside a request"
    assert options[f"requestor:{court.pk}"] == "Clerk of the Circuit Court · Government agency or court"
    assert f"requestor:{attorney.pk}" not in options
    assert f"requestor:{elsewhere.pk}" not in options
    assert "Beta County Sheriff" not in html


def test_164_528_a_2_picking_the_agencys_requestor_suspends_it_and_keeps_the_athletic_league(
    client_for, alice, tenant_a
):
    patient = factories.PatientFactory(tenant=tenant_a)
    detective = _government(tenant_a, "Det. Jane Smith", POLICE)
    _via_request(patient, detective, recipient=POLICE)
    _disclosure(patient, LEAGUE)
    client = client_for(alice)
    response = client.post(_post_url(patient), _body(agency_pick=f"requestor:{detective.pk}"), follow=True)
    assert response.status_code == 200
    suspension = DisclosureSuspension.objects.get()
    assert (suspension.agency, suspension.agency_requestor, suspension.recorded_by) == (POLICE, detective, alice)
    html = response.content.decode()
    assert "Suspension recorded: disclosures to the agency are left out until it ends." in html
    assert "Leaves out 1 disclosure while it runs." in html
    accounting = _accounting_section(html)
    assert LEAGUE in accounting
    assert POLICE not in accounting.replace(LEAGUE, "")


def test_164_528_a_2_picking_a_recipient_recorded_outside_a_request_suspends_by_its_exact_name(
    client_for, alice, tenant_a
):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, "State Medical Board")
    response = client_for(alice).post(_post_url(patient), _body(agency_pick="recipient:statemedicalboard"))
    assert response.status_code == 302
    suspension = DisclosureSuspension.objects.get()
    assert (suspension.agency, suspension.agency_requestor) == ("State Medical Board", None)


@pytest.mark.parametrize(
    ("agency", "field", "message"),
    [
        ({}, "agency_pick", "Choose the agency from the list, or type its name below exactly as the disclosures name "
         "their recipient."),
        ({"agency_pick": "recipient:springfieldpolice", "agency": POLICE}, "agency",
         "Choose the agency from the list or type its name, not both: clear one of them."),
        ({"agency_pick": "requestor:987654321"}, "agency_pick",
         "That agency is no longer among this patient's recipients or the organisation's government agencies: choose "
         "it again from the list, or type its name below."),
        ({"agency": "?!"}, "agency", "Name the agency exactly as the disclosures name their recipient, or choose it "
         "from the list (the official who asked goes in the statement)."),
    ],
)  # fmt: skip
def test_164_528_a_2_the_form_says_what_to_fix_and_records_nothing(client_for, alice, tenant_a, agency, field, message):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, POLICE)
    response = client_for(alice).post(_post_url(patient), _body(**agency))
    assert response.status_code == 400
    assert response.context["suspension_form"].errors[field] == [message]
    assert not DisclosureSuspension.objects.exists()


def test_164_528_a_2_another_organisations_requestor_cannot_be_picked(client_for, alice, tenant_a, tenant_b):
    patient = factories.PatientFactory(tenant=tenant_a)
    elsewhere = _government(tenant_b, "Beta County Sheriff")
    response = client_for(alice).post(_post_url(patient), _body(agency_pick=f"requestor:{elsewhere.pk}"))
    assert response.status_code == 400
    assert "agency_pick" in response.context["suspension_form"].errors
    assert not DisclosureSuspension.objects.exists()


def test_164_528_a_2_a_typed_name_that_matches_no_disclosure_is_recorded_with_a_warning(client_for, alice, tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, LEAGUE)
    response = client_for(alice).post(_post_url(patient), _body(agency="Springfield Police"), follow=True)
    html = response.content.decode()
    assert DisclosureSuspension.objects.get().agency == POLICE
    assert "no disclosure of this patient is to Springfield Police yet" in html
    assert "Matches no disclosure of this patient: check the agency's name." in html
    assert LEAGUE in _accounting_section(html)


# --- The report and the page agree --------------------------------------------------------------------------------


def test_164_528_a_2_the_report_pdf_and_the_staff_page_leave_out_the_same_disclosures(
    media, client_for, alice, tenant_a
):
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, request_type=RequestType.ACCOUNTING, requestor__kind=RequestorKind.PATIENT,
        received_at=timezone.now(),
    )  # fmt: skip
    patient = rr.patient
    detective = _government(tenant_a, "Det. Jane Smith", POLICE)
    recently = timezone.localdate(timezone.now(), tenant_a.tzinfo) - timedelta(days=200)
    _via_request(patient, detective, recipient="SPD records unit", on=recently)
    _disclosure(patient, "springfield police", on=recently + timedelta(days=1))
    _disclosure(patient, LEAGUE, on=recently + timedelta(days=2))
    _disclosure(patient, "State Cancer Registry", on=recently + timedelta(days=3))
    today = timezone.localdate(timezone.now(), tenant_a.tzinfo)
    disclosures.suspension_record(
        tenant=tenant_a, actor=alice, patient=patient, agency_requestor=detective, statement="Investigation",
        oral=True, starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=20),
    )  # fmt: skip

    report = disclosures.accounting_report_generate(tenant=tenant_a, actor=alice, record_request=rr)
    pdf = " ".join(" ".join(pdf_texts(report.file.read())).split())
    page = _accounting_section(client_for(alice).get(_page(patient)).content.decode())
    for listed in (LEAGUE, "State Cancer Registry"):
        assert listed in pdf
        assert listed in page
    for left_out in ("SPD records unit", "springfield police"):
        assert left_out not in pdf
        assert left_out not in page
