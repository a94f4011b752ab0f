"""The intake checklist page (sections for the request's basis, save, run), possible duplicates, the extension and
letter downloads on the intake panel; each page scoped to the tenant (Charlie of tenant B gets 404 everywhere)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from exceptions.choices import ExceptionReason
from exceptions.models import ExceptionEpisode
from intake.choices import LetterKind
from intake.models import Extension, IntakeReview, Letter
from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from workflow.choices import RequestorKind, RequestState, RequestType, SensitiveCategory
from workflow.deadlines import local_date
from workflow.models import RecordRequest, RequestTransition


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Letters (PDFs) are written under MEDIA_ROOT: keep this module's out of the working tree."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _today(tenant: Any):
    return local_date(clock.now(), tenant)


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _input(page: str, name: str) -> str:
    """The <input> tag of the field `name` on a page."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert match, f"no input {name}"
    return match.group(0)


def _checklist_url(rr: RecordRequest) -> str:
    return reverse("intake:checklist", args=[rr.tracking_number])


def _needs_checklist(tenant: Any, **fields: Any) -> RecordRequest:
    """A received request whose intake checklist has not run yet."""
    return factories.RecordRequestFactory(tenant=tenant, intake_completed_at=None, **fields)


def _right_of_access(tenant: Any, kind: str = RequestorKind.PATIENT, **fields: Any) -> RecordRequest:
    requestor = factories.RequestorFactory(tenant=tenant, kind=kind)
    return _needs_checklist(tenant, request_type=RequestType.RIGHT_OF_ACCESS, requestor=requestor, **fields)


def _complete_authorization(tenant: Any) -> dict[str, str]:
    """Every 164.508(c) element and statement confirmed, as the checklist form posts them."""
    return {
        "auth_describes_information": "on",
        "auth_names_discloser": "on",
        "auth_names_recipient": "on",
        "auth_states_purpose": "on",
        "auth_right_to_revoke_statement": "on",
        "auth_conditioning_statement": "on",
        "auth_redisclosure_statement": "on",
        "auth_plain_language": "on",
    }


def _record_authorization(client: Any, rr: RecordRequest, **fields: Any) -> Any:
    """What the specialist types from the signed form into "Record it from the signed form" on the checklist page."""
    document = factories.IntakeDocumentFactory(request=rr, tenant=rr.tenant)
    today = _today(rr.tenant)
    data = {
        "document": str(document.pk),
        "signer_name": rr.patient.full_name,
        "signed_on": (today - timedelta(days=5)).isoformat(),
        "expires_on": (today + timedelta(days=180)).isoformat(),
        "recipient": rr.requestor.organization or rr.requestor.name,
        **fields,
    }
    return client.post(reverse("intake:authorization-record", args=[rr.tracking_number]), data)


def _post_checklist(client: Any, rr: RecordRequest, answers: dict[str, str], *, run: bool = False) -> Any:
    data = {"expected_state": rr.state, **answers, ("run" if run else "save"): "1"}
    return client.post(_checklist_url(rr), data)


# --- The page and its sections ------------------------------------------------------------------------------


def test_attorney_authorization_shows_the_164_508_sections_and_not_identity(client_for, alice, tenant_a):
    rr = _needs_checklist(tenant_a)

    response = client_for(alice).get(_checklist_url(rr))

    assert response.status_code == 200
    page = response.content.decode()
    assert "HIPAA authorization (45 CFR 164.508)" in page
    for section in ("auth-elements", "auth-statements", "auth-defects"):
        assert f'id="section-{section}"' in page
    assert 'id="section-identity"' not in page
    assert 'name="identity_verified"' not in page
    assert "Does it state the purpose of the release?" in page
    assert "45 CFR 164.508(c)(1)(iv)" in page
    assert rr.patient.full_name in page
    assert AccessEvent.objects.filter(
        tenant=tenant_a, action=AccessAction.VIEW_REQUEST, request_id=rr.pk, actor=alice
    ).exists()


def test_patient_right_of_access_shows_identity_and_not_the_authorization(client_for, alice, tenant_a):
    rr = _right_of_access(tenant_a)

    page = client_for(alice).get(_checklist_url(rr)).content.decode()

    assert 'id="section-identity"' in page
    assert 'name="identity_verified"' in page
    assert "Individual&#x27;s right of access (45 CFR 164.524)" in page
    assert 'id="section-auth-elements"' not in page
    assert 'name="auth_states_purpose"' not in page
    # A patient needs no proof of authority; a personal representative does: a document, checked by a named staff
    # member, recorded on the page (not a tick).
    assert "Personal representative's authority" not in page
    representative = _right_of_access(tenant_a, kind=RequestorKind.PERSONAL_REPRESENTATIVE)
    page = client_for(alice).get(_checklist_url(representative)).content.decode()
    assert "Personal representative's authority" in page
    assert 'name="checked"' in page
    assert reverse("intake:representative-record", args=[representative.tracking_number]) in page


@pytest.mark.parametrize(
    ("request_type", "kind", "section"),
    [
        (RequestType.CONTINUITY_OF_CARE, RequestorKind.PROVIDER, "treatment"),
        (RequestType.LEGAL, RequestorKind.ATTORNEY, "legal"),
        (RequestType.RIGHT_OF_ACCESS, RequestorKind.ATTORNEY, "directive"),
    ],
)
def test_each_basis_gets_its_own_section(client_for, alice, tenant_a, request_type, kind, section):
    rr = _needs_checklist(
        tenant_a, request_type=request_type, requestor=factories.RequestorFactory(tenant=tenant_a, kind=kind)
    )

    page = client_for(alice).get(_checklist_url(rr)).content.decode()

    sections = {
        s for s in ("identity", "directive", "auth-elements", "treatment", "legal") if f'id="section-{s}"' in page
    }
    assert sections == {section}


def test_sensitive_categories_get_one_consent_question_each(client_for, alice, tenant_a):
    # Alice is its assignee: a request with sensitive categories opens only for them (workflow/break_glass.py).
    rr = _needs_checklist(
        tenant_a, assignee=alice, sensitive_categories=[SensitiveCategory.HIV, SensitiveCategory.SUD_PART2]
    )
    client = client_for(alice)

    page = client.get(_checklist_url(rr)).content.decode()
    assert 'id="section-sensitive"' in page
    assert 'name="consent_hiv"' in page
    assert 'name="consent_sud_part2"' in page
    assert 'name="consent_genetic"' not in page
    assert "42 CFR 2.31" in page

    response = _post_checklist(client, rr, {"consent_hiv": "on"})

    assert response.status_code == 302
    assert IntakeReview.objects.get(request=rr).consents_received == [SensitiveCategory.HIV]
    no_categories = _needs_checklist(tenant_a)
    assert 'id="section-sensitive"' not in client.get(_checklist_url(no_categories)).content.decode()


def test_saving_stores_the_answers_and_lists_what_is_still_missing(client_for, alice, tenant_a):
    rr = _needs_checklist(tenant_a)
    answers = _complete_authorization(tenant_a)
    del answers["auth_plain_language"]
    client = client_for(alice)

    response = _post_checklist(client, rr, answers)

    assert response.status_code == 302
    assert response["Location"] == _checklist_url(rr)
    assert "Checklist saved." in _messages(response)
    review = IntakeReview.objects.get(request=rr)
    assert not review.auth_plain_language
    assert review.auth_names_recipient
    assert review.reviewed_by == alice
    rr.refresh_from_db()
    assert rr.state == RequestState.RECEIVED
    page = client.get(_checklist_url(rr)).content.decode()
    assert 'data-code="AUTH_NOT_ON_FILE"' in page
    assert 'data-code="AUTH_NOT_PLAIN_LANGUAGE"' in page
    assert 'data-code="AUTH_NO_PURPOSE"' not in page
    assert " checked" in _input(page, "auth_states_purpose")
    # A revocation is a record of its own, never a tick.
    assert 'name="auth_revoked"' not in page


def test_the_authorization_form_refuses_a_signature_date_in_the_future_and_keeps_nothing(client_for, alice, tenant_a):
    from intake.models import Authorization

    rr = _needs_checklist(tenant_a)
    response = _record_authorization(
        client_for(alice), rr, signed_on=(_today(tenant_a) + timedelta(days=3)).isoformat()
    )

    assert response.status_code == 400
    assert "The signature date is in the future" in response.content.decode()
    assert not Authorization.objects.filter(patient=rr.patient).exists()


def test_run_on_a_complete_authorization_validates_the_request(client_for, alice, tenant_a):
    rr = _needs_checklist(tenant_a)
    client = client_for(alice)
    _post_checklist(client, rr, _complete_authorization(tenant_a))
    recorded = _record_authorization(client, rr)
    assert recorded.status_code == 302
    assert IntakeReview.objects.get(request=rr).authorization.recorded_by == alice

    response = _post_checklist(client, rr, _complete_authorization(tenant_a), run=True)

    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:detail", args=[rr.tracking_number])
    assert any(m.startswith("Validated") for m in _messages(response))
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert rr.intake_completed_at is not None
    log = RequestTransition.objects.get(request=rr)
    assert (log.transition, log.from_state, log.to_state, log.actor) == (
        "validate",
        RequestState.RECEIVED,
        RequestState.VALIDATED,
        alice,
    )


def test_run_on_an_authorization_without_expiration_opens_an_exception_with_a_letter(client_for, alice, tenant_a):
    rr = _needs_checklist(tenant_a)
    client = client_for(alice)
    _record_authorization(client, rr, expires_on="")

    response = _post_checklist(client, rr, _complete_authorization(tenant_a), run=True)

    assert response.status_code == 302
    assert "Exception opened: Incomplete authorization; deficiency letter generated." in _messages(response)
    rr.refresh_from_db()
    assert rr.state == RequestState.EXCEPTION
    assert rr.intake_completed_at is None
    episode = ExceptionEpisode.objects.get(request=rr)
    assert episode.reason == ExceptionReason.INCOMPLETE_AUTHORIZATION
    assert episode.deficiency_codes == ["AUTH_NO_EXPIRATION"]
    assert episode.next_step
    assert episode.next_action_due == _today(tenant_a) + timedelta(days=tenant_a.deficiency_follow_up_days)
    letter = Letter.objects.get(request=rr, kind=LetterKind.DEFICIENCY)
    assert [d["code"] for d in letter.summary["deficiencies"]] == ["AUTH_NO_EXPIRATION"]
    assert [d["subject"] for d in letter.summary["deficiencies"]] == ["Authorization"]


def test_in_exception_recording_the_corrected_form_resolves_it_and_validates_in_one_action(client_for, alice, tenant_a):
    rr = _needs_checklist(tenant_a)
    client = client_for(alice)
    _record_authorization(client, rr, expires_on="")
    _post_checklist(client, rr, _complete_authorization(tenant_a), run=True)
    rr.refresh_from_db()
    assert rr.state == RequestState.EXCEPTION

    page = client.get(_checklist_url(rr)).content.decode()
    assert "Save checklist" in page
    assert "Save and check again" in page

    # The corrected, signed form arrives with an expiration date: recording it is the whole fix.
    response = _record_authorization(client, rr)

    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:detail", args=[rr.tracking_number])
    assert any("the exception is resolved and the request is validated" in m for m in _messages(response))
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert ExceptionEpisode.objects.get(request=rr).resolved_at is not None
    assert Letter.objects.filter(request=rr, kind=LetterKind.DEFICIENCY).count() == 1


def test_a_validated_request_shows_its_saved_answers_read_only(client_for, alice, tenant_a):
    rr = _needs_checklist(tenant_a)
    client = client_for(alice)
    _record_authorization(client, rr)
    _post_checklist(client, rr, _complete_authorization(tenant_a), run=True)
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED

    response = client.get(_checklist_url(rr))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Read only" in page
    assert "Save checklist" not in page
    assert " checked" in _input(page, "auth_plain_language")
    assert " disabled" in _input(page, "auth_plain_language")
    response = _post_checklist(client, rr, {})
    assert response.status_code == 400
    assert IntakeReview.objects.get(request=rr).auth_plain_language


# --- Possible duplicates ------------------------------------------------------------------------------------


@pytest.fixture
def duplicate_pair(tenant_a):
    """An earlier request and a new one from the same requestor about the same patient, 10 days apart."""
    earlier = factories.RecordRequestFactory(tenant=tenant_a, received_at=clock.now() - timedelta(days=10))
    later = _needs_checklist(tenant_a, patient=earlier.patient, requestor=earlier.requestor)
    return earlier, later


def test_a_possible_duplicate_blocks_the_run_until_marked_distinct(client_for, alice, tenant_a, duplicate_pair):
    earlier, rr = duplicate_pair
    client = client_for(alice)
    answers = _complete_authorization(tenant_a)

    page = client.get(_checklist_url(rr)).content.decode()
    assert 'id="duplicates-h"' in page
    assert earlier.tracking_number in page
    assert "Link as duplicate of this one" in page

    _record_authorization(client, rr)
    response = _post_checklist(client, rr, answers, run=True)
    assert response.status_code == 400
    assert "1 possible duplicate(s) found" in response.content.decode()
    rr.refresh_from_db()
    assert rr.state == RequestState.RECEIVED
    assert IntakeReview.objects.get(request=rr).auth_plain_language  # the answers were kept

    response = client.post(reverse("intake:duplicate-distinct", args=[rr.tracking_number]))
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.duplicate_reviewed_at is not None
    assert 'id="duplicates-h"' not in client.get(_checklist_url(rr)).content.decode()

    response = _post_checklist(client, rr, answers, run=True)
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED


def test_linking_a_duplicate_cancels_it_with_the_reference(client_for, alice, duplicate_pair):
    earlier, rr = duplicate_pair

    response = client_for(alice).post(
        reverse("intake:duplicate-link", args=[rr.tracking_number]), {"original": earlier.tracking_number}
    )

    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.state == RequestState.CANCELLED
    assert rr.duplicate_of == earlier
    log = RequestTransition.objects.get(request=rr)
    assert log.transition == "cancel"
    assert earlier.tracking_number in log.reason


def test_linking_refuses_an_original_that_is_not_a_possible_duplicate(
    client_for, alice, tenant_a, tenant_b, duplicate_pair
):
    _, rr = duplicate_pair
    unrelated = factories.RecordRequestFactory(tenant=tenant_a)
    foreign = factories.RecordRequestFactory(tenant=tenant_b)
    client = client_for(alice)

    for original in (unrelated, foreign):
        response = client.post(
            reverse("intake:duplicate-link", args=[rr.tracking_number]), {"original": original.tracking_number}
        )
        assert response.status_code == 400
        assert "Choose the original among this request's possible duplicates." in _messages(response)
    rr.refresh_from_db()
    assert rr.state == RequestState.RECEIVED
    assert rr.duplicate_of is None


# --- Extension ----------------------------------------------------------------------------------------------


@pytest.fixture
def tenant_il(db):
    """A tenant under federal clocks only (Illinois has no seeded state rule): 30 days, one 30-day extension."""
    return factories.TenantFactory(name="Illinois Medical Center", slug="illinois", jurisdiction="IL")


@pytest.fixture
def ivy(tenant_il):
    return factories.MembershipFactory(tenant=tenant_il, user__username="ivy").user


def _extension_url(rr: RecordRequest) -> str:
    return reverse("intake:extension", args=[rr.tracking_number])


def test_the_panel_offers_the_extension_with_the_rules_days(client_for, ivy, tenant_il):
    rr = _right_of_access(tenant_il)

    page = client_for(ivy).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()

    assert "Extend the due date (once)" in page
    assert 'name="days" value="30"' in page
    assert "45 CFR 164.524(b)(2)" in page


def test_an_extension_is_granted_once_with_its_notice(client_for, ivy, tenant_il):
    rr = _right_of_access(tenant_il)
    original_due = rr.legal_due_date
    client = client_for(ivy)

    response = client.post(_extension_url(rr), {"reason": "Records are in off-site storage.", "days": "30"})

    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.legal_due_date == original_due + timedelta(days=30)
    extension = Extension.objects.get(request=rr)
    assert (extension.original_due_date, extension.new_due_date, extension.granted_by) == (
        original_due,
        rr.legal_due_date,
        ivy,
    )
    assert Letter.objects.filter(request=rr, kind=LetterKind.EXTENSION).count() == 1
    assert f"the new due date is {rr.legal_due_date:%a %b %-d, %Y}" in " ".join(_messages(response))
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Records are in off-site storage." in page
    assert "Extend the due date (once)" not in page

    response = client.post(_extension_url(rr), {"reason": "Still waiting.", "days": "10"})

    assert response.status_code == 400
    assert "already extended once" in response.content.decode()
    rr.refresh_from_db()
    assert rr.legal_due_date == original_due + timedelta(days=30)
    assert Letter.objects.filter(request=rr, kind=LetterKind.EXTENSION).count() == 1


def test_an_extension_after_the_due_date_is_refused(client_for, ivy, tenant_il):
    rr = _right_of_access(tenant_il)
    client = client_for(ivy)

    with clock.frozen(clock.now() + timedelta(days=40)):
        response = client.post(_extension_url(rr), {"reason": "Backlog.", "days": "30"})

    assert response.status_code == 400
    assert "has passed: an extension must be given before it" in response.content.decode()
    assert not Extension.objects.filter(request=rr).exists()


def test_an_extension_longer_than_the_rule_allows_is_refused(client_for, ivy, tenant_il):
    rr = _right_of_access(tenant_il)

    response = client_for(ivy).post(_extension_url(rr), {"reason": "Backlog.", "days": "45"})

    assert response.status_code == 400
    assert not Extension.objects.filter(request=rr).exists()


def test_a_california_right_of_access_request_cannot_be_extended(client_for, alice, tenant_a):
    rr = _right_of_access(tenant_a)  # tenant A is in CA: the 15-day example rule wins and allows no extension
    client = client_for(alice)

    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Extend the due date (once)" not in page
    assert "Cal. Health &amp; Safety Code 123110(b)" in page

    response = client.post(_extension_url(rr), {"reason": "Backlog.", "days": "15"})

    assert response.status_code == 400
    assert "The CA rule (Cal. Health &amp; Safety Code 123110(b)) that sets this due date allows no extension." in (
        response.content.decode()
    )
    assert not Extension.objects.filter(request=rr).exists()


# --- Letters ------------------------------------------------------------------------------------------------


@pytest.fixture
def deficient(client_for, alice, tenant_a):
    """A request in exception with its deficiency letter (the checklist found no expiration)."""
    rr = _needs_checklist(tenant_a)
    client = client_for(alice)
    _record_authorization(client, rr, expires_on="")
    _post_checklist(client, rr, _complete_authorization(tenant_a), run=True)
    return rr, Letter.objects.get(request=rr)


def test_the_panel_lists_letters_and_a_download_is_audited(client_for, alice, tenant_a, deficient):
    rr, letter = deficient
    client = client_for(alice)
    url = reverse("intake:letter-download", args=[rr.tracking_number, letter.pk])

    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert url in page
    assert "Deficiency letter" in page

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    event = AccessEvent.objects.get(action=AccessAction.DOWNLOAD_DOCUMENT)
    assert (event.tenant, event.actor, event.request_id, event.object_id) == (tenant_a, alice, rr.pk, str(letter.pk))
    client.get(url)
    assert AccessEvent.objects.filter(action=AccessAction.DOWNLOAD_DOCUMENT).count() == 2


def test_a_letter_is_only_found_under_its_own_request(client_for, alice, tenant_a, deficient):
    _, letter = deficient
    other = _needs_checklist(tenant_a)

    response = client_for(alice).get(reverse("intake:letter-download", args=[other.tracking_number, letter.pk]))

    assert response.status_code == 404
    assert not AccessEvent.objects.filter(action=AccessAction.DOWNLOAD_DOCUMENT).exists()


# --- The intake panel ---------------------------------------------------------------------------------------


def test_the_panel_leads_to_the_checklist_and_flags_ingested_requests(client_for, alice, tenant_a):
    rr = _needs_checklist(tenant_a, needs_intake_completion=True)

    page = client_for(alice).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()

    assert "Open the intake checklist" in page
    assert _checklist_url(rr) in page
    assert "needs intake completion" in page
    summary = page[: page.index('class="workspace-grid"')]  # the next step: the details come before the checklist
    assert "Identify the patient and complete the details" in summary
    assert "Authorization lacks a specific description" in page
    # The checklist validates: the generic Validate button is not offered.
    assert reverse("workflow:transition", args=[rr.tracking_number, "validate"]) not in page


# --- Tenancy and access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "data"),
    [
        ("get", "intake:checklist", {}),
        ("post", "intake:checklist", {"expected_state": "received", "run": "1"}),
        ("post", "intake:duplicate-link", {"original": "x"}),
        ("post", "intake:duplicate-distinct", {}),
        ("post", "intake:extension", {"reason": "x", "days": "1"}),
        ("get", "intake:letter-download", {}),
    ],
)
def test_a_specialist_of_another_tenant_gets_404_and_changes_nothing(
    client_for, charlie, deficient, method, name, data
):
    rr, letter = deficient
    args = [rr.tracking_number, letter.pk] if name == "intake:letter-download" else [rr.tracking_number]
    before = RecordRequest.objects.get(pk=rr.pk)

    response = getattr(client_for(charlie), method)(reverse(name, args=args), data)

    assert response.status_code == 404
    after = RecordRequest.objects.get(pk=rr.pk)
    assert (after.state, after.legal_due_date, after.duplicate_reviewed_at) == (
        before.state,
        before.legal_due_date,
        before.duplicate_reviewed_at,
    )
    assert not AccessEvent.objects.filter(actor=charlie).exclude(action=AccessAction.LIST_REQUESTS).exists()


@pytest.mark.parametrize("name", ["intake:checklist", "intake:duplicate-distinct", "intake:extension"])
def test_anonymous_users_are_sent_to_sign_in(client, tenant_a, name):
    rr = _needs_checklist(tenant_a)

    response = client.post(reverse(name, args=[rr.tracking_number]))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
