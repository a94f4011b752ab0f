"""The intake services end to end against PostgreSQL: receiving, the checklist's two outcomes, duplicates and the
one extension. Letters are real PDFs (WeasyPrint)."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from exceptions.models import ExceptionEpisode
from intake import authorizations, services
from intake.models import Extension, IntakeDocument, Letter
from roi import clock
from roi.errors import ServiceError
from tests import factories
from tests.intake.helpers import COMPLETE_AUTHORIZATION, receive
from workflow.choices import Channel, RequestState, RequestType
from workflow.models import Patient, RecordRequest, Requestor, RequestTransition

pytestmark = pytest.mark.usefixtures("_media_in_tmp")


@pytest.fixture
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _signed_form(tenant, actor, rr):
    from intake.documents import document_add
    from tests.fulfillment.pdfs import make_pdf

    form = SimpleUploadedFile("authorization.pdf", make_pdf(1, "Authorization"), content_type="application/pdf")
    return document_add(tenant=tenant, actor=actor, record_request=rr, uploaded_file=form, kind="authorization")


def _record_authorization(tenant, actor, rr, **fields):
    """The specialist records the authorization from the signed form received with the request."""
    values = {
        "document": _signed_form(tenant, actor, rr),
        "signer_name": "Rosa Diaz",
        "signed_on": timezone.localdate() - timedelta(days=5),
        "recipient": "Hartley & Moss LLP",
        "expires_on": timezone.localdate() + timedelta(days=200),
        **fields,
    }
    return authorizations.authorization_record(tenant=tenant, actor=actor, record_request=rr, **values)


def test_receive_records_a_request_with_its_due_date_and_acknowledgment(
    tenant_a, alice, django_capture_on_commit_callbacks
):
    received_at = datetime(2026, 3, 2, 17, 0, tzinfo=ZoneInfo("UTC"))
    with django_capture_on_commit_callbacks() as callbacks, clock.frozen(received_at + timedelta(minutes=5)):
        rr = receive(tenant_a, alice, request_type=RequestType.RIGHT_OF_ACCESS, received_at=received_at,
                      requestor_data={"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"})  # fmt: skip
    assert rr.state == RequestState.RECEIVED
    assert rr.channel == Channel.FAX
    # Tenant A is in California: the 15-day example rule beats HIPAA's 30 days.
    assert rr.legal_due_date == date(2026, 3, 17)
    letter = Letter.objects.get(request=rr)
    assert letter.kind == "acknowledgment"
    assert letter.file.read(5) == b"%PDF-"
    assert len(callbacks) == 1  # the acknowledgment email, sent after commit


def test_receive_matches_the_patient_by_mrn_and_refuses_conflicting_demographics(tenant_a, alice):
    first = receive(tenant_a, alice, acknowledge=False)
    again = receive(tenant_a, alice, acknowledge=False)
    assert again.patient_id == first.patient_id
    with pytest.raises(ServiceError, match="belongs to a patient with a different name or date of birth"):
        receive(
            tenant_a,
            alice,
            acknowledge=False,
            patient_data={"mrn": "A100", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": date(1981, 5, 4)},
        )


def test_a_bad_document_leaves_nothing_behind(tenant_a, alice):
    before = (RecordRequest.objects.count(), Patient.objects.count(), Requestor.objects.count(), Letter.objects.count())
    bad = SimpleUploadedFile("authorization.pdf", b"MZ\x90\x00 not really a pdf", content_type="application/pdf")
    with pytest.raises(ServiceError, match=r"authorization\.pdf"):
        receive(tenant_a, alice, documents=[services.IncomingDocument(bad, "authorization", "staff_upload")])
    after = (RecordRequest.objects.count(), Patient.objects.count(), Requestor.objects.count(), Letter.objects.count())
    assert after == before
    assert IntakeDocument.objects.count() == 0


def test_a_complete_checklist_validates_the_request(tenant_a, alice):
    rr = receive(tenant_a, alice, acknowledge=False)
    assert rr.intake_completed_at is None
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **COMPLETE_AUTHORIZATION)
    _record_authorization(tenant_a, alice, rr)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert outcome.validated
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert rr.intake_completed_at is not None
    assert RequestTransition.objects.filter(request=rr, transition="validate", actor=alice).exists()


def test_a_deficient_authorization_opens_an_exception_with_next_step_and_letter(tenant_a, alice):
    rr = receive(tenant_a, alice, acknowledge=False)
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **COMPLETE_AUTHORIZATION)
    _record_authorization(tenant_a, alice, rr, expires_on=None)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert not outcome.validated
    assert [d.code for d in outcome.deficiencies] == ["AUTH_NO_EXPIRATION"]
    rr.refresh_from_db()
    assert rr.state == RequestState.EXCEPTION
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    assert episode.reason == "incomplete_authorization"
    assert episode.deficiency_codes == ["AUTH_NO_EXPIRATION"]
    assert episode.owner == alice
    assert "deficiency letter" in episode.next_step
    assert episode.next_action_due == clock.now().astimezone(tenant_a.tzinfo).date() + timedelta(days=7)
    letter = Letter.objects.get(request=rr, kind="deficiency")
    assert letter.summary["deficiencies"][0]["code"] == "AUTH_NO_EXPIRATION"
    # The legal clock keeps running while the requestor fixes the form.
    assert rr.legal_due_date == outcome.record_request.legal_due_date


def test_a_possible_duplicate_must_be_settled_before_the_checklist_runs(tenant_a, alice):
    original = receive(tenant_a, alice, acknowledge=False)
    repeat = receive(tenant_a, alice, acknowledge=False)
    assert list(services.possible_duplicates(tenant=tenant_a, record_request=repeat)) == [original]
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=repeat, **COMPLETE_AUTHORIZATION)
    _record_authorization(tenant_a, alice, repeat)
    with pytest.raises(ServiceError, match="possible duplicate"):
        services.intake_complete(tenant=tenant_a, actor=alice, record_request=repeat)
    services.duplicate_mark_distinct(tenant=tenant_a, actor=alice, record_request=repeat)
    assert services.intake_complete(tenant=tenant_a, actor=alice, record_request=repeat).validated


def test_fixing_what_the_checklist_flagged_resolves_the_exception_and_validates_in_one_action(tenant_a, alice):
    rr = receive(tenant_a, alice, acknowledge=False)
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **COMPLETE_AUTHORIZATION)
    first = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert [d.code for d in first.deficiencies] == ["AUTH_NOT_ON_FILE"]
    assert Letter.objects.filter(request=rr, kind="deficiency").count() == 1
    # The signed form arrives; recording it checks the request again in the same action.
    _, outcome = services.basis_record_and_resume(
        tenant=tenant_a,
        actor=alice,
        record_request=rr,
        record=lambda: _record_authorization(tenant_a, alice, rr),
    )
    assert outcome is not None
    assert outcome.resolved
    assert outcome.validated
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    episode = ExceptionEpisode.objects.get(request=rr)
    assert episode.resolved_at is not None
    assert "AUTH_NOT_ON_FILE" in episode.resolution
    assert Letter.objects.filter(request=rr, kind="deficiency").count() == 1  # no second deficiency letter
    assert list(RequestTransition.objects.filter(request=rr).values_list("transition", flat=True)) == [
        "raise_exception",
        "resolve",
        "validate",
    ]


def test_running_the_checklist_again_on_the_same_findings_sends_no_second_letter(tenant_a, alice):
    rr = receive(tenant_a, alice, acknowledge=False)
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **COMPLETE_AUTHORIZATION)
    services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    again = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert not again.validated
    assert again.letter is None
    assert Letter.objects.filter(request=rr, kind="deficiency").count() == 1
    # A new finding is lettered alone: the purpose statement is missing too now.
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, auth_states_purpose=False)
    third = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert [d["code"] for d in third.letter.summary["deficiencies"]] == ["AUTH_NO_PURPOSE"]
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    assert episode.deficiency_codes == ["AUTH_NOT_ON_FILE", "AUTH_NO_PURPOSE"]


def test_164_502_g_a_representatives_authority_is_recorded_from_its_document_and_names_who_checked_it(tenant_a, alice):
    rr = receive(
        tenant_a,
        alice,
        acknowledge=False,
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor_data={"kind": "personal_representative", "name": "Ann Diaz", "email": "ann@example.com"},
    )
    services.intake_review_save(
        tenant=tenant_a, actor=alice, record_request=rr, identity_verified=True, identity_method="notarized"
    )
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert [d.code for d in outcome.deficiencies] == ["REPRESENTATIVE_AUTHORITY_MISSING"]
    poa = _signed_form(tenant_a, alice, rr)
    with pytest.raises(ServiceError, match="Choose the document"):
        authorizations.representative_record(
            tenant=tenant_a,
            actor=alice,
            record_request=rr,
            name="Ann Diaz",
            authority_type="healthcare_poa",
            document=None,
        )
    rep, resumed = services.basis_record_and_resume(
        tenant=tenant_a,
        actor=alice,
        record_request=rr,
        record=lambda: authorizations.representative_record(
            tenant=tenant_a,
            actor=alice,
            record_request=rr,
            name="Ann Diaz",
            authority_type="healthcare_poa",
            document=poa,
        ),
    )
    assert (rep.verified_by, rep.document) == (alice, poa)
    assert resumed.resolved
    assert resumed.validated


def test_linking_a_duplicate_cancels_it_with_the_reference(tenant_a, alice):
    original = receive(tenant_a, alice, acknowledge=False)
    repeat = receive(tenant_a, alice, acknowledge=False)
    services.duplicate_link(tenant=tenant_a, actor=alice, record_request=repeat, original=original)
    repeat.refresh_from_db()
    assert repeat.state == RequestState.CANCELLED
    assert repeat.duplicate_of == original
    assert RequestTransition.objects.get(request=repeat).reason == f"Duplicate of {original.tracking_number}."


def test_requests_outside_the_duplicate_window_are_not_flagged(tenant_a, alice):
    old = datetime.now(ZoneInfo("UTC")) - timedelta(days=120)
    with clock.frozen(old):
        receive(tenant_a, alice, acknowledge=False, received_at=old)
    recent = receive(tenant_a, alice, acknowledge=False)
    assert not services.possible_duplicates(tenant=tenant_a, record_request=recent).exists()


@pytest.fixture
def roa_request(tenant_b, charlie):
    """A right-of-access request in tenant B (New York: the 10-day example rule, no extension)."""
    return receive(
        tenant_b,
        charlie,
        acknowledge=False,
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor_data={"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"},
    )


def test_an_extension_is_refused_where_the_binding_state_rule_allows_none(tenant_b, charlie, roa_request):
    with pytest.raises(ServiceError, match=r"NY rule \(N.Y. Public Health Law 18\(2\)\) .* allows no extension"):
        services.extension_grant(tenant=tenant_b, actor=charlie, record_request=roa_request, reason="Archive retrieval")


@pytest.fixture
def illinois(db):
    tenant = factories.TenantFactory(slug="illinois", jurisdiction="IL", timezone="America/Chicago")
    user = factories.MembershipFactory(tenant=tenant, user__username="ivy").user
    return tenant, user


def test_one_extension_of_at_most_30_days_with_a_notice(illinois):
    tenant, user = illinois
    rr = receive(tenant, user, acknowledge=False, request_type=RequestType.RIGHT_OF_ACCESS,
                  requestor_data={"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"})  # fmt: skip
    original = rr.legal_due_date
    with pytest.raises(ServiceError, match="1 to 30 days"):
        services.extension_grant(tenant=tenant, actor=user, record_request=rr, reason="Off-site", days=31)
    extension = services.extension_grant(
        tenant=tenant, actor=user, record_request=rr, reason="Records in off-site storage"
    )
    rr.refresh_from_db()
    assert rr.legal_due_date == original + timedelta(days=30)
    assert (extension.original_due_date, extension.new_due_date) == (original, rr.legal_due_date)
    assert Letter.objects.get(request=rr, kind="extension").summary["new_due_date"] == rr.legal_due_date.isoformat()
    with pytest.raises(ServiceError, match="already extended once"):
        services.extension_grant(tenant=tenant, actor=user, record_request=rr, reason="again")
    assert Extension.objects.filter(request=rr).count() == 1


def test_an_extension_after_the_due_date_is_refused(illinois):
    tenant, user = illinois
    rr = receive(tenant, user, acknowledge=False, request_type=RequestType.RIGHT_OF_ACCESS,
                  requestor_data={"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"})  # fmt: skip
    late = datetime.combine(rr.legal_due_date + timedelta(days=1), datetime.min.time(), tzinfo=tenant.tzinfo).replace(
        hour=12
    )
    with clock.frozen(late), pytest.raises(ServiceError, match="has passed"):
        services.extension_grant(tenant=tenant, actor=user, record_request=rr, reason="late")
    rr.refresh_from_db()
    assert not Extension.objects.filter(request=rr).exists()


def test_only_right_of_access_and_accounting_can_be_extended(illinois):
    tenant, user = illinois
    rr = receive(tenant, user, acknowledge=False)
    with pytest.raises(ServiceError, match="Only right-of-access and accounting"):
        services.extension_grant(tenant=tenant, actor=user, record_request=rr, reason="x")


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attempts=st.lists(
        st.tuples(st.integers(min_value=-5, max_value=40), st.integers(min_value=0, max_value=45)), max_size=5
    )
)
def test_due_dates_only_move_forward_and_extend_at_most_once(illinois, attempts):
    """Whatever sequence of extension attempts (days asked, days after receipt), the due date never moves back,
    moves at most once, and by at most the rule's 30 days."""
    tenant, user = illinois
    rr = receive(tenant, user, acknowledge=False, request_type=RequestType.RIGHT_OF_ACCESS,
                  requestor_data={"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"})  # fmt: skip
    original = rr.legal_due_date
    seen = [original]
    for days, offset in attempts:
        moment = rr.received_at + timedelta(days=offset)
        with clock.frozen(moment), contextlib.suppress(ServiceError):
            services.extension_grant(tenant=tenant, actor=user, record_request=rr, reason="r", days=days)
        rr.refresh_from_db()
        assert rr.legal_due_date >= seen[-1]
        seen.append(rr.legal_due_date)
    assert Extension.objects.filter(request=rr).count() <= 1
    assert rr.legal_due_date - original <= timedelta(days=30)
    assert len(set(seen)) <= 2


def test_saving_the_checklist_records_who_and_when_in_the_requests_history(tenant_a, alice):
    rr = receive(tenant_a, alice, acknowledge=False)
    then = timezone.now() - timedelta(days=3)
    with clock.frozen(then):
        services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **COMPLETE_AUTHORIZATION)
    change = rr.history.order_by("-history_id").first()
    assert (change.history_user, change.history_date) == (alice, then)
