"""What the load test's simulated users need, made in the app's database before the run (ops/load.py).

On top of the demo data (seed_demo, by the topology), per demo organisation:
  - specialists and supervisors of their own (`load.<slug>.specialist.NN`, `load.<slug>.supervisor.NN`), the demo
    password and an authenticator with the demo key (portal/demo_two_factor.py): they sign in through the real
    password and two-factor pages, one account per simulated user, since a TOTP code is accepted once per device;
  - two requests in fulfillment assigned to each load specialist, which it moves into exception and back all day
    (one left in exception by an earlier run is resolved first), so transitions never run out and never collide;
  - the requests staff open: open ones without a sensitive category, which open only for their assignee
    (workflow/break_glass.py), and a verifier (the requestor's email) for portal lookups;
  - an API token for the interface clients.
Everything goes through the services, in each tenant's row-level security scope. Run again, it reuses what exists.
"""

from __future__ import annotations

import base64
import io
import os
from typing import Any

LOAD_PREFIX = "load."
# The interface clients of the load test (ops/load/locustfile.py ApiIntake): one integration client per organisation.
LOAD_CLIENT = "Load test interface"
OWN_REQUESTS = 2


def _pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def prepare(env: dict[str, str], *, users: int) -> dict[str, Any]:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roi.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connections
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from portal.demo import DEMO_PASSWORD, DEMO_TENANTS
    from portal.demo_two_factor import DEMO_TOTP_KEY_HEX
    from roi import rls
    from roi.choices import ApiScope, Role
    from roi.models import IntegrationClient, Membership, Tenant, User
    from roi.services import api_token_issue, integration_client_create

    password_hash = make_password(DEMO_PASSWORD)  # once: hashing is slow on purpose
    slugs = [spec.slug for spec in DEMO_TENANTS]
    specialists_per_tenant = max(1, -(-users // len(slugs)))
    supervisors_per_tenant = max(1, -(-users // (4 * len(slugs))))
    fixture: dict[str, Any] = {
        "specialists": [],
        "supervisors": [],
        "openable": {},
        "portal": [],
        "api_tokens": [],
        "document_base64": base64.b64encode(_pdf()).decode(),
    }

    def account(tenant: Tenant, role: str, number: int) -> User:
        username = f"{LOAD_PREFIX}{tenant.slug}.{role}.{number:02d}"
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": role.title(), "last_name": f"Load {number:02d}", "password": password_hash},
        )
        if created:
            user.email = f"{username}@openroi.invalid"
            user.save(update_fields=["email"])
            TOTPDevice.objects.create(user=user, name="Authenticator app", key=DEMO_TOTP_KEY_HEX, confirmed=True)
        if not Membership.objects.for_tenant(tenant).filter(user=user).exists():
            Membership.objects.create(tenant=tenant, user=user, role=role)
        return user

    for slug in slugs:
        tenant = Tenant.objects.get(slug=slug)
        with rls.tenant_scope(tenant.pk):
            specialists = [account(tenant, Role.SPECIALIST, n) for n in range(specialists_per_tenant)]
            supervisors = [account(tenant, Role.SUPERVISOR, n) for n in range(supervisors_per_tenant)]
            owned = _own_requests(tenant, specialists, supervisors[0])
            for user in specialists:
                fixture["specialists"].append(_login(user, slug, DEMO_PASSWORD, DEMO_TOTP_KEY_HEX, owned[user.pk]))
            for user in supervisors:
                fixture["supervisors"].append(_login(user, slug, DEMO_PASSWORD, DEMO_TOTP_KEY_HEX, []))
            fixture["openable"][slug] = _openable(tenant)
            fixture["portal"].extend(_portal_pairs(tenant))
            client = IntegrationClient.objects.for_tenant(tenant).filter(name=LOAD_CLIENT).first()
            if client is None:
                client = integration_client_create(tenant=tenant, actor=None, name=LOAD_CLIENT)
            _token, key = api_token_issue(
                tenant=tenant, actor=None, client=client, scopes=[ApiScope.READ, ApiScope.INTAKE], days=1
            )
            fixture["api_tokens"].append({"tenant": slug, "key": key})
            request = _any_request(tenant)
            fixture.setdefault("floor_ids", {"user": supervisors[0].pk, "tenant": tenant.pk, "request": request})
    # Interleave the organisations, so that a few simulated users already span both.
    fixture["specialists"].sort(key=lambda a: (a["username"].rsplit(".", 1)[1], a["tenant"]))
    fixture["supervisors"].sort(key=lambda a: (a["username"].rsplit(".", 1)[1], a["tenant"]))
    for connection in connections.all():
        connection.close()
    return fixture


def _login(user: Any, slug: str, password: str, key_hex: str, own: list[list[str]]) -> dict[str, Any]:
    return {"username": user.username, "password": password, "totp_key_hex": key_hex, "tenant": slug, "own": own}


def _own_requests(tenant: Any, specialists: list[Any], supervisor: Any) -> dict[int, list[list[str]]]:
    """{specialist id: [[tracking number, state], ...]}: in fulfillment (or in exception from an earlier run,
    resolved now), without a sensitive category, assigned to that specialist."""
    from exceptions.services import exception_resolve
    from workflow.choices import RequestState
    from workflow.models import RecordRequest
    from workflow.services import request_assign

    owned: dict[int, list[list[str]]] = {user.pk: [] for user in specialists}
    base = RecordRequest.objects.for_tenant(tenant).filter(sensitive_categories=[])
    for request in base.filter(assignee__in=specialists, state=RequestState.EXCEPTION):
        exception_resolve(
            tenant=tenant, actor=request.assignee, record_request=request, resolution="Resolved before a load run."
        )
    for request in base.filter(assignee__in=specialists, state=RequestState.IN_FULFILLMENT):
        if len(owned[request.assignee_id]) < OWN_REQUESTS:
            owned[request.assignee_id].append([request.tracking_number, RequestState.IN_FULFILLMENT])
    free = list(
        base.filter(state=RequestState.IN_FULFILLMENT)
        .exclude(assignee__in=specialists)
        .order_by("-received_at")[: OWN_REQUESTS * len(specialists)]
    )
    for user in specialists:
        while len(owned[user.pk]) < OWN_REQUESTS and free:
            request = free.pop()
            request_assign(tenant=tenant, actor=supervisor, record_request=request, assignee=user)
            owned[user.pk].append([request.tracking_number, RequestState.IN_FULFILLMENT])
    return owned


def _openable(tenant: Any) -> list[str]:
    from workflow.choices import OPEN_STATES
    from workflow.models import RecordRequest

    return list(
        RecordRequest.objects.for_tenant(tenant)
        .filter(state__in=OPEN_STATES, sensitive_categories=[])
        .order_by("-received_at")
        .values_list("tracking_number", flat=True)[:300]
    )


def _portal_pairs(tenant: Any) -> list[list[str]]:
    from workflow.models import RecordRequest

    rows = (
        RecordRequest.objects.for_tenant(tenant)
        .exclude(requestor__email="")
        .order_by("-received_at")
        .values_list("tracking_number", "requestor__email")[:200]
    )
    return [[number, email] for number, email in rows]


def _any_request(tenant: Any) -> int:
    from workflow.models import RecordRequest

    return RecordRequest.objects.for_tenant(tenant).order_by("pk").values_list("pk", flat=True).first() or 0
