"""The 164.512 bases (intake/bases.py), each a kind of request of its own: driven through the services from intake to
release (or refusal), with its accounting outcome. Names carry the citation each test proves."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import translation

from exceptions.models import ExceptionEpisode
from fulfillment import delivery, disclosures, fees, gate, qc
from fulfillment.choices import DisclosurePurpose, ReleaseAction
from fulfillment.models import Disclosure
from fulfillment.packets import release_basis
from intake import bases, letters, rules, services
from intake.forms.checklist import ChecklistForm
from intake.models import IntakeReview, Letter
from roi.errors import NotPermitted, ServiceError
from roi.models import ApiToken
from tests.fulfillment.helpers import packet, pass_qc
from workflow import transitions
from workflow.choices import Channel, DeliveryMethod, RequestorKind, RequestState, RequestType

pytestmark = pytest.mark.usefixtures("media")

T = RequestType
K = RequestorKind
S = RequestState
FAX = "(217) 555-0142"


def _receive(tenant, actor, request_type: str, kind: str = K.GOVERNMENT, **overrides: Any):
    values: dict[str, Any] = {
        "tenant": tenant,
        "actor": actor,
        "channel": Channel.FAX,
        "patient_data": {"mrn": "B200", "first_name": "Mara", "last_name": "Quinn", "date_of_birth": date(1979, 2, 3)},
        "requestor_data": {"kind": kind, "name": "Det. Ray Ortiz", "organization": "Springfield Police Department"},
        "request_type": request_type,
        "record_types": ["discharge_summary"],
        "delivery_method": DeliveryMethod.FAX,
        "delivery_destination": FAX,
        "acknowledge": False,
        **overrides,
    }
    return services.intake_receive(**values)


def _all_met(request_type: str, **chosen: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Answers that meet the basis: (the specialist's confirmations and choices, the supervisor's decisions)."""
    b = bases.BASES[request_type]
    answers: dict[str, Any] = {}
    for element in b.elements:
        if element.kind == bases.CHOICE:
            answers[element.key] = chosen.get(element.key, element.choices[0][0])
    staff = {e.key: True for e in b.elements_for(answers) if e.kind == bases.CONFIRM} | answers
    decisions = {e.key: bases.MET for e in b.elements_for(answers) if e.kind == bases.DECISION}
    return staff, decisions


def _answer(rr, actor, answers: dict[str, Any]) -> IntakeReview:
    review = IntakeReview.objects.filter(request=rr).first()
    current = dict(review.basis_answers) if review else {}
    return services.intake_review_save(
        tenant=rr.tenant, actor=actor, record_request=rr, basis_answers={**current, **answers}
    )


def _release(rr, alice, sam):
    """Validated request: into fulfillment, a packet, QC by Sam, delivered by fax. The delivery."""
    rr = transitions.request_start_fulfillment(tenant=rr.tenant, actor=alice, record_request=rr)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    evidence = delivery.Evidence(method=DeliveryMethod.FAX, destination=FAX, fax_confirmation="JOB 88 OK")
    return delivery.delivery_record(tenant=rr.tenant, actor=alice, record_request=rr, evidence=evidence)


# Each basis, its requestor, the path chosen where it has one, and what its release leaves in the accounting.
BASIS_CASES = [
    pytest.param(T.REQUIRED_BY_LAW, K.GOVERNMENT, {}, DisclosurePurpose.OTHER_REQUIRED_BY_LAW, id="164_512_a"),
    pytest.param(T.PUBLIC_HEALTH, K.GOVERNMENT, {}, DisclosurePurpose.PUBLIC_HEALTH, id="164_512_b"),
    pytest.param(T.PUBLIC_HEALTH, K.OTHER, {"path": bases.PH_FDA}, DisclosurePurpose.PUBLIC_HEALTH,
                 id="164_512_b_1_iii"),
    pytest.param(T.PUBLIC_HEALTH, K.OTHER, {"path": bases.PH_EMPLOYER}, DisclosurePurpose.PUBLIC_HEALTH,
                 id="164_512_b_1_v"),
    pytest.param(T.ABUSE_NEGLECT, K.GOVERNMENT, {}, DisclosurePurpose.ABUSE_NEGLECT, id="164_512_c"),
    pytest.param(T.HEALTH_OVERSIGHT, K.GOVERNMENT, {}, DisclosurePurpose.HEALTH_OVERSIGHT, id="164_512_d"),
    pytest.param(T.LAW_ENFORCEMENT, K.GOVERNMENT, {"process": bases.LE_ADMINISTRATIVE},
                 DisclosurePurpose.LAW_ENFORCEMENT, id="164_512_f_1_ii_C"),
    pytest.param(T.LAW_ENFORCEMENT, K.GOVERNMENT, {"process": bases.LE_WARRANT},
                 DisclosurePurpose.LAW_ENFORCEMENT, id="164_512_f_1_ii_A"),
    pytest.param(T.LAW_ENFORCEMENT, K.GOVERNMENT, {"process": bases.LE_IDENTIFICATION},
                 DisclosurePurpose.LAW_ENFORCEMENT, id="164_512_f_2"),
    pytest.param(T.LAW_ENFORCEMENT, K.GOVERNMENT, {"process": bases.LE_VICTIM},
                 DisclosurePurpose.LAW_ENFORCEMENT, id="164_512_f_3"),
    pytest.param(T.LAW_ENFORCEMENT, K.GOVERNMENT, {"process": bases.LE_PREMISES},
                 DisclosurePurpose.LAW_ENFORCEMENT, id="164_512_f_5"),
    pytest.param(T.DECEDENT, K.GOVERNMENT, {}, DisclosurePurpose.DECEDENT, id="164_512_g"),
    pytest.param(T.ORGAN_DONATION, K.OTHER, {}, DisclosurePurpose.ORGAN_DONATION, id="164_512_h"),
    pytest.param(T.RESEARCH, K.OTHER, {}, DisclosurePurpose.RESEARCH, id="164_512_i"),
    pytest.param(T.RESEARCH, K.OTHER, {"path": bases.RS_DECEDENTS}, DisclosurePurpose.RESEARCH,
                 id="164_512_i_1_iii"),
    pytest.param(T.SERIOUS_THREAT, K.GOVERNMENT, {}, DisclosurePurpose.SERIOUS_THREAT, id="164_512_j"),
    pytest.param(T.GOVERNMENT_FUNCTIONS, K.GOVERNMENT, {"function": bases.GOV_MILITARY},
                 DisclosurePurpose.GOVERNMENT_FUNCTION, id="164_512_k_1"),
    pytest.param(T.GOVERNMENT_FUNCTIONS, K.GOVERNMENT, {"function": bases.GOV_NATIONAL_SECURITY}, None,
                 id="164_512_k_2_not_accountable_164_528_a_1_vi"),
    pytest.param(T.GOVERNMENT_FUNCTIONS, K.GOVERNMENT, {"function": bases.GOV_CORRECTIONAL}, None,
                 id="164_512_k_5_not_accountable_164_528_a_1_vii"),
    pytest.param(T.WORKERS_COMP, K.INSURER, {}, DisclosurePurpose.WORKERS_COMP, id="164_512_l"),
]  # fmt: skip


@pytest.mark.parametrize(("request_type", "kind", "chosen", "purpose"), BASIS_CASES)
def test_164_512_each_basis_from_intake_to_release_and_its_accounting(
    tenant_a, alice, sam, request_type, kind, chosen, purpose
):
    rr = _receive(tenant_a, alice, request_type, kind)
    staff, decisions = _all_met(request_type, **chosen)
    _answer(rr, alice, staff)
    if decisions:
        _answer(rr, sam, decisions)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert outcome.validated, [d.code for d in outcome.deficiencies]
    # No authorization was asked for: the basis is the rule itself.
    assert not any(d.code.startswith("AUTH_") for d in outcome.deficiencies)
    sent = _release(outcome.record_request, alice, sam)
    rr.refresh_from_db()
    assert rr.state == S.DELIVERED
    entry = Disclosure.objects.filter(delivery=sent.delivery).first()
    if purpose is None:
        assert entry is None  # excluded from the accounting by 164.528(a)(1)
    else:
        assert entry is not None
        assert entry.purpose == purpose
        assert bases.BASES[request_type].citation.removeprefix("45 CFR ") in entry.purpose_statement


def test_164_512_f_1_ii_C_an_administrative_request_waits_for_a_supervisor_without_a_letter_then_validates(
    tenant_a, alice, sam
):
    """The three-part test is a supervisor's decision: undecided, the request waits in an exception with no letter
    to the police; decided met, checking again resolves it and validates in one step, with no second letter."""
    rr = _receive(tenant_a, alice, T.LAW_ENFORCEMENT)
    staff, decisions = _all_met(T.LAW_ENFORCEMENT, process=bases.LE_ADMINISTRATIVE)
    _answer(rr, alice, staff)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert not outcome.validated
    assert sorted(d.code for d in outcome.deficiencies) == [
        "LAW_ENFORCEMENT_DEIDENTIFIED_INSUFFICIENT_UNDECIDED",
        "LAW_ENFORCEMENT_RELEVANT_AND_MATERIAL_UNDECIDED",
        "LAW_ENFORCEMENT_SPECIFIC_AND_LIMITED_UNDECIDED",
    ]
    assert outcome.letter is None
    assert not Letter.objects.filter(request=rr, kind="deficiency").exists()
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    assert episode.reason == "legal_review"
    assert "supervisor" in episode.next_step.lower()

    with pytest.raises(NotPermitted, match="Only a supervisor records whether the rule is met"):
        _answer(rr, alice, decisions)
    review = _answer(rr, sam, decisions)
    assert review.basis_decided_by == sam
    assert review.basis_decided_at is not None

    again = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert again.resolved
    assert again.validated
    assert again.record_request.state == S.VALIDATED
    assert not Letter.objects.filter(request=rr, kind="deficiency").exists()
    # Decided once: the checklist never asks again.
    assert rules.evaluate(services.intake_facts(tenant=tenant_a, record_request=again.record_request)) == []
    lines = release_basis(again.record_request, IntakeReview.objects.get(request=rr))
    assert any("164.512(f)(1)(ii)(C)(1)" in line for line in lines)


def test_164_512_f_1_ii_C_a_request_decided_not_to_meet_the_test_tells_the_police_what_is_needed(tenant_a, alice, sam):
    rr = _receive(tenant_a, alice, T.LAW_ENFORCEMENT)
    staff, decisions = _all_met(T.LAW_ENFORCEMENT, process=bases.LE_ADMINISTRATIVE)
    _answer(rr, alice, staff)
    _answer(rr, sam, {**decisions, "deidentified_insufficient": bases.NOT_MET})
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert [d.code for d in outcome.deficiencies] == ["LAW_ENFORCEMENT_DEIDENTIFIED_INSUFFICIENT_NOT_MET"]
    letter = Letter.objects.get(request=rr, kind="deficiency")
    assert [d["code"] for d in letter.summary["deficiencies"]] == ["LAW_ENFORCEMENT_DEIDENTIFIED_INSUFFICIENT_NOT_MET"]
    assert "de-identified" in letter.summary["deficiencies"][0]["message"]
    assert letter.summary["deficiencies"][0]["citation"] == "45 CFR 164.512(f)(1)(ii)(C)(3)"


def test_164_512_f_3_a_victims_information_is_a_supervisors_decision_and_not_met_asks_for_the_authorization(
    tenant_a, alice, sam
):
    rr = _receive(tenant_a, alice, T.LAW_ENFORCEMENT)
    _answer(rr, alice, {"process": bases.LE_VICTIM})
    _answer(rr, sam, {"victim_agrees_or_cannot": bases.NOT_MET})
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert [(d.code, d.citation) for d in outcome.deficiencies] == [
        ("LAW_ENFORCEMENT_VICTIM_AGREES_OR_CANNOT_NOT_MET", "45 CFR 164.512(f)(3)(i)-(ii)")
    ]
    assert "authorization" in outcome.deficiencies[0].requestor_message


def test_164_512_f_1_ii_A_a_warrant_needs_no_three_part_test_but_must_be_on_file(tenant_a, alice):
    rr = _receive(tenant_a, alice, T.LAW_ENFORCEMENT)
    _answer(rr, alice, {"process": bases.LE_WARRANT})
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert [d.code for d in outcome.deficiencies] == ["LAW_ENFORCEMENT_PROCESS_ON_FILE"]
    assert outcome.letter is not None  # the requestor is asked for the warrant


def test_164_512_f_the_path_must_be_recorded_before_the_checklist_runs(tenant_a, alice):
    rr = _receive(tenant_a, alice, T.LAW_ENFORCEMENT)
    with pytest.raises(ServiceError, match="What does the request come with"):
        services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    rr.refresh_from_db()
    assert rr.state == S.RECEIVED


def test_164_512_l_a_workers_compensation_carrier_needs_no_hipaa_authorization(tenant_a, alice):
    rr = _receive(tenant_a, alice, T.WORKERS_COMP, K.INSURER)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert sorted(d.code for d in outcome.deficiencies) == [
        "WORKERS_COMP_CLAIM_IDENTIFIED",
        "WORKERS_COMP_STATE_LAW_AUTHORIZES",
    ]
    assert all(d.citation == "45 CFR 164.512(l)" for d in outcome.deficiencies)


def test_164_512_b_only_a_public_health_authority_may_ask(tenant_a, alice):
    rr = _receive(tenant_a, alice, T.PUBLIC_HEALTH, K.ATTORNEY)
    staff, _ = _all_met(T.PUBLIC_HEALTH)
    _answer(rr, alice, staff)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert [d.code for d in outcome.deficiencies] == ["PUBLIC_HEALTH_REQUESTOR_NOT_ELIGIBLE"]
    assert "public health authority" in outcome.deficiencies[0].requestor_message


def test_164_512_the_release_gate_refuses_when_a_decision_is_withdrawn_after_validation(tenant_a, alice, sam):
    """The gate runs the basis's rules again when records leave: a decision changed to 'not met' after QC stops the
    release."""
    rr = _receive(tenant_a, alice, T.SERIOUS_THREAT)
    staff, decisions = _all_met(T.SERIOUS_THREAT)
    _answer(rr, alice, staff)
    _answer(rr, sam, decisions)
    rr = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr).record_request
    rr = transitions.request_start_fulfillment(tenant=tenant_a, actor=alice, record_request=rr)
    built = packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    IntakeReview.objects.filter(request=rr).update(
        basis_answers={**staff, "threat_serious_and_imminent": bases.NOT_MET}
    )
    verdict = gate.release_verdict(tenant=tenant_a, record_request=rr, packet=built, action=ReleaseAction.DELIVER)
    assert not verdict.allowed
    assert "SERIOUS_THREAT_THREAT_SERIOUS_AND_IMMINENT_NOT_MET" in [r.code for r in verdict.refusals]


def test_164_512_answers_outside_the_basis_are_refused(tenant_a, alice):
    rr = _receive(tenant_a, alice, T.PUBLIC_HEALTH)
    with pytest.raises(ServiceError, match="'process' is not a question of this request's basis"):
        _answer(rr, alice, {"process": bases.LE_WARRANT})
    with pytest.raises(ServiceError, match=r"Answer .* with one of the choices offered"):
        _answer(rr, alice, {"public_health_authority": "maybe"})
    assert IntakeReview.objects.filter(request=rr).first() is None  # nothing half-saved


@pytest.mark.parametrize(
    ("request_type", "applies"),
    [(T.REQUIRED_BY_LAW, False), (T.LAW_ENFORCEMENT, True), (T.WORKERS_COMP, True), (T.RESEARCH, True)],
)
def test_164_502_b_minimum_necessary_is_said_per_basis_in_qc(tenant_a, alice, request_type, applies):
    rr = _receive(tenant_a, alice, request_type)
    line = qc.minimum_necessary(rr)
    assert line.startswith("Minimum necessary applies" if applies else "Minimum necessary does not apply")
    if not applies:
        assert "164.502(b)(2)(v)" in line


def test_each_basis_states_its_fee_when_no_fee_rule_is_configured(tenant_a, alice):
    rr = _receive(tenant_a, alice, T.WORKERS_COMP, K.INSURER)
    quote = fees.fee_quote(tenant=tenant_a, record_request=rr, pages=12, delivery_method=DeliveryMethod.FAX)
    assert quote.total_cents == 0
    assert "Workers' compensation (45 CFR 164.512(l))" in quote.basis


def test_every_basis_has_an_accounting_row_and_purposes_the_accounting_knows():
    for code, b in bases.BASES.items():
        assert b.accounting[-1].when is None, code  # a fallback row, so every release is decided
        for row in b.accounting:
            assert not row.accountable or row.purpose in DisclosurePurpose.values, code
        rule = disclosures.accountability_rule(request_type=code, requestor_kind=K.GOVERNMENT)
        assert rule.request_type == code
    assert mail.outbox == []


def test_164_512_f_1_ii_C_through_the_api_the_decision_is_a_supervisors(tenant_a, alice, sam, api_token_for):
    rr = _receive(tenant_a, alice, T.LAW_ENFORCEMENT)
    url = f"/api/v1/requests/{rr.tracking_number}/intake-review/"
    staff, decisions = _all_met(T.LAW_ENFORCEMENT, process=bases.LE_ADMINISTRATIVE)

    def post(user, body):
        client = Client(HTTP_AUTHORIZATION=f"Token {api_token_for(user, tenant_a)[1]}")
        return client.post(url, data=json.dumps(body), content_type="application/json")

    refused = post(alice, {"basis_answers": staff | decisions})
    assert refused.status_code == 403
    assert "Only a supervisor" in refused.content.decode()
    assert post(alice, {"basis_answers": staff}).status_code == 200
    decided = post(sam, {"basis_answers": staff | decisions})
    assert decided.status_code == 200, decided.content
    # Sam's interface decided it, with a supervisor's permissions, as its own account.
    assert decided.json()["basis_decided_by"] == ApiToken.objects.get(client__name="sam interface").user.username
    assert decided.json()["basis_answers"] == staff | decisions


def test_who_may_ask_reads_in_the_requestors_language(tenant_a, alice):
    rr = _receive(tenant_a, alice, T.WORKERS_COMP, K.PATIENT)
    found = rules.evaluate(services.intake_facts(tenant=tenant_a, record_request=rr))
    ineligible = next(d for d in found if d.code == "WORKERS_COMP_REQUESTOR_NOT_ELIGIBLE")
    item = {"message": ineligible.requestor_message, "template": ineligible.requestor_template,
            "params": dict(ineligible.requestor_params)}  # fmt: skip
    assert "the employer, its workers' compensation carrier" in letters.requestor_text(item)
    with translation.override("es"):
        spanish = letters.requestor_text(item)
    assert spanish.startswith("Con el fundamento en que se basa, los registros solo pueden divulgarse a: el empleador")
    assert "workers" not in spanish


@pytest.mark.parametrize(
    ("request_type", "field", "when"),
    [
        (T.RESEARCH, "basis_waiver_documented", "asked only for an IRB's or privacy board's waiver of authorization"),
        (T.PUBLIC_HEALTH, "basis_fda_product", "asked only for to a person subject to the FDA"),
        (T.LAW_ENFORCEMENT, "basis_relevant_and_material", "asked only for an administrative request"),
    ],
)
def test_the_checklist_says_which_path_a_question_belongs_to(tenant_a, alice, request_type, field, when):
    """Several bases have a "path" question: each conditional question names its own basis's path."""
    rr = _receive(tenant_a, alice, request_type, K.OTHER if request_type == T.RESEARCH else K.GOVERNMENT)
    form = ChecklistForm(
        review=services.intake_review_for(tenant=tenant_a, record_request=rr),
        basis=rules.basis_for(rr.request_type, rr.requestor.kind),
        requestor_kind=rr.requestor.kind,
        categories=[],
        today=date(2026, 6, 15),
    )
    assert when in form.fields[field].help_text
