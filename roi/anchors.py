"""Anchors of the access events' hash chain, outside the database.

The chain (roi/audit.py) catches a row edited, removed or inserted *inside* it, but not the tail cut off: a chain
with its last rows removed, or a table truncated and refilled, is still a valid chain. So every few minutes beat
writes each organisation's chain head (the last event's id and row hash) to a file outside the database, signed with
a key the database never holds, and `verify_audit_chain` checks that every anchored event is still there with the
same hash.

- Where: AUDIT_ANCHOR_DIR (default var/audit-anchors), one append-only file per organisation,
  `tenant-<id>.jsonl`, one JSON line per anchor. No database role can write a file, so SQL injection or a stolen
  database credential cannot move an anchor. Deployments put the directory on storage the app host cannot rewrite
  either (an object-lock bucket synced from it, a WORM volume: docs/operations.md).
- Signature: HMAC-SHA256 with AUDIT_ANCHOR_KEY (default: derived from SECRET_KEY, which the database does not
  hold). A line whose signature does not match is reported, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from roi.models import AccessEvent, Tenant

VERSION = 1


@dataclass(frozen=True)
class Anchor:
    tenant_id: int
    event_id: int
    row_hash: str
    at: str


def anchor_key() -> bytes:
    explicit = getattr(settings, "AUDIT_ANCHOR_KEY", "")
    if explicit:
        return explicit.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"openroi audit chain anchors", hashlib.sha256).digest()


def anchor_dir() -> Path:
    return Path(settings.AUDIT_ANCHOR_DIR)


def anchor_file(tenant_id: int) -> Path:
    return anchor_dir() / f"tenant-{int(tenant_id)}.jsonl"


def _signature(fields: dict[str, Any]) -> str:
    message = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(anchor_key(), message, hashlib.sha256).hexdigest()


def anchor_write(*, tenant: Tenant) -> Anchor | None:
    """Append the tenant's chain head to its anchor file, unless the last anchor already names it. Runs in the
    tenant's scope (roi.tasks.anchor_audit_chains)."""
    head = AccessEvent.objects.for_tenant(tenant).order_by("-id").values_list("id", "row_hash").first()
    if head is None:
        return None
    event_id, row_hash = head
    path = anchor_file(tenant.pk)
    if _last_anchored_event(path) == event_id:
        return None  # nothing happened since the last anchor
    at = timezone.now().isoformat()
    fields = {"v": VERSION, "tenant": tenant.pk, "event": event_id, "hash": row_hash, "at": at}
    line = json.dumps({**fields, "sig": _signature(fields)}, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return Anchor(tenant_id=tenant.pk, event_id=event_id, row_hash=row_hash, at=at)


def _last_anchored_event(path: Path) -> int | None:
    """The event the file's last line anchors (read from its end, not the whole file); None when there is none or it
    cannot be read, which writes a new anchor (verification judges the file)."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 4096))
        lines = handle.read().decode(errors="replace").splitlines()
    try:
        return int(json.loads(lines[-1])["event"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def anchors_read(*, tenant_id: int) -> tuple[list[Anchor], list[str]]:
    """The tenant's anchors whose signature holds, oldest first, and a problem for every line that does not."""
    path = anchor_file(tenant_id)
    if not path.exists():
        return [], []
    anchors: list[Anchor] = []
    problems: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            signature = data.pop("sig")
            valid = hmac.compare_digest(signature, _signature(data))
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append(f"anchor line {number} is unreadable")
            continue
        if not valid or data.get("tenant") != tenant_id:
            problems.append(f"anchor line {number} has a signature that does not match: the file was altered")
            continue
        anchors.append(Anchor(tenant_id=tenant_id, event_id=data["event"], row_hash=data["hash"], at=data["at"]))
    return anchors, problems


def anchors_check(*, anchors: Iterable[Anchor], found: dict[int, str]) -> list[str]:
    """Problems with the chain against its anchors: `found` maps each anchored event id still in the table to its
    row hash."""
    problems = []
    for anchor in anchors:
        if anchor.event_id not in found:
            problems.append(
                f"access event {anchor.event_id}, anchored at {anchor.at}, is gone: the chain was cut back "
                "(its tail removed or the table emptied)"
            )
        elif found[anchor.event_id] != anchor.row_hash:
            problems.append(f"access event {anchor.event_id} no longer has the hash anchored at {anchor.at}")
    return problems
