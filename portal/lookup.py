"""Status lookup: a tracking number and a verifier in, a request (or one answer for every failure) out.

Every failed lookup looks the same from outside, whatever failed: the same message, the same status code, and at
least PORTAL_LOOKUP_FAILURE_MS of time (the database is read the same way for a number that exists and one that does
not, and the verifier comparison always runs, against placeholders when there is no request). Failures are counted
per client address and per tracking number as typed, in Redis, over a fixed window; past either limit every lookup
answers "try again later" without reading the database, and the lockout is recorded once (LookupLockout, and an
AccessEvent on the request when the number is real). Successful lookups are access events of their tenant.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from portal.models import LookupLockout
from portal.verification import NO_REQUEST, requestor_access_record, verifier_matches, verifiers_for
from roi import clock, rls
from roi.audit import client_address
from roi.choices import AccessAction
from workflow.models import TRACKING_ALPHABET, TRACKING_GROUP_LENGTH, TRACKING_GROUPS, RecordRequest

_NOT_TRACKING = re.compile(r"[^0-9A-Z]")
_TRACKING_BODY = TRACKING_GROUPS * TRACKING_GROUP_LENGTH


def tracking_number_normalise(typed: str) -> str:
    """'roi abcd-efgh jkmn', 'ROIABCDEFGHJKMN' and 'ABCD EFGH JKMN' all mean ROI-ABCD-EFGH-JKMN. Anything that
    cannot be a tracking number comes back as typed (upper-cased), so it simply matches nothing."""
    compact = _NOT_TRACKING.sub("", typed.upper())
    if compact.startswith("ROI"):
        compact = compact[3:]
    if len(compact) != _TRACKING_BODY or any(ch not in TRACKING_ALPHABET for ch in compact):
        return typed.strip().upper()[:40]
    groups = [compact[i : i + TRACKING_GROUP_LENGTH] for i in range(0, _TRACKING_BODY, TRACKING_GROUP_LENGTH)]
    return "ROI-" + "-".join(groups)


@dataclass(frozen=True)
class LookupResult:
    record_request: RecordRequest | None = None
    locked: bool = False
    verified_by: str = ""

    @property
    def found(self) -> bool:
        return self.record_request is not None


def _keys(address: str, number: str) -> tuple[str, str]:
    return f"portal:lookup:addr:{address}", f"portal:lookup:num:{number}"


def _locked(address_key: str, number_key: str) -> bool:
    counts = cache.get_many([address_key, number_key])
    return (
        counts.get(address_key, 0) >= settings.PORTAL_LOOKUP_FAILURES_PER_ADDRESS
        or counts.get(number_key, 0) >= settings.PORTAL_LOOKUP_FAILURES_PER_NUMBER
    )


def count_in_window(key: str, seconds: int) -> int:
    """Add one to a counter that lives `seconds` from its first count (a fixed window); the new count. Shared by the
    portal's limits: failed lookups, failed sign-ins, emails sent to one address."""
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=seconds)
        return 1


def _count_failure(key: str) -> int:
    return count_in_window(key, settings.PORTAL_LOOKUP_WINDOW_SECONDS)


def _record_lockout(*, scope: str, subject: str, failures: int, http_request: HttpRequest, number: str) -> None:
    with transaction.atomic():
        LookupLockout.objects.create(
            at=clock.now(),
            scope=scope,
            subject=subject[:64],
            ip_address=client_address(http_request),
            failures=failures,
        )
        record_request = (
            RecordRequest.objects.filter(tracking_number=number).only("id", "tenant_id", "patient_id").first()
        )
        if record_request is not None:
            requestor_access_record(
                http_request=http_request,
                record_request=record_request,
                action=AccessAction.PORTAL_LOCKOUT,
                detail=f"Portal lookups locked: {failures} failures for this {LookupLockout.Scope(scope).label.lower()}",
                who="portal visitor (not verified)",
            )


def _failed(*, http_request: HttpRequest, address_key: str, number_key: str, number: str) -> None:
    address = client_address(http_request) or "unknown"
    by_address = _count_failure(address_key)
    by_number = _count_failure(number_key)
    if by_address == settings.PORTAL_LOOKUP_FAILURES_PER_ADDRESS:
        _record_lockout(
            scope=LookupLockout.Scope.ADDRESS,
            subject=address,
            failures=by_address,
            http_request=http_request,
            number=number,
        )
    if by_number == settings.PORTAL_LOOKUP_FAILURES_PER_NUMBER:
        _record_lockout(
            scope=LookupLockout.Scope.TRACKING_NUMBER,
            subject=number,
            failures=by_number,
            http_request=http_request,
            number=number,
        )


def _pad(started: float) -> None:
    remaining = settings.PORTAL_LOOKUP_FAILURE_MS / 1000 - (time.perf_counter() - started)
    if remaining > 0:
        time.sleep(remaining)


def lookup(*, tracking_number: str, verifier: str, http_request: HttpRequest) -> LookupResult:
    """Check a tracking number and verifier. A found result is audited; a failure is counted and padded."""
    started = time.perf_counter()
    number = tracking_number_normalise(tracking_number)
    # The organisation of the number typed, if any: the rest runs in its row-level security scope (roi/rls.py).
    with rls.tenant_scope(rls.resolve_tenant(RecordRequest, number)):
        return _lookup(number=number, verifier=verifier, http_request=http_request, started=started)


def _lookup(*, number: str, verifier: str, http_request: HttpRequest, started: float) -> LookupResult:
    address_key, number_key = _keys(client_address(http_request) or "unknown", number)
    if _locked(address_key, number_key):
        _pad(started)
        return LookupResult(locked=True)
    record_request = (
        RecordRequest.objects.select_related("tenant", "requestor", "patient")
        .only(
            "id",
            "tenant__id",
            "tenant__name",
            "tenant__timezone",
            "tracking_number",
            "patient_id",
            "patient__date_of_birth",
            "requestor__email",
            "requestor__phone",
            "requestor__kind",
        )
        .filter(tracking_number=number)
        .first()
    )
    if record_request is None:
        verifiers = NO_REQUEST
    else:
        requestor = record_request.requestor
        verifiers = verifiers_for(
            email=requestor.email,
            phone=requestor.phone,
            requestor_kind=requestor.kind,
            date_of_birth=record_request.patient.date_of_birth,
        )
    matched = verifier_matches(verifiers, verifier)
    if record_request is None or not matched:
        _failed(http_request=http_request, address_key=address_key, number_key=number_key, number=number)
        _pad(started)
        return LookupResult()
    requestor_access_record(
        http_request=http_request,
        record_request=record_request,
        action=AccessAction.PORTAL_LOOKUP,
        detail="Status lookup with tracking number and verifier",
        who="portal requestor (verified)",
    )
    return LookupResult(record_request=record_request, verified_by="verifier")


def verifier_check(*, record_request: RecordRequest | None, verifier: str, http_request: HttpRequest) -> LookupResult:
    """For a page that already knows the request (the download page of a link): the verifier alone, with the same
    lockout, failure counting (per address and per the request's tracking number) and padding as `lookup`, so a
    wrong verifier there counts towards the same limits and looks the same whatever failed. Not audited here: the
    caller's action is (the download's access event)."""
    started = time.perf_counter()
    number = record_request.tracking_number if record_request is not None else "-"
    address_key, number_key = _keys(client_address(http_request) or "unknown", number)
    if _locked(address_key, number_key):
        _pad(started)
        return LookupResult(locked=True)
    verifiers = NO_REQUEST
    if record_request is not None:
        requestor = record_request.requestor
        verifiers = verifiers_for(
            email=requestor.email,
            phone=requestor.phone,
            requestor_kind=requestor.kind,
            date_of_birth=record_request.patient.date_of_birth,
        )
    if record_request is None or not verifier_matches(verifiers, verifier):
        _failed(http_request=http_request, address_key=address_key, number_key=number_key, number=number)
        _pad(started)
        return LookupResult()
    return LookupResult(record_request=record_request, verified_by="verifier")
