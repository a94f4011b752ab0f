"""Licensed health care professionals (45 CFR 164.524(a)(3), (a)(4)): designated by a tenant admin with their
licence, never by themselves, removable, every change kept in the membership's history; the page is the tenant
admin's, and another organisation's member answers like a missing one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from roi import services
from roi.choices import Role
from roi.errors import NotPermitted, ServiceError
from roi.models import Membership
from roi.selectors import licensed_professionals
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/staff/licensed-reviewers/"
LICENCE = "Psychiatrist, MD, California A-123456"


@pytest.fixture
def ada(tenant_a):
    """Tenant admin of tenant A."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


@pytest.fixture
def rivera(tenant_a):
    """Dr. Rivera, a psychiatrist with a specialist's account in tenant A."""
    return factories.MembershipFactory(
        tenant=tenant_a, user__username="rivera", user__first_name="Inés", user__last_name="Rivera"
    ).user


def _membership(user, tenant) -> Membership:
    return Membership.objects.get(user=user, tenant=tenant)


def test_164_524_a_4_a_tenant_admin_designates_a_licensed_professional_with_the_licence(
    ada, rivera, tenant_a, client_for
):
    client = client_for(ada)
    page = client.get(URL).content.decode()
    assert "Rivera" in page
    assert "0 of 2 active members designated" in page
    response = client.post(URL, {"user": rivera.pk, "action": "designate", "credential": f"  {LICENCE} "}, follow=True)
    assert f"Inés Rivera is designated as a licensed health care professional ({LICENCE})." in response.content.decode()
    membership = _membership(rivera, tenant_a)
    assert (membership.is_licensed_professional, membership.licensed_credential) == (True, LICENCE)
    assert (membership.licensed_designated_by, membership.licensed_designated_at is not None) == (ada, True)
    assert list(licensed_professionals(tenant=tenant_a)) == [membership]
    page = client.get(URL).content.decode()
    assert "1 of 2 active members designated" in page
    assert LICENCE in page
    assert "Remove designation" in page


def test_removing_a_designation_keeps_who_designated_and_who_removed_in_the_history(ada, rivera, tenant_a, client_for):
    client = client_for(ada)
    client.post(URL, {"user": rivera.pk, "action": "designate", "credential": LICENCE})
    response = client.post(URL, {"user": rivera.pk, "action": "remove"}, follow=True)
    assert "Inés Rivera is no longer designated" in response.content.decode()
    membership = _membership(rivera, tenant_a)
    assert not membership.is_licensed_professional
    assert not licensed_professionals(tenant=tenant_a).exists()
    designated, removed = membership.history.order_by("history_id")[1:]
    assert (designated.is_licensed_professional, designated.licensed_credential, designated.history_user) == (
        True,
        LICENCE,
        ada,
    )
    assert (removed.is_licensed_professional, removed.history_user) == (False, ada)
    again = client.post(URL, {"user": rivera.pk, "action": "remove"})
    assert again.status_code == 400
    assert "is not designated" in again.content.decode()


def test_a_designation_without_the_licence_is_refused_with_what_to_fix(ada, rivera, tenant_a, client_for):
    response = client_for(ada).post(URL, {"user": rivera.pk, "action": "designate", "credential": "  "})
    assert response.status_code == 400
    assert "Say which licence this person holds" in response.content.decode()
    assert not _membership(rivera, tenant_a).is_licensed_professional


def test_164_524_a_4_an_admin_cannot_designate_herself(ada, tenant_a, client_for):
    """A designation is the organisation's word about someone else: designating oneself is a self-attestation."""
    with pytest.raises(NotPermitted, match="cannot designate yourself"):
        services.licensed_professional_designate(tenant=tenant_a, actor=ada, member_user=ada, credential=LICENCE)
    response = client_for(ada).post(URL, {"user": ada.pk, "action": "designate", "credential": LICENCE})
    assert response.status_code == 403
    assert not _membership(ada, tenant_a).is_licensed_professional
    other_admin = factories.MembershipFactory(tenant=tenant_a, user__username="ben", role=Role.ADMIN).user
    services.licensed_professional_designate(tenant=tenant_a, actor=other_admin, member_user=ada, credential=LICENCE)
    assert _membership(ada, tenant_a).is_licensed_professional


def test_only_a_tenant_admin_designates(tenant_a, sam, alice, rivera):
    for actor in (sam, alice):
        with pytest.raises(NotPermitted):
            services.licensed_professional_designate(
                tenant=tenant_a, actor=actor, member_user=rivera, credential=LICENCE
            )
        with pytest.raises(NotPermitted):
            services.licensed_professional_remove(tenant=tenant_a, actor=actor, member_user=rivera)
    assert not _membership(rivera, tenant_a).is_licensed_professional


def test_an_inactive_member_is_not_designated(ada, rivera, tenant_a):
    Membership.objects.filter(user=rivera).update(is_active=False)
    with pytest.raises(ServiceError, match="no longer an active member"):
        services.licensed_professional_designate(tenant=tenant_a, actor=ada, member_user=rivera, credential=LICENCE)


def test_a_designated_member_who_leaves_is_no_longer_offered(ada, rivera, tenant_a):
    services.licensed_professional_designate(tenant=tenant_a, actor=ada, member_user=rivera, credential=LICENCE)
    Membership.objects.filter(user=rivera).update(is_active=False)
    assert not licensed_professionals(tenant=tenant_a).exists()


def test_the_licensed_reviewers_page_is_for_tenant_admins_and_their_members_only(
    ada, rivera, sam, alice, charlie, tenant_a, tenant_b, client
):
    anonymous = client.get(URL)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert client.post(URL, {"user": rivera.pk, "credential": LICENCE}).status_code == 302
    for user in (sam, alice):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"user": rivera.pk, "credential": LICENCE}).status_code == 403
    assert not _membership(rivera, tenant_a).is_licensed_professional
    # Another organisation's member answers like a missing one, and is left as it was.
    client.force_login(ada)
    assert client.post(URL, {"user": charlie.pk, "credential": LICENCE}).status_code == 404
    assert client.post(URL, {"user": "987654321", "credential": LICENCE}).status_code == 404
    assert client.post(URL, {"user": "x", "credential": LICENCE}).status_code == 404
    assert not _membership(charlie, tenant_b).is_licensed_professional
    assert str(charlie) not in client.get(URL).content.decode()
