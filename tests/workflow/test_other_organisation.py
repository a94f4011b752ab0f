"""A request link of another organisation of the user (workflow/views/restricted.py, other_organisation_page).

Personas: Sam supervises both tenant A and tenant B (active memberships in each; his session acts in A, which sorts
first); Alice works in A only; Fay worked in B once (inactive membership) and works in A now. A request of tenant B
opened by Sam names tenant B and offers the switch, which lands on the same page; the others get exactly the 404 of
an unknown number, with nothing that tells them the number exists. The page shows nothing of the request."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from roi.choices import Role
from tests import factories
from workflow.models import RecordRequest

UNKNOWN = "ROI-ZZZZ-ZZZZ-ZZZZ"


@pytest.fixture
def sam_in_both(sam, tenant_b):
    """Sam, tenant A's supervisor, also supervises tenant B."""
    factories.MembershipFactory(tenant=tenant_b, user=sam, role=Role.SUPERVISOR)
    return sam


@pytest.fixture
def fay(tenant_a, tenant_b):
    """A specialist of tenant A whose membership in tenant B has ended."""
    user = factories.MembershipFactory(tenant=tenant_a, user__username="fay").user
    factories.MembershipFactory(tenant=tenant_b, user=user, is_active=False)
    return user


@pytest.fixture
def b_request(tenant_b) -> RecordRequest:
    return factories.RecordRequestFactory(
        tenant=tenant_b,
        patient__first_name="Zebulon",
        patient__last_name="Quartermaine",
        patient__mrn="MRN-B-4471",
        requestor__name="Hollis Pemberton",
    )


def _detail(number: str) -> str:
    return reverse("workflow:detail", args=[number])


def _without_tokens(html: str) -> str:
    """The page with its per-response CSRF tokens blanked, to compare two answers."""
    html = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', html)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken" value=""', html)


def test_a_supervisor_of_two_organisations_is_told_which_one_holds_the_request(client_for, sam_in_both, b_request):
    response = client_for(sam_in_both).get(_detail(b_request.tracking_number))
    assert response.status_code == 404
    html = response.content.decode()
    assert "This request is in Beta Health System" in html
    assert f'Request <span class="mono">{b_request.tracking_number}</span> belongs to Beta Health System' in html
    assert "you are working in Alpha General Hospital" in html
    assert f'<input type="hidden" name="tenant" value="{b_request.tenant_id}">' in html
    assert f'<input type="hidden" name="next" value="{_detail(b_request.tracking_number)}">' in html
    assert "Switch to Beta Health System and open it" in html


def test_the_switch_lands_on_the_same_request_page(client_for, sam_in_both, b_request):
    client = client_for(sam_in_both)
    url = _detail(b_request.tracking_number)
    assert client.get(url).status_code == 404
    response = client.post(
        reverse("switch-tenant"), {"tenant": b_request.tenant_id, "next": url, "open_there": "1"}, follow=True
    )
    assert response.redirect_chain == [(url, 302)]
    assert response.status_code == 200
    assert "Quartermaine" in response.content.decode()  # now in tenant B: the request page itself


def test_a_sub_page_of_the_request_offers_the_switch_and_lands_back_on_it(client_for, sam_in_both, b_request):
    client = client_for(sam_in_both)
    url = reverse("intake:checklist", args=[b_request.tracking_number]) + "?tab=documents"
    page = client.get(url)
    assert page.status_code == 404
    assert "This request is in Beta Health System" in page.content.decode()
    assert f'name="next" value="{url.replace("&", "&amp;")}"' in page.content.decode()
    switched = client.post(reverse("switch-tenant"), {"tenant": b_request.tenant_id, "next": url, "open_there": "1"})
    assert switched["Location"] == url
    assert client.get(url).status_code == 200


def test_the_switch_page_writes_nothing_of_the_request(client_for, sam_in_both, b_request):
    html = client_for(sam_in_both).get(_detail(b_request.tracking_number)).content.decode()
    for phi in ("Zebulon", "Quartermaine", "MRN-B-4471", "Hollis Pemberton", f"{b_request.patient.date_of_birth:%Y}"):
        assert phi not in html
    assert b_request.get_state_display() not in html.split("<main")[1]


def test_the_header_switcher_still_starts_from_the_queue(client_for, sam_in_both, b_request):
    url = _detail(b_request.tracking_number)
    switched = client_for(sam_in_both).post(reverse("switch-tenant"), {"tenant": b_request.tenant_id, "next": url})
    assert switched["Location"] == reverse("workflow:queue")


@pytest.mark.parametrize("persona", ["alice", "fay"])
def test_without_an_active_membership_there_it_is_the_plain_404_of_an_unknown_number(
    request, client_for, b_request, persona
):
    """Alice has no membership in tenant B, Fay an inactive one: the answer is the same as for a number that does
    not exist, byte for byte but the CSRF token."""
    client = client_for(request.getfixturevalue(persona))
    theirs = client.get(_detail(b_request.tracking_number))
    unknown = client.get(_detail(UNKNOWN))
    assert (theirs.status_code, unknown.status_code) == (404, 404)
    assert _without_tokens(theirs.content.decode()) == _without_tokens(unknown.content.decode())
    assert "Beta Health System" not in theirs.content.decode()


def test_an_unknown_number_or_a_missing_letter_of_this_organisation_is_the_plain_404(client_for, sam_in_both, tenant_a):
    client = client_for(sam_in_both)
    own = factories.RecordRequestFactory(tenant=tenant_a)
    for url in (_detail(UNKNOWN), reverse("intake:letter-download", args=[own.tracking_number, 987654321])):
        response = client.get(url)
        assert response.status_code == 404
        assert "Not found" in response.content.decode()
        assert "This request is in" not in response.content.decode()


def test_a_form_posted_to_the_other_organisation_offers_the_request_page(client_for, sam_in_both, b_request):
    url = reverse("workflow:status_call", args=[b_request.tracking_number])
    response = client_for(sam_in_both).post(url, {"caller": "requestor", "outcome": "status_given"})
    assert response.status_code == 404
    assert f'name="next" value="{_detail(b_request.tracking_number)}"' in response.content.decode()
    assert not b_request.status_calls.exists()
