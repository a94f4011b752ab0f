"""The load test's floor views (ops/floor_urls.py) exist only when OPS_FLOOR_VIEWS is set: production never serves
them."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.test import override_settings
from django.urls import NoReverseMatch, clear_url_caches, reverse

import roi.urls
from tests import factories

FLOOR_PATHS = ["/ops-floor/trivial/", "/ops-floor/drf/", "/ops-floor/pk/1/", "/ops-floor/pk-new-connection/1/"]


@pytest.fixture
def floor_views_on() -> Iterator[None]:
    with override_settings(OPS_FLOOR_VIEWS=True):
        importlib.reload(roi.urls)
        clear_url_caches()
        yield
    importlib.reload(roi.urls)
    clear_url_caches()


@pytest.mark.parametrize("url", FLOOR_PATHS)
def test_floor_views_are_absent_without_the_flag(client, db, url):
    assert client.get(url).status_code == 404


def test_floor_views_have_no_route_names_without_the_flag(db):
    with pytest.raises(NoReverseMatch):
        reverse("ops-floor-trivial")


def test_floor_views_answer_with_the_flag(client, db, floor_views_on, alice):
    assert client.get("/ops-floor/trivial/").content == b"ok"
    assert client.get("/ops-floor/drf/").json() == {"ok": True}
    assert client.get(f"/ops-floor/pk/{alice.pk}/").json() == {"id": alice.pk}


@pytest.mark.django_db(transaction=True)
def test_the_new_connection_floor_opens_a_connection_per_request(client, floor_views_on):
    # Transactional: the view closes the connection, which a test wrapped in a transaction cannot survive.
    user = factories.UserFactory()
    assert client.get(f"/ops-floor/pk-new-connection/{user.pk}/").json() == {"id": user.pk}


def test_the_tenant_floor_sees_only_the_tenant_it_names(client, db, floor_views_on, tenant_a, tenant_b):
    record_request = factories.RecordRequestFactory(tenant=tenant_a)
    own = client.get(f"/ops-floor/pk-tenant/{tenant_a.pk}/{record_request.pk}/").json()
    other = client.get(f"/ops-floor/pk-tenant/{tenant_b.pk}/{record_request.pk}/").json()
    assert own == {"state": record_request.state}
    assert other == {"state": None}
