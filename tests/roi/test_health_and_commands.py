from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal.demo import DEMO_TENANTS
from roi.choices import AccessAction
from roi.models import AccessEvent, ApiToken, IntegrationClient, Membership, Tenant
from roi.tasks import HEARTBEAT_KEY, beat_heartbeat
from workflow.models import RecordRequest, RequestTransition


def test_healthz_reports_database_redis_and_beat(client, db):
    cache.delete(HEARTBEAT_KEY)
    body = client.get("/healthz/").json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert body["beat_heartbeat_age_seconds"] is None
    beat_heartbeat()
    assert client.get("/healthz/").json()["beat_heartbeat_age_seconds"] <= 5


def test_create_api_token_issues_a_client_token_printing_the_key_once_and_storing_only_its_digest(capsys, tenant_a):
    call_command("create_api_token", tenant="alpha", client="EHR interface")
    key = capsys.readouterr().out.splitlines()[1]  # ops/faults.py reads the key on this line
    token = ApiToken.objects.select_related("client").get()
    assert token.key_digest == ApiToken.digest(key)
    assert key not in (token.key_digest, token.prefix)
    assert (token.client.name, token.client.role, token.scopes) == (
        "EHR interface",
        "specialist",
        ["read", "intake", "transitions"],
    )
    assert token.user == token.client.service_user
    assert token.expires_at - timezone.now() > timedelta(days=89)

    call_command("create_api_token", tenant="alpha", client="ehr interface", scopes="read", days=7)
    assert ApiToken.objects.count() == 2
    assert IntegrationClient.objects.count() == 1  # the same client, by name
    assert AccessEvent.objects.filter(action=AccessAction.INTEGRATION_CHANGE, actor=None).count() == 3


def test_create_api_token_refuses_a_persons_account(tenant_a, alice):
    with pytest.raises(CommandError, match="never to a person's account"):
        call_command("create_api_token", tenant="alpha", user="alice", client="x")
    assert not ApiToken.objects.exists()
    assert not IntegrationClient.objects.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scopes": "read,write"}, "Unknown scope 'write'"),
        ({"days": 400}, "1 to 365 days"),
        ({"days": 0}, "1 to 365 days"),
        ({}, "Name the integration client"),
    ],
)
def test_create_api_token_says_what_to_fix(options, message, tenant_a):
    arguments = {"tenant": "alpha", **({"client": "EHR interface"} if options else {}), **options}
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", **arguments)
    assert not ApiToken.objects.exists()
    assert not IntegrationClient.objects.exists()


@pytest.mark.django_db
def test_seed_demo_is_realistic_and_idempotent(capsys, media):
    call_command("seed_demo", scale=0.15)
    first = capsys.readouterr().out
    assert "Created demo data" in first
    assert "maria.specialist" in first
    assert Tenant.objects.filter(slug__in=[t.slug for t in DEMO_TENANTS]).count() == 3
    requests = RecordRequest.objects.count()
    assert requests >= 60
    states = set(RecordRequest.objects.values_list("state", flat=True))
    assert {"received", "validated", "in_fulfillment", "exception", "delivered", "closed"} <= states
    # Every state change went through the services: each non-received request has its transition log.
    moved = RecordRequest.objects.exclude(state="received")
    assert all(RequestTransition.objects.filter(request=rr).exists() for rr in moved)
    assert Membership.objects.filter(user__username="dana.supervisor").count() == 2
    # Recent deliveries went through fulfillment for real: a packet that a second person passed, then delivered.
    from fulfillment.models import Delivery, QcReview

    deliveries = list(Delivery.objects.select_related("packet"))
    assert deliveries
    for delivery in deliveries:
        review = QcReview.objects.get(packet=delivery.packet, outcome="passed")
        assert review.reviewer_id != delivery.packet.built_by_id
        assert delivery.request.state in ("delivered", "closed")

    # The dashboard's calls-beside-portal-views have something to show: calls logged through the service.
    from workflow.models import StatusCall

    assert StatusCall.objects.exists()
    assert all(call.at >= call.request.received_at for call in StatusCall.objects.select_related("request"))

    # Every demo account signs in with the published two-factor key.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from portal.demo_two_factor import demo_totp_code

    assert TOTPDevice.objects.get(user__username="maria.specialist").verify_token(demo_totp_code())

    call_command("seed_demo", scale=0.15)
    assert "nothing created" in capsys.readouterr().out
    assert RecordRequest.objects.count() == requests
    call_command("seed_demo", if_empty=True)
    assert RecordRequest.objects.count() == requests


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "kind"), [("/requests/", "text/html"), ("/api/v1/requests/", "application/json")])
def test_an_unreachable_database_answers_503_with_retry_after_not_a_500(monkeypatch, client_for, alice, path, kind):
    """PostgreSQL restarting (docs/operations.md, the postgres-restart drill): the page and the API say to try again."""
    from django.db import OperationalError

    from roi.tenancy import TenantMiddleware

    def unreachable(self, request):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(TenantMiddleware, "_handle", unreachable)
    client = client_for(alice)
    client.raise_request_exception = False
    response = client.get(path)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith(kind)
    assert "briefly unavailable" in response.content.decode()


@pytest.mark.django_db
def test_any_other_error_is_still_the_500_page(monkeypatch, client_for, alice):
    from roi.tenancy import TenantMiddleware

    def broken(self, request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(TenantMiddleware, "_handle", broken)
    client = client_for(alice)
    client.raise_request_exception = False
    response = client.get("/requests/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_healthz_reports_the_queue_depth(client, db, monkeypatch):
    """The figure is the broker's list length (other tests may be queueing tasks meanwhile, so it is pinned here)."""
    from roi.views import health as views

    assert isinstance(views.celery_queue_depth(), int)
    monkeypatch.setattr(views, "celery_queue_depth", lambda: 17)
    assert client.get("/healthz/").json()["queue_depth"] == 17

    def unreachable() -> int:
        raise ConnectionError("broker down")

    monkeypatch.setattr(views, "celery_queue_depth", unreachable)
    body = client.get("/healthz/")
    assert body.status_code == 503
    assert body.json()["queue_depth"] == "error: ConnectionError"


def test_the_queue_depth_of_a_broker_that_cannot_be_reached_is_an_error_at_once(settings):
    """A health check in a Redis outage answers at once with the error instead of holding its gunicorn worker while
    a client library retries (the redis-restart drill: through kombu's pooled connection, health checks waited for
    Redis to come back, and with them every worker they reached)."""
    import redis

    from roi.views import health as views

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with pytest.raises(redis.ConnectionError):
        views.celery_queue_depth()


@pytest.mark.worker
def test_healthz_with_workers_pings_them(client, db, worker_queue):
    from tests.concurrency import wait_until

    def answered() -> dict | None:
        body = client.get("/healthz/?workers=1").json()
        return body if body.get("workers", 0) >= 1 else None  # none while the worker is still starting

    body = wait_until(answered, what="a Celery worker to answer the health check's ping", timeout=30, interval=0.5)
    assert body["status"] == "ok"


@pytest.mark.parametrize(
    ("name", "email"),
    [
        ("Mrs. Theresa Rivera", "mrs.theresa.rivera@example.com"),
        ("Dana O'Neil Jr.", "dana.o.neil.jr@example.com"),
        ("Ana María López", "ana.maria.lopez@example.com"),
    ],
)
def test_demo_requestor_emails_are_addresses_intake_accepts(name, email):
    from django.core.validators import validate_email

    from portal.demo import demo_email

    assert demo_email(name) == email
    validate_email(demo_email(name))
