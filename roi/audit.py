"""Access events: the record of who looked at which PHI. Called by every view that shows or hands out PHI."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import F, Func, TextField
from django.http import HttpRequest

from roi import clock
from roi.models import AccessEvent, Tenant


def client_address(request: HttpRequest | None) -> str | None:
    """The client's IP address, for access events and the portal's per-address limits. Behind TRUSTED_PROXY_COUNT
    reverse proxies (a load balancer, a TLS terminator), REMOTE_ADDR is the nearest proxy's: the client is then the
    address the outermost trusted proxy appended to X-Forwarded-For (counted from the right, so a client cannot
    choose its own address by sending the header)."""
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass  # not an address (a misconfigured proxy count): the nearest peer is all we know
    return request.META.get("REMOTE_ADDR") or None


def access_record(
    *,
    tenant: Tenant,
    actor: Any,
    action: str,
    request: HttpRequest | None = None,
    obj: Any = None,
    request_id: int | None = None,
    patient_id: int | None = None,
    detail: str = "",
    actor_label: str | None = None,
) -> AccessEvent:
    """Write one access event. `request` is the HTTP request (for address and agent), not a records request."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AccessEvent.objects.create(
        tenant=tenant,
        actor=user,
        actor_label=actor_label or (user.get_username() if user else "anonymous"),
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        request_id=request_id,
        patient_id=patient_id,
        detail=detail[:300],
        ip_address=client_address(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
    )


def history_stamp(instance: Any, actor: Any) -> None:
    """Tell django-simple-history who made the change about to be saved and when (the services' clock), for
    callers without an HTTP request (API tokens, tasks, commands) as much as for pages."""
    instance._history_user = actor if getattr(actor, "is_authenticated", False) else None
    instance._history_date = clock.now()


# --- The hash chain (roi/migrations/0008 computes it in the database; this is the independent check) ---------------

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = (
    "id", "tenant_id", "at", "actor_id", "actor_label", "action", "object_type", "object_id", "request_id",
    "patient_id", "detail", "ip_address", "user_agent",
)  # fmt: skip


def _chain_field(value: Any) -> str:
    if value is None:
        return "~"
    if isinstance(value, datetime):
        value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = str(value)
    return f"{len(text.encode())}:{text}"


def access_event_canonical(row: dict[str, Any]) -> str:
    """The text an access event's hash seals, as the database trigger builds it (same fields, order and format)."""
    return "|".join(["v1", *(_chain_field(row[name]) for name in CHAIN_FIELDS)])


def access_event_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}|{access_event_canonical(row)}".encode()).hexdigest()


@dataclass
class ChainBreak:
    event_id: int
    problem: str


@dataclass
class ChainReport:
    rows_checked: int = 0
    breaks: int = 0
    first_break: ChainBreak | None = None
    anchors_checked: int = 0
    # What the anchors outside the database (roi/anchors.py) say is missing or altered.
    anchor_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.breaks == 0 and not self.anchor_problems


def _chain_rows(tenant: Tenant, chunk_size: int) -> Iterator[dict[str, Any]]:
    # host(): the address as PostgreSQL prints it (no /32 suffix), the text the trigger hashed; the rest is read raw.
    return (
        AccessEvent.objects.for_tenant(tenant)
        .order_by("id")
        .annotate(ip_text=Func(F("ip_address"), function="host", output_field=TextField()))
        .values(*(name for name in CHAIN_FIELDS if name != "ip_address"), "ip_text", "prev_hash", "row_hash")
        .iterator(chunk_size=chunk_size)
    )


def access_chain_verify(*, tenant: Tenant, chunk_size: int = 2000) -> ChainReport:
    """Walk the tenant's access events in chain (id) order and recompute every hash. A row whose content no longer
    matches its hash was edited; a row whose prev_hash is not the hash of the row before it follows a removed or
    inserted row (or a rewritten one). After a break the walk goes on from the stored hash, to count the others.
    Then the anchors outside the database (roi/anchors.py): an anchored event gone or with another hash means the
    chain was cut back or rebuilt, which the chain alone cannot show."""
    from roi import anchors as chain_anchors

    report = ChainReport()
    anchors, report.anchor_problems = chain_anchors.anchors_read(tenant_id=tenant.pk)
    anchored = {anchor.event_id for anchor in anchors}
    found: dict[int, str] = {}
    expected_prev = GENESIS_HASH
    for row in _chain_rows(tenant, chunk_size):
        row["ip_address"] = row.pop("ip_text")
        report.rows_checked += 1
        if row["id"] in anchored:
            found[row["id"]] = row["row_hash"]
        problem = ""
        if row["prev_hash"] != expected_prev:
            problem = "prev_hash does not match the row before it: a row was removed, inserted or rewritten before it"
        elif access_event_hash(row["prev_hash"], row) != row["row_hash"]:
            problem = "content does not match its hash: the row was edited"
        if problem:
            report.breaks += 1
            if report.first_break is None:
                report.first_break = ChainBreak(event_id=row["id"], problem=problem)
        expected_prev = row["row_hash"]
    report.anchors_checked = len(anchors)
    report.anchor_problems += chain_anchors.anchors_check(anchors=anchors, found=found)
    return report
