"""Not treating someone as the patient's personal representative (45 CFR 164.502(g)(5)): a supervisor's recorded
decision, from the patient's page, on a belief of abuse, neglect or danger; from then on the checklist and the
release gate refuse every release to them as the representative, and the letter does not say why."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fulfillment import gate, qc
from fulfillment.choices import ReleaseAction
from intake import authorizations, rules
from intake.models import RepresentativeAuthority
from roi.errors import NotPermitted, ServiceError
from tests import factories
from tests.fulfillment.helpers import packet, pass_qc
from workflow.choices import RequestorKind, RequestState, RequestType

pytestmark = pytest.mark.usefixtures("media")


def _relying(request_in_state, alice):
    rr = request_in_state(
        RequestState.IN_FULFILLMENT, request_type=RequestType.RIGHT_OF_ACCESS, assignee=alice,
        requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE, delivery_destination="(312) 555-0199",
    )  # fmt: skip
    factories.complete_review(rr)
    return rr, RepresentativeAuthority.objects.get(patient=rr.patient)


def test_164_502_g_5_a_representative_declined_is_refused_without_saying_why():
    rep = rules.RepresentativeFacts(name="Ray Holt", authority_type="guardian", has_document=True, verified=True)
    facts = rules.IntakeFacts(
        request_type=RequestType.RIGHT_OF_ACCESS, requestor_kind=RequestorKind.PERSONAL_REPRESENTATIVE,
        record_types=["lab"], scope_date_from=None, scope_date_to=None, scope_notes="", sensitive_categories=[],
        delivery_gaps=[], needs_intake_completion=False, open_duplicates=0,
        review={"identity_verified": True, "identity_method": "photo_id_copy"},
        representative=rules.RepresentativeFacts(**{**rep.__dict__, "declined": True}),
    )  # fmt: skip
    found = rules.evaluate(facts)
    assert [(d.code, d.citation) for d in found] == [("REPRESENTATIVE_NOT_TREATED_AS_SUCH", "45 CFR 164.502(g)(5)")]
    assert "abuse" not in found[0].requestor_message


def test_164_502_g_5_only_a_supervisor_declines_with_a_reason_and_the_release_is_refused(request_in_state, alice, sam):
    rr, rep = _relying(request_in_state, alice)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    with pytest.raises(NotPermitted):
        authorizations.representative_decline(tenant=rr.tenant, actor=alice, representative=rep, reason="Bruises")
    with pytest.raises(ServiceError, match="Say why"):
        authorizations.representative_decline(tenant=rr.tenant, actor=sam, representative=rep, reason="  ")
    rep.refresh_from_db()
    assert rep.declined_at is None

    declined = authorizations.representative_decline(
        tenant=rr.tenant, actor=sam, representative=rep, reason="Patient disclosed abuse by the guardian."
    )
    assert (declined.declined_by, declined.history.first().history_user) == (sam, sam)
    current = qc.current_packet(tenant=rr.tenant, record_request=rr)
    verdict = gate.release_verdict(tenant=rr.tenant, record_request=rr, packet=current, action=ReleaseAction.DELIVER)
    assert "REPRESENTATIVE_NOT_TREATED_AS_SUCH" in {r.code for r in verdict.refusals}
    with pytest.raises(ServiceError, match="already not treated"):
        authorizations.representative_decline(tenant=rr.tenant, actor=sam, representative=rep, reason="Again")


def test_164_502_g_5_a_declined_representative_cannot_be_relied_on_again(request_in_state, alice, sam):
    rr, rep = _relying(request_in_state, alice)
    authorizations.representative_decline(tenant=rr.tenant, actor=sam, representative=rep, reason="Endangers")
    other = factories.RecordRequestFactory(
        tenant=rr.tenant, patient=rr.patient, request_type=RequestType.RIGHT_OF_ACCESS,
        requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE,
    )  # fmt: skip
    rep.refresh_from_db()
    with pytest.raises(ServiceError, match=r"164\.502\(g\)\(5\)"):
        authorizations.representative_link(tenant=rr.tenant, actor=alice, record_request=other, representative=rep)


def test_164_502_g_5_the_decision_is_made_on_the_patients_page(request_in_state, alice, sam, client_for):
    rr, rep = _relying(request_in_state, alice)
    url = reverse("fulfillment:representative-decline", args=[rep.pk])
    page_url = reverse("fulfillment:patient-authorizations", args=[rr.patient_id])
    assert "Do not treat as the representative" not in client_for(alice).get(page_url).content.decode()
    assert client_for(alice).post(url, {"reason": "x", "confirmed": "1"}).status_code == 403
    supervisor = client_for(sam)
    assert "Do not treat as the representative" in supervisor.get(page_url).content.decode()
    assert supervisor.post(url, {"reason": "Endangers the patient"}).status_code == 400
    assert supervisor.post(url, {"reason": "Endangers the patient", "confirmed": "1"}).status_code == 302
    page = supervisor.get(page_url).content.decode()
    assert "Not treated as the representative" in page
    assert "Endangers the patient" in page
