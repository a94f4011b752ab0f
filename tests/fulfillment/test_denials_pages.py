"""The denials section of the fulfillment panel: deny in full or in part from the page (errors keep the input), and
the review steps, each refused with its message when a rule says no."""

from __future__ import annotations

import re

from django.urls import reverse

from fulfillment.models import Denial, PageExclusion
from intake.choices import LetterKind
from roi.models import Membership
from roi.services import licensed_professional_remove
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory
from workflow.choices import RequestState

S = RequestState


def _detail(rr) -> str:
    """The request page with every panel shown (the denial panel loads when opened)."""
    return reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all"


def test_a_deny_form_with_errors_keeps_the_input(media, client_for, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(sam).post(
        reverse("fulfillment:deny", args=[rr.tracking_number]),
        {"partial": "0", "basis": "not_held", "scope_denied": "All imaging", "explanation": "We never held it"},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Say where the records are" in page
    assert 'value="All imaging"' in page
    assert "We never held it" in page
    assert not Denial.objects.exists()


def test_a_partial_denial_from_the_page_withholds_the_chosen_pages(media, client_for, sam, request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT)
    document = ReleaseDocumentFactory(request=rr, page_count=5)
    client = client_for(sam)
    assert f'name="withhold_{document.pk}"' in client.get(_detail(rr)).content.decode()
    lee = factories.licensed_professional(tenant=rr.tenant, username="lee")
    response = client.post(
        reverse("fulfillment:deny", args=[rr.tracking_number]),
        {
            "expected_state": S.IN_FULFILLMENT,
            "partial": "1",
            "basis": "harm_other_person",
            "determined_by": lee.pk,
            "scope_denied": "Notes naming a family member",
            "explanation": "They would likely cause substantial harm to the person named.",
            f"withhold_{document.pk}": "on",
            f"pages_{document.pk}": "2-3",
        },
    )
    assert response.status_code == 302
    exclusion = PageExclusion.objects.get(document=document)
    assert (exclusion.first_page, exclusion.last_page) == (2, 3)
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT
    page = client.get(_detail(rr)).content.decode()
    assert "Denied in part" in page
    assert "Denial letter" in page


DANGER = {"partial": "0", "basis": "endanger_life", "scope_denied": "All", "explanation": "Danger to life"}


def _option(user) -> str:
    return f'<option value="{user.pk}">'


def _select(page: str, name: str) -> str:
    """The <select> of that name on the page (the page has other lists of staff: assignment, exceptions)."""
    match = re.search(rf'<select name="{name}".*?</select>', page, re.DOTALL)
    assert match, f"no {name} list on the page"
    return match.group(0)


def test_the_review_from_the_panel(media, client_for, sam, alice, tenant_a):
    """The review's steps from the request page. The reviewer no longer ticks "I am a licensed health care
    professional": the tenant admin's designation is the proof, and the decision records the outcome and writes the
    letter."""
    lee = factories.licensed_professional(tenant=tenant_a, username="lee", last_name="Lee")
    rivera = factories.licensed_professional(tenant=tenant_a, username="rivera", last_name="Rivera")
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(sam).post(
        reverse("fulfillment:deny", args=[rr.tracking_number]), {**DANGER, "determined_by": lee.pk}
    )
    assert response.status_code == 302
    denial = Denial.objects.get()
    assert denial.determined_by == lee
    args = [rr.tracking_number, denial.pk]
    assert client_for(alice).post(reverse("fulfillment:denial-review-request", args=args)).status_code == 302
    # The supervisor who denied and the professional who determined are not offered as reviewer, nor is a staff
    # member nobody designated; each is refused if posted anyway.
    reviewers = _select(client_for(sam).get(_detail(rr)).content.decode(), "reviewer")
    assert _option(rivera) in reviewers
    for took_part_or_undesignated in (sam, lee, alice):
        assert _option(took_part_or_undesignated) not in reviewers
        response = client_for(sam).post(
            reverse("fulfillment:denial-reviewer", args=args), {"reviewer": took_part_or_undesignated.pk}
        )
        assert response.status_code == 400
        assert "Choose a designated licensed health care professional who took no part" in response.content.decode()
    assert (
        client_for(sam).post(reverse("fulfillment:denial-reviewer", args=args), {"reviewer": rivera.pk}).status_code
        == 302
    )
    outcome_url = reverse("fulfillment:denial-review-outcome", args=args)
    body = {"outcome": "upheld", "note": "The risk stands."}
    assert 'name="attests_licensed"' not in client_for(rivera).get(_detail(rr)).content.decode()
    assert client_for(alice).post(outcome_url, body).status_code == 403
    response = client_for(rivera).post(outcome_url, body, follow=True)
    assert "Denial upheld. The review decision letter was generated" in response.content.decode()
    denial.refresh_from_db()
    assert (denial.review_outcome, denial.reviewer) == ("upheld", rivera)


def test_an_unreviewable_denial_refuses_a_review_on_the_page(media, client_for, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client_for(sam).post(
        reverse("fulfillment:deny", args=[rr.tracking_number]),
        {"partial": "0", "basis": "psychotherapy_notes", "scope_denied": "Therapy notes", "explanation": "Notes"},
    )
    denial = Denial.objects.get()
    response = client_for(sam).post(reverse("fulfillment:denial-review-request", args=[rr.tracking_number, denial.pk]))
    assert response.status_code == 400
    assert "cannot be reviewed" in response.content.decode()


def test_another_tenants_denial_answers_404(media, client_for, sam, tenant_a, tenant_b, charlie):
    own = factories.RecordRequestFactory(tenant=tenant_a)
    foreign = factories.RecordRequestFactory(tenant=tenant_b)
    denial = Denial.objects.create(
        tenant=tenant_b, request=foreign, basis="endanger_life", scope_denied="x", explanation="x",
        decided_by=charlie, decided_at=foreign.received_at,
    )  # fmt: skip
    client = client_for(sam)
    for tracking in (foreign.tracking_number, own.tracking_number):
        response = client.post(reverse("fulfillment:denial-review-request", args=[tracking, denial.pk]))
        assert response.status_code == 404
    denial.refresh_from_db()
    assert denial.review_requested_at is None


def test_164_524_a_3_the_deny_form_offers_only_designated_professionals_and_says_what_is_missing(
    media, client_for, sam, alice, tenant_a
):
    lee = factories.licensed_professional(tenant=tenant_a, username="lee", first_name="Morgan", last_name="Lee")
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client = client_for(sam)
    professionals = _select(client.get(_detail(rr)).content.decode(), "determined_by")
    assert _option(lee) in professionals
    assert "Morgan Lee (Psychiatrist, MD, California A-123456)" in professionals
    assert _option(alice) not in professionals
    deny_url = reverse("fulfillment:deny", args=[rr.tracking_number])
    response = client.post(deny_url, DANGER)
    assert response.status_code == 400
    assert "Name the licensed health care professional who determined" in response.content.decode()
    assert "Danger to life</textarea>" in response.content.decode()  # the input is kept
    response = client.post(deny_url, {**DANGER, "determined_by": alice.pk})
    assert response.status_code == 400
    assert "Choose a designated licensed health care professional from the list" in response.content.decode()
    not_held = {"partial": "0", "basis": "not_held", "scope_denied": "All", "explanation": "Not here",
                "records_location": "not known", "determined_by": lee.pk}  # fmt: skip
    response = client.post(deny_url, not_held)
    assert response.status_code == 400
    assert "Leave &#x27;Determined by&#x27; empty for this basis" in response.content.decode()
    assert not Denial.objects.exists()
    assert client.post(deny_url, {**DANGER, "determined_by": lee.pk}).status_code == 302
    page = client.get(_detail(rr)).content.decode()
    assert "Determined by Morgan Lee, a designated licensed health care professional" in page


def test_164_524_a_4_a_reviewer_whose_designation_was_removed_is_replaced_on_the_page(media, client_for, sam, tenant_a):
    rivera = factories.licensed_professional(tenant=tenant_a, username="rivera", last_name="Rivera")
    okafor = factories.licensed_professional(tenant=tenant_a, username="okafor", last_name="Okafor")
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    lee = factories.licensed_professional(tenant=tenant_a, username="lee")
    client_for(sam).post(reverse("fulfillment:deny", args=[rr.tracking_number]), {**DANGER, "determined_by": lee.pk})
    denial = Denial.objects.get()
    args = [rr.tracking_number, denial.pk]
    client_for(sam).post(reverse("fulfillment:denial-review-request", args=args))
    client_for(sam).post(reverse("fulfillment:denial-reviewer", args=args), {"reviewer": rivera.pk})
    admin = Membership.objects.get(user__username="hoyt").user
    licensed_professional_remove(tenant=tenant_a, actor=admin, member_user=rivera)
    outcome_url = reverse("fulfillment:denial-review-outcome", args=args)
    response = client_for(rivera).post(outcome_url, {"outcome": "overturned", "note": "Release"})
    assert response.status_code == 403
    assert "no longer designated as a licensed health care professional" in response.content.decode()
    page = client_for(sam).get(_detail(rr)).content.decode()
    assert "is no longer designated as a licensed health care professional: designate another reviewer" in page
    assert _option(okafor) in _select(page, "reviewer")
    assert _option(rivera) not in _select(page, "reviewer")
    assert (
        client_for(sam).post(reverse("fulfillment:denial-reviewer", args=args), {"reviewer": okafor.pk}).status_code
        == 302
    )
    assert client_for(okafor).post(outcome_url, {"outcome": "overturned", "note": "Release"}).status_code == 302


def test_164_524_d_4_the_review_decision_letter_is_on_the_request_page(media, client_for, sam, tenant_a):
    rivera = factories.licensed_professional(tenant=tenant_a, username="rivera")
    lee = factories.licensed_professional(tenant=tenant_a, username="lee")
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="jw@example.com")
    client_for(sam).post(reverse("fulfillment:deny", args=[rr.tracking_number]), {**DANGER, "determined_by": lee.pk})
    denial = Denial.objects.get()
    args = [rr.tracking_number, denial.pk]
    client_for(sam).post(reverse("fulfillment:denial-review-request", args=args))
    client_for(sam).post(reverse("fulfillment:denial-reviewer", args=args), {"reviewer": rivera.pk})
    client_for(rivera).post(reverse("fulfillment:denial-review-outcome", args=args), {"outcome": "upheld", "note": "x"})
    denial.refresh_from_db()
    assert denial.review_letter.kind == LetterKind.DENIAL_REVIEW
    letter_url = reverse("intake:letter-download", args=[rr.tracking_number, denial.review_letter_id])
    page = client_for(sam).get(_detail(rr)).content.decode()
    assert f'<a href="{letter_url}">Review decision letter</a>' in page
    assert "email to jw@example.com queued" in page
    response = client_for(sam).get(letter_url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_supervisor_is_told_when_nobody_can_review(media, client_for, sam, tenant_a):
    """Only the professional who determined the denial is designated: the reviewer list is empty and says why."""
    lee = factories.licensed_professional(tenant=tenant_a, username="lee")
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client_for(sam).post(reverse("fulfillment:deny", args=[rr.tracking_number]), {**DANGER, "determined_by": lee.pk})
    denial = Denial.objects.get()
    client_for(sam).post(reverse("fulfillment:denial-review-request", args=[rr.tracking_number, denial.pk]))
    page = client_for(sam).get(_detail(rr)).content.decode()
    assert "No designated licensed health care professional who took no part in this denial" in page
