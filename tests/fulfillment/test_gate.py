"""The release gate (fulfillment/gate.py): every way out asks it at the moment records leave, and it re-evaluates
the law and QC rather than remembering them. One test per rule, named with its citation, through the services and
the pages: a revocation after QC (the worst case: an impermissible disclosure), an expiry after QC, a change after QC,
psychotherapy notes under the right of access, Part 2 records and the 2.32 notice, a representative's authority, a
withdrawn directive; and what a refusal leaves behind (a record, an owner, an exception, nothing released)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from exceptions.models import ExceptionEpisode
from exceptions.services import exception_resolve
from fulfillment import delivery, denials, gate, links, packets, qc
from fulfillment.choices import ReleaseAction, ResendReason
from fulfillment.documents import release_document_exclude
from fulfillment.models import Delivery, Denial, Disclosure, DownloadLink, ReleaseRefusal
from fulfillment.revocations import revocation_record
from intake.models import IntakeReview
from roi import clock
from roi.errors import ServiceError
from roi.models import Notification
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory
from tests.fulfillment.helpers import authorization_on_file, document, packet, pass_qc
from tests.fulfillment.pdfs import make_pdf, pdf_texts
from workflow.choices import DeliveryMethod, RecordType, RequestorKind, RequestState, RequestType, SensitiveCategory

S = RequestState
FAX = "(312) 555-0199"
EMAIL = "records@lawfirm.example.com"

pytestmark = pytest.mark.usefixtures("media")


def _fax(sam):
    return delivery.Evidence(method=DeliveryMethod.FAX, destination=FAX, fax_confirmation="JOB 4471 OK")


def _ready(request_in_state, alice, sam, **fields):
    """A request in fulfillment, assigned to Alice, whose authorization is on file and whose packet (built by Alice)
    passed QC (by Sam)."""
    values = {"delivery_destination": FAX, "assignee": alice, **fields}
    rr = request_in_state(S.IN_FULFILLMENT, **values)
    authorization_on_file(rr)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    return rr


def _revoke(rr, actor, received_on=None):
    auth = IntakeReview.objects.get(request=rr).authorization
    written = SimpleUploadedFile("revocation.pdf", make_pdf(1, "I revoke my authorization"), "application/pdf")
    return revocation_record(
        tenant=rr.tenant,
        actor=actor,
        authorization=auth,
        received_on=received_on or timezone.localdate(timezone=rr.tenant.tzinfo),
        uploaded_file=written,
        record_request=rr,
    )


def _deliver(rr, actor, sam):
    return delivery.delivery_record(tenant=rr.tenant, actor=actor, record_request=rr, evidence=_fax(sam))


def _by_link(request_in_state, alice, sam, method, **fields):
    """A request ready for release (see _ready) delivered by a download link to the requestor's email: the request
    and the delivery's result (its token)."""
    rr = _ready(request_in_state, alice, sam, delivery_method=method, delivery_destination=EMAIL, **fields)
    evidence = delivery.Evidence(method=method, destination=EMAIL)
    return rr, delivery.delivery_record(tenant=rr.tenant, actor=alice, record_request=rr, evidence=evidence)


def _verdict(rr) -> gate.Verdict:
    """The gate's verdict on delivering the request's current packet now."""
    current = qc.current_packet(tenant=rr.tenant, record_request=rr)
    return gate.release_verdict(tenant=rr.tenant, record_request=rr, packet=current, action=ReleaseAction.DELIVER)


def _codes(verdict: gate.Verdict) -> set[str]:
    return {r.code for r in verdict.refusals}


# --- Revocation after QC: the worst case ----------------------------------------------------------------------------


def test_164_508_b_5_a_revocation_recorded_after_qc_stops_the_delivery_even_after_its_exception_is_resolved(
    request_in_state, alice, sam
):
    rr = _ready(request_in_state, alice, sam)
    outcome = _revoke(rr, sam)
    assert [r.pk for r in outcome.stopped] == [rr.pk]
    rr.refresh_from_db()
    assert (rr.state, rr.exception_reason) == (S.EXCEPTION, "authorization_revoked")
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    assert episode.owner == alice  # the assignee owns what happens next
    assert episode.deficiency_codes == ["AUTH_REVOKED"]
    # A colleague resolves the exception and tries to deliver: the gate asks again, now, and refuses.
    exception_resolve(tenant=rr.tenant, actor=sam, record_request=rr, resolution="Looks fine to me")
    with pytest.raises(gate.ReleaseRefused) as refused:
        _deliver(rr, sam, sam)
    assert "AUTH_REVOKED" in {r.code for r in refused.value.verdict.refusals}
    assert "164.508(b)(2)(iii), (b)(5)" in refused.value.message
    assert not Delivery.objects.filter(request=rr).exists()
    assert not Disclosure.objects.filter(request=rr).exists()
    rr.refresh_from_db()
    assert rr.state == S.EXCEPTION  # back in exception, with an owner
    reopened = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    assert reopened.reason == "authorization_revoked"
    assert reopened.owner == alice
    row = ReleaseRefusal.objects.get(request=rr)
    assert (row.action, row.actor, row.owner, row.episode) == (ReleaseAction.DELIVER, sam, alice, reopened)
    assert row.refusals[0]["citation"]


def test_164_508_b_5_the_revocation_applies_at_once_to_every_open_request_relying_on_it(request_in_state, alice, sam):
    first = _ready(request_in_state, alice, sam)
    auth = IntakeReview.objects.get(request=first).authorization
    second = request_in_state(S.VALIDATED, patient=first.patient, requestor=first.requestor, assignee=sam)
    IntakeReview.objects.create(tenant=first.tenant, request=second, authorization=auth)
    waiting = request_in_state(S.EXCEPTION, patient=first.patient, requestor=first.requestor)
    IntakeReview.objects.create(tenant=first.tenant, request=waiting, authorization=auth)
    other_patient = _ready(request_in_state, alice, sam)

    outcome = _revoke(first, sam)

    assert {r.pk for r in outcome.stopped} == {first.pk, second.pk, waiting.pk}
    for rr in (first, second, waiting):
        rr.refresh_from_db()
        assert (rr.state, rr.exception_reason) == (S.EXCEPTION, "authorization_revoked"), rr
        assert ExceptionEpisode.objects.filter(request=rr, resolved_at__isnull=True).count() == 1
    assert ExceptionEpisode.objects.get(request=second, resolved_at__isnull=True).owner == sam
    other_patient.refresh_from_db()
    assert other_patient.state == S.IN_FULFILLMENT
    # The third-party requestor hears that a new authorization is needed (no PHI: the status page says the rest).
    assert Notification.objects.filter(kind="requestor_action_needed", dedupe_key__contains=f":{second.pk}:").exists()


def test_164_508_b_5_links_already_issued_stop_and_disclosures_made_before_stand(request_in_state, alice, sam):
    rr, result = _by_link(request_in_state, alice, sam, DeliveryMethod.EMAIL_LINK, request_type=RequestType.LEGAL)
    disclosures_before = Disclosure.objects.filter(request=rr).count()
    assert disclosures_before == 1  # a subpoena's release is accountable
    # The authorization record on a legal request only serves this test's revocation.
    IntakeReview.objects.filter(request=rr).update(authorization=factories.AuthorizationFactory(
        tenant=rr.tenant, patient=rr.patient, document=factories.IntakeDocumentFactory(request=rr, tenant=rr.tenant)))  # fmt: skip

    outcome = _revoke(rr, sam)

    assert outcome.links_revoked == 1
    assert [r.pk for r in outcome.delivered] == [rr.pk]
    result.link.refresh_from_db()
    assert result.link.revoked_at is not None
    with pytest.raises(links.LinkUnavailable):
        links.download_link_use(token=result.token, http_request=None, actor_label="test")
    assert Disclosure.objects.filter(request=rr).count() == disclosures_before


def test_each_download_asks_the_gate_and_a_refused_one_takes_no_use_and_tells_the_owner(request_in_state, alice, sam):
    rr, result = _by_link(request_in_state, alice, sam, DeliveryMethod.PORTAL_DOWNLOAD)
    assert links.download_link_use(token=result.token, http_request=None, actor_label="verified").content
    # The authorization expires by its event afterwards (the lawsuit settled), with the link still active.
    auth = IntakeReview.objects.get(request=rr).authorization
    auth.expires_on = None
    auth.expiration_event = "End of the lawsuit"
    auth.expiration_event_occurred_on = auth.signed_on + timedelta(days=1)
    auth.save()

    with pytest.raises(links.LinkUnavailable):
        links.download_link_use(token=result.token, http_request=None, actor_label="verified")

    result.link.refresh_from_db()
    assert result.link.uses == 1  # the refused download gave its use back
    row = ReleaseRefusal.objects.get(request=rr, action=ReleaseAction.DOWNLOAD)
    assert "AUTH_EXPIRATION_EVENT_OCCURRED" in [r["code"] for r in row.refusals]
    assert row.actor is None
    assert row.actor_label.startswith("verified")
    assert row.owner == alice
    rr.refresh_from_db()
    assert rr.state == S.DELIVERED  # a delivered request cannot enter exception: its owner is told instead
    assert Notification.objects.filter(kind="release_refused", recipient=alice).exists()


# --- Expiry, changes and QC --------------------------------------------------------------------------------------


def test_164_508_b_2_i_an_authorization_that_expires_after_qc_refuses_the_release(request_in_state, alice, sam):
    rr = _ready(request_in_state, alice, sam)
    auth = IntakeReview.objects.get(request=rr).authorization
    later = datetime.combine(auth.expires_on + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    with clock.frozen(later), pytest.raises(gate.ReleaseRefused) as refused:
        _deliver(rr, alice, sam)
    assert "AUTH_EXPIRED" in {r.code for r in refused.value.verdict.refusals}
    assert "164.508(b)(2)(i)" in refused.value.message


def test_qc_passed_for_exactly_this_packet_version(request_in_state, alice, sam):
    rr = _ready(request_in_state, alice, sam)
    packet(rr, builder=alice)  # a new version, never reviewed
    verdict = _verdict(rr)
    assert "QC_NOT_PASSED" in _codes(verdict)


def test_a_page_left_out_after_qc_voids_the_pass(request_in_state, alice, sam):
    rr = _ready(request_in_state, alice, sam)
    doc = rr.release_documents.get()
    from fulfillment.documents import page_exclusion_add

    page_exclusion_add(
        tenant=rr.tenant, actor=alice, document=doc, first_page=2, last_page=2, reason="other_patient", note="x"
    )
    with pytest.raises(gate.ReleaseRefused) as refused:
        _deliver(rr, alice, sam)
    codes = {r.code for r in refused.value.verdict.refusals}
    assert {"CHANGED_SINCE_QC", "PACKET_STALE"} <= codes
    assert "the documents in the packet or their excluded pages" in refused.value.message
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT  # unfinished work, not a rule of law: no exception, the message says what to do
    assert ReleaseRefusal.objects.get(request=rr).episode is None


def test_a_consent_or_a_basis_changed_after_qc_voids_the_first_release(request_in_state, alice, sam):
    rr = _ready(request_in_state, alice, sam)
    review = IntakeReview.objects.get(request=rr)
    review.consents_received = [SensitiveCategory.HIV]
    review.save()
    current = qc.current_packet(tenant=rr.tenant, record_request=rr)
    verdict = gate.release_verdict(tenant=rr.tenant, record_request=rr, packet=current, action=ReleaseAction.DELIVER)
    assert [r.message for r in verdict.refusals if r.code == "CHANGED_SINCE_QC"] == [
        f"Changed since QC passed on packet v{current.version}: the sensitive categories or the consents on file."
    ]


def test_a_resend_and_a_new_link_ask_the_gate_too(request_in_state, alice, sam):
    rr, first = _by_link(request_in_state, alice, sam, DeliveryMethod.EMAIL_LINK)
    _revoke(rr, sam)
    with pytest.raises(gate.ReleaseRefused):
        delivery.delivery_resend(
            tenant=rr.tenant, actor=alice, record_request=rr, original=first.delivery,
            reason=ResendReason.NOT_RECEIVED, evidence=delivery.Evidence(method=DeliveryMethod.EMAIL_LINK, destination=EMAIL),
        )  # fmt: skip
    with pytest.raises(gate.ReleaseRefused):
        delivery.download_link_reissue(tenant=rr.tenant, actor=alice, record_request=rr, delivery_id=first.delivery.pk)
    assert Delivery.objects.filter(request=rr).count() == 1
    assert DownloadLink.objects.filter(delivery__request=rr).count() == 1
    assert {row.action for row in ReleaseRefusal.objects.filter(request=rr)} == {
        ReleaseAction.RESEND,
        ReleaseAction.LINK,
    }


def test_a_packet_that_passed_qc_downloads_for_staff_only_if_the_gate_allows_it(
    client_for, request_in_state, alice, sam
):
    rr = _ready(request_in_state, alice, sam)
    url = reverse("fulfillment:packet-download", args=[rr.tracking_number, qc.current_packet(
        tenant=rr.tenant, record_request=rr).pk])  # fmt: skip
    client = client_for(alice)
    assert client.get(url)["Content-Type"] == "application/pdf"
    _revoke(rr, sam)
    refused = client.get(url)
    assert refused.status_code == 302
    assert refused["Location"].startswith(reverse("workflow:detail", args=[rr.tracking_number]))


# --- The request page shows the verdict live -----------------------------------------------------------------------


def test_the_request_page_shows_the_gates_verdict_and_offers_delivery_only_when_allowed(client_for, request_in_state,
                                                                                       alice, sam):  # fmt: skip
    rr = _ready(request_in_state, alice, sam)
    client = client_for(alice)
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert 'data-verdict="allowed"' in page
    assert reverse("fulfillment:deliver", args=[rr.tracking_number]) in page
    auth = IntakeReview.objects.get(request=rr).authorization
    auth.expires_on = timezone.localdate(timezone=rr.tenant.tzinfo) - timedelta(days=1)
    auth.signed_on = auth.expires_on - timedelta(days=30)
    auth.save()
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert 'data-verdict="refused"' in page
    assert 'data-code="AUTH_EXPIRED"' in page
    assert "164.508(b)(2)(i)" in page
    assert f'action="{reverse("fulfillment:deliver", args=[rr.tracking_number])}"' not in page
    # QC's basis check says the same: "every check passed" never sits beside an expired authorization.
    assert "QC passed" in page


# --- Psychotherapy notes under the right of access -----------------------------------------------------------------


@pytest.fixture
def notes_request(tenant_a, alice, sam):
    """A patient's right-of-access request for lab results and psychotherapy notes, validated by the checklist."""
    from intake import services as intake_services

    template = factories.RecordRequestFactory.build(tenant=tenant_a)
    rr = intake_services.intake_receive(
        tenant=tenant_a, actor=alice, channel="fax", request_type=RequestType.RIGHT_OF_ACCESS, acknowledge=False,
        patient=factories.PatientFactory(tenant=tenant_a),
        requestor=factories.RequestorFactory(tenant=tenant_a, kind=RequestorKind.PATIENT),
        record_types=[RecordType.LAB, RecordType.PSYCHOTHERAPY_NOTES], scope_date_from=template.scope_date_from,
        scope_date_to=template.scope_date_to, delivery_method=DeliveryMethod.FAX, delivery_destination=FAX,
    )  # fmt: skip
    from workflow import services as workflow_services

    workflow_services.request_assign(tenant=tenant_a, actor=sam, record_request=rr, assignee=alice)
    rr.refresh_from_db()
    factories.complete_review(rr)
    assert intake_services.intake_complete(tenant=rr.tenant, actor=alice, record_request=rr).validated
    rr.refresh_from_db()
    return rr


def test_164_524_a_1_i_psychotherapy_notes_are_a_record_type_that_makes_the_request_restricted(notes_request):
    assert SensitiveCategory.PSYCHOTHERAPY_NOTES in notes_request.sensitive_categories


def test_164_524_a_1_i_supervisors_are_told_and_the_first_release_waits_for_the_denial(notes_request, alice, sam):
    rr = notes_request
    assert Notification.objects.filter(kind="psychotherapy_denial_due", recipient=sam).exists()
    lab = document(rr, record_type=RecordType.LAB)
    packet(rr, builder=alice, documents=[lab])
    verdict = _verdict(rr)
    assert "PSYCHOTHERAPY_DENIAL_NOT_WRITTEN" in _codes(verdict)

    denial = denials.psychotherapy_notes_deny(tenant=rr.tenant, actor=sam, record_request=rr)

    assert (denial.basis, denial.partial, denial.determined_by) == ("psychotherapy_notes", True, None)
    assert denial.letter is not None
    assert not denials.is_reviewable(denial.basis)
    verdict = _verdict(rr)
    assert "PSYCHOTHERAPY_DENIAL_NOT_WRITTEN" not in _codes(verdict)
    with pytest.raises(ServiceError, match="no psychotherapy notes to deny"):
        denials.psychotherapy_notes_deny(tenant=rr.tenant, actor=sam, record_request=rr)


def test_164_524_a_1_i_psychotherapy_notes_never_leave_under_the_right_of_access(notes_request, alice, sam):
    rr = notes_request
    denials.psychotherapy_notes_deny(tenant=rr.tenant, actor=sam, record_request=rr)
    notes = ReleaseDocumentFactory(request=rr, tenant=rr.tenant, record_type=RecordType.PSYCHOTHERAPY_NOTES,
                                   sensitive_categories=["psychotherapy_notes"], patient_confirmed=True)  # fmt: skip
    packet(rr, builder=alice, documents=[notes])
    verdict = _verdict(rr)
    assert "PSYCHOTHERAPY_NOTES_UNDER_RIGHT_OF_ACCESS" in _codes(verdict)


def test_psychotherapy_notes_retrieved_after_their_denial_are_withheld_as_they_arrive(notes_request, alice, sam):
    from fulfillment.documents import release_document_upload

    rr = notes_request
    denials.psychotherapy_notes_deny(tenant=rr.tenant, actor=sam, record_request=rr)
    notes = release_document_upload(
        tenant=rr.tenant, actor=alice, record_request=rr, source="ehr_him", record_type=RecordType.PSYCHOTHERAPY_NOTES,
        uploaded_file=SimpleUploadedFile("notes.pdf", make_pdf(2, "Session"), "application/pdf"),
    )  # fmt: skip
    assert notes.excluded_reason == "denied"


def test_a_supervisor_denies_the_notes_of_a_restricted_request_without_opening_it(client_for, notes_request, alice,
                                                                                  sam):  # fmt: skip
    rr = notes_request  # restricted (psychotherapy notes) and assigned to Alice: Sam may not open it
    client = client_for(sam)
    restricted = client.get(reverse("workflow:detail", args=[rr.tracking_number]))
    assert restricted.status_code == 403
    page = restricted.content.decode()
    assert rr.patient.last_name not in page
    action = reverse("fulfillment:deny-psychotherapy", args=[rr.tracking_number])
    assert f'action="{action}"' in page
    response = client.post(action)
    assert response.status_code == 302
    assert Denial.objects.filter(request=rr, basis="psychotherapy_notes").exists()
    rr.refresh_from_db()
    assert rr.assignee == alice  # not reassigned, no break-glass grant
    assert not rr.break_glass_grants.exists()
    # A specialist gets no such action, and posting it is refused.
    assert client_for(alice).post(action).status_code == 302
    assert Denial.objects.filter(request=rr).count() == 1


# --- 42 CFR Part 2 -----------------------------------------------------------------------------------------------


def test_42_cfr_2_32_the_built_packet_carries_the_whole_redisclosure_notice(request_in_state, alice):
    rr = request_in_state(S.IN_FULFILLMENT, delivery_destination=FAX)
    document(rr, sensitive_categories=[SensitiveCategory.SUD_PART2])
    built = packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr)
    assert built.includes_part2
    with built.file.open("rb") as handle:
        cover = " ".join(pdf_texts(handle.read())[:2])
    flat = " ".join(cover.split())
    assert "Notice to accompany disclosure (42 CFR 2.32)" in flat
    assert "protected by Federal confidentiality rules (42 CFR part 2)" in flat
    assert "A general authorization for the release of medical or other information is NOT sufficient" in flat


def test_42_cfr_2_32_a_cover_without_the_notice_is_refused():
    from weasyprint import HTML

    cover = PdfReader(io.BytesIO(HTML(string="<p>Cover sheet without the notice</p>").write_pdf()))
    with pytest.raises(ServiceError, match=r"42 CFR 2\.32"):
        packets.part2_notice_check(cover)


def test_42_cfr_2_61_part2_records_in_a_subpoena_release_need_consent_or_an_order(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT, delivery_destination=FAX, request_type=RequestType.LEGAL)
    factories.complete_review(rr, legal_document_type="subpoena", consents_received=[])
    part2 = document(rr, sensitive_categories=[SensitiveCategory.SUD_PART2])
    packet(rr, builder=alice, documents=[part2], includes_part2=True)
    verdict = _verdict(rr)
    assert "PART2_NO_CONSENT_OR_ORDER" in _codes(verdict)
    IntakeReview.objects.filter(request=rr).update(
        part2_court_order="2.64", part2_order_findings=["other_means", "outweighs_harm", "limited"]
    )
    verdict = _verdict(rr)
    assert not {c for c in _codes(verdict) if c.startswith("PART2_")}


# --- Representatives and directives -----------------------------------------------------------------------------


def test_164_502_g_a_representatives_unchecked_authority_refuses_the_release(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT, delivery_destination=FAX, request_type=RequestType.RIGHT_OF_ACCESS,
                          requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE)  # fmt: skip
    factories.complete_review(rr, representative={"verified_by": None, "verified_at": None})
    packet(rr, builder=alice)
    verdict = _verdict(rr)
    assert "REPRESENTATIVE_AUTHORITY_NOT_VERIFIED" in _codes(verdict)
    assert any("164.502(g)" in r.citation for r in verdict.refusals)


def test_164_502_g_3_a_parent_is_refused_the_minors_own_care_and_gets_the_rest_once_it_is_left_out(
    request_in_state, alice, sam
):
    """QC and the gate do not skip a category on the individual's own request when a parent asks for it: care the
    teenager consented to on their own leaves only with the patient's own authorization; left out, the rest goes."""
    rr = request_in_state(S.IN_FULFILLMENT, delivery_destination=FAX, request_type=RequestType.RIGHT_OF_ACCESS,
                          requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE, assignee=alice,
                          patient__date_of_birth=timezone.localdate() - timedelta(days=365 * 15))  # fmt: skip
    factories.complete_review(rr, representative={"authority_type": "parent_of_minor"})
    chart = document(rr)
    clinic = document(rr, sensitive_categories=[SensitiveCategory.MINOR_CONSENTED], original_name="teen-clinic.pdf")
    packet(rr, builder=alice, documents=[chart, clinic])
    verdict = _verdict(rr)
    assert "MINOR_CONSENTED_CARE_TO_PARENT" in _codes(verdict)
    refusal = next(r for r in verdict.refusals if r.code == "MINOR_CONSENTED_CARE_TO_PARENT")
    assert refusal.citation == "45 CFR 164.502(g)(3)(i)(A)-(C)"
    review = qc.qc_review_record(tenant=rr.tenant, actor=sam, record_request=rr, confirmed=qc.CHECK_ORDER)
    assert review.outcome == "failed"
    assert any("consented to on their own" in f["message"] for f in review.failures)

    # The minor's own care left out, for that reason, and the packet built again without it.
    release_document_exclude(tenant=rr.tenant, actor=alice, document=clinic, reason="sensitive_without_consent")
    packet(rr, builder=alice, documents=[chart])
    pass_qc(rr, reviewer=sam)
    assert _verdict(rr).allowed


def test_164_502_g_3_the_patient_asking_for_their_own_minor_consented_care_gets_it(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT, delivery_destination=FAX, request_type=RequestType.RIGHT_OF_ACCESS,
                          requestor__kind=RequestorKind.PATIENT, assignee=alice)  # fmt: skip
    factories.complete_review(rr)
    clinic = document(rr, sensitive_categories=[SensitiveCategory.MINOR_CONSENTED])
    packet(rr, builder=alice, documents=[clinic])
    pass_qc(rr, reviewer=sam)
    assert _verdict(rr).allowed


def test_164_524_c_3_ii_a_withdrawn_directive_refuses_the_release(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT, delivery_destination=FAX, request_type=RequestType.RIGHT_OF_ACCESS,
                          requestor__kind=RequestorKind.ATTORNEY, assignee=alice)  # fmt: skip
    factories.complete_review(rr)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    _revoke(rr, sam)
    rr.refresh_from_db()
    assert rr.exception_reason == "authorization_revoked"
    verdict = _verdict(rr)
    assert "DIRECTIVE_REVOKED" in _codes(verdict)


# --- The unhappy paths of recording a revocation -----------------------------------------------------------------


def test_a_revocation_needs_the_written_revocation_a_plausible_date_and_happens_once(request_in_state, alice, sam):

    rr = _ready(request_in_state, alice, sam)
    auth = IntakeReview.objects.get(request=rr).authorization
    today = timezone.localdate(timezone=rr.tenant.tzinfo)
    with pytest.raises(ServiceError, match="must be in writing"):
        revocation_record(tenant=rr.tenant, actor=sam, authorization=auth, received_on=today, uploaded_file=None)
    with pytest.raises(ServiceError, match="in the future"):
        _revoke(rr, sam, received_on=today + timedelta(days=2))
    with pytest.raises(ServiceError, match="predate"):
        _revoke(rr, sam, received_on=auth.signed_on - timedelta(days=1))
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT  # nothing half-done
    _revoke(rr, sam)
    with pytest.raises(ServiceError, match="already revoked"):
        _revoke(rr, sam)


def test_the_revocation_is_on_the_requests_timeline_with_its_document(client_for, request_in_state, alice, sam):
    rr = _ready(request_in_state, alice, sam)
    outcome = _revoke(rr, sam)
    page = client_for(alice).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Authorization revoked" in page
    document_url = reverse("intake:document-download", args=[rr.tracking_number, outcome.revocation.document_id])
    assert document_url in page
    assert outcome.revocation.document.kind == "revocation"


def test_revoking_from_the_request_page_and_the_patients_page(client_for, request_in_state, alice, sam, charlie):
    rr = _ready(request_in_state, alice, sam)
    auth = IntakeReview.objects.get(request=rr).authorization
    client = client_for(sam)
    patient_page = client.get(reverse("fulfillment:patient-authorizations", args=[rr.patient_id]))
    assert patient_page.status_code == 200
    assert rr.tracking_number in patient_page.content.decode()
    # Another organisation's staff get 404, and nothing changes.
    assert (
        client_for(charlie).get(reverse("fulfillment:patient-authorizations", args=[rr.patient_id])).status_code == 404
    )
    written = SimpleUploadedFile("revocation.pdf", make_pdf(1, "Revoked"), "application/pdf")
    missing = client.post(reverse("fulfillment:patient-revoke", args=[auth.pk]), {"received_on": str(date.today())})
    assert missing.status_code == 400  # the written revocation is required
    response = client.post(
        reverse("fulfillment:patient-revoke", args=[auth.pk]),
        {"received_on": str(timezone.localdate(timezone=rr.tenant.tzinfo)), "file": written},
    )
    assert response.status_code == 302
    auth.refresh_from_db()
    assert auth.revocation.recorded_by == sam
    rr.refresh_from_db()
    assert rr.state == S.EXCEPTION
