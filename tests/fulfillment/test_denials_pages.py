"""The denials section of the fulfillment panel: deny in full or in part from the page (errors keep the input), and
the review steps, each refused with its message when a rule says no."""

from __future__ import annotations

from django.urls import reverse

from fulfillment.models import Denial, PageExclusion
from roi.choices import Role
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory
from workflow.choices import RequestState

S = RequestState


def _detail(rr) -> str:
    return reverse("workflow:detail", args=[rr.tracking_number])


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
    response = client.post(
        reverse("fulfillment:deny", args=[rr.tracking_number]),
        {
            "expected_state": S.IN_FULFILLMENT,
            "partial": "1",
            "basis": "harm_other_person",
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


def test_the_review_from_the_panel(media, client_for, sam, alice, tenant_a):
    rivera = factories.MembershipFactory(tenant=tenant_a, user__username="rivera", role=Role.SPECIALIST).user
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client_for(sam).post(
        reverse("fulfillment:deny", args=[rr.tracking_number]),
        {"partial": "0", "basis": "endanger_life", "scope_denied": "All", "explanation": "Danger to life"},
    )
    denial = Denial.objects.get()
    args = [rr.tracking_number, denial.pk]
    assert client_for(alice).post(reverse("fulfillment:denial-review-request", args=args)).status_code == 302
    # The supervisor who denied is not offered as reviewer, and refused if posted anyway.
    page = client_for(sam).get(_detail(rr)).content.decode()
    assert f'<option value="{rivera.pk}">' in page
    assert f'<option value="{sam.pk}">' not in page
    assert (
        client_for(sam).post(reverse("fulfillment:denial-reviewer", args=args), {"reviewer": sam.pk}).status_code == 400
    )
    assert (
        client_for(sam).post(reverse("fulfillment:denial-reviewer", args=args), {"reviewer": rivera.pk}).status_code
        == 302
    )
    outcome_url = reverse("fulfillment:denial-review-outcome", args=args)
    body = {"outcome": "upheld", "note": "The risk stands."}
    response = client_for(rivera).post(outcome_url, body)
    assert response.status_code == 400
    assert "licensed health care professional" in response.content.decode()
    assert client_for(alice).post(outcome_url, {**body, "attests_licensed": "on"}).status_code == 403
    assert client_for(rivera).post(outcome_url, {**body, "attests_licensed": "on"}).status_code == 302
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
