"""Status lookup: a tracking number and a verifier in, a request (or one answer for every failure) out.

Every failed lookup looks the same from outside, whatever failed: the same message, the same status code, and at
least PORTAL_LOOKUP_FAILURE_MS of time (the database is read the same way for a number that exists and one that does
not, and the verifier comparison always runs, against placeholders when there is no request).

Failures are slowed, never locked (roi/throttle.py, counters in Redis), so that failing on purpose cannot shut a
real requestor out:
- per client address, across every number tried: PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS free failures, then each
  further lookup from it waits a growing interval, at most PORTAL_LOOKUP_MAX_WAIT_SECONDS;
- per tracking number as typed, a ceiling against guessing one request's verifier from many addresses: each address
  counts once against the number, so one stranger's failures do not slow the requestor at another address; past
  PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER failing addresses, every lookup of the number waits its turn the same way.
A lookup before its turn is answered "try again in ..." without reading the database; the signed status link in
the requestor's emails never goes through these counters. The start of a slowdown is recorded (LookupLockout, and
an AccessEvent on the request when the number is real). Successful lookups are access events of their tenant.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import ngettext

from portal.models import LookupLockout
from portal.verification import (
    NO_REQUEST,
    birth_date_to_verify,
    requestor_access_record,
    verifier_matches,
    verifiers_for,
)
from roi import clock, rls
from roi.audit import client_address
from roi.choices import AccessAction
from roi.throttle import Attempt, Policy, Subject, Throttled, attempt_admit, attempt_succeed
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
    wait_seconds: int = 0  # more than 0: not checked, try again after this long
    verified_by: str = ""

    @property
    def found(self) -> bool:
        return self.record_request is not None

    @property
    def must_wait(self) -> bool:
        return self.wait_seconds > 0


def count_in_window(key: str, seconds: int) -> int:
    """Add one to a counter that lives `seconds` from its first count (a fixed window); the new count. The portal's
    account emails use it: confirmations and password-reset links sent to one address."""
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=seconds)
        return 1


def lookup_subjects(*, address: str, number: str) -> list[Subject]:
    """What a lookup (or a download page's verifier) counts against: the address, and the number once per address
    and hour (Subject.once_seconds)."""
    cap = settings.PORTAL_LOOKUP_MAX_WAIT_SECONDS
    by_address = Policy("portal-lookup:address", free=settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS, max_wait=cap)
    by_number = Policy("portal-lookup:number", free=settings.PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER, max_wait=cap)
    return [Subject(by_address, address), Subject(by_number, number, once_per=address)]


def wait_phrase(seconds: int) -> str:
    """'40 seconds', '5 minutes', in the visitor's language: when to try again."""
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _record_slowdown(*, scope: str, subject: str, failures: int, http_request: HttpRequest, number: str) -> None:
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
                detail=f"Portal lookups slowed: {failures} failures for this "
                f"{LookupLockout.Scope(scope).label.lower()}",
                who="portal visitor (not verified)",
            )


def _failed(*, attempt: Attempt, http_request: HttpRequest, address: str, number: str) -> None:
    """The failure is already counted; record a subject whose slowdown it starts (once per climb past the free
    failures, since the attempts after it wait their turn)."""
    by_address, by_number = attempt.subjects
    for subject, scope, name in (
        (by_address, LookupLockout.Scope.ADDRESS, address),
        (by_number, LookupLockout.Scope.TRACKING_NUMBER, number),
    ):
        failures = attempt.failures_of(subject)
        if failures == subject.policy.free and attempt.counted[attempt.subjects.index(subject)]:
            _record_slowdown(scope=scope, subject=name, failures=failures, http_request=http_request, number=number)


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
    def find() -> RecordRequest | None:
        return (
            RecordRequest.objects.select_related("tenant", "requestor", "patient", "portal_submission")
            # `state` too: the model reads it when built (django-fsm's concurrent transitions), and a deferred
            # state would cost a real number one query more than an unknown one.
            .only(
                "id",
                "state",
                "tenant__id",
                "tenant__name",
                "tenant__timezone",
                "tracking_number",
                "patient_id",
                "patient__date_of_birth",
                "patient__is_placeholder",
                "portal_submission__patient_date_of_birth",
                "requestor__email",
                "requestor__phone",
                "requestor__kind",
            )
            .filter(tracking_number=number)
            .first()
        )

    result = _checked(number=number, verifier=verifier, http_request=http_request, started=started, find=find)
    if result.found:
        requestor_access_record(
            http_request=http_request,
            record_request=result.record_request,
            action=AccessAction.PORTAL_LOOKUP,
            detail="Status lookup with tracking number and verifier",
            who="portal requestor (verified)",
        )
    return result


def verifier_check(*, record_request: RecordRequest | None, verifier: str, http_request: HttpRequest) -> LookupResult:
    """For a page that already knows the request (the download page of a link): the verifier alone, with the same
    throttle (per address, and per the request's tracking number) and padding as `lookup`, so a wrong verifier there
    counts towards the same limits and looks the same whatever failed. Not audited here: the caller's action is
    (the download's access event)."""
    started = time.perf_counter()
    number = record_request.tracking_number if record_request is not None else "-"
    return _checked(
        number=number, verifier=verifier, http_request=http_request, started=started, find=lambda: record_request
    )


def _checked(
    *,
    number: str,
    verifier: str,
    http_request: HttpRequest,
    started: float,
    find: Callable[[], RecordRequest | None],
) -> LookupResult:
    """Within the throttle: find the request and compare the verifier, the same work whether or not it exists."""
    address = client_address(http_request) or "unknown"
    try:
        attempt = attempt_admit(lookup_subjects(address=address, number=number))
    except Throttled as refused:
        _pad(started)
        return LookupResult(wait_seconds=refused.wait_seconds)
    record_request = find()
    verifiers = NO_REQUEST
    if record_request is not None:
        requestor = record_request.requestor
        verifiers = verifiers_for(
            email=requestor.email,
            phone=requestor.phone,
            requestor_kind=requestor.kind,
            date_of_birth=birth_date_to_verify(record_request),
        )
    matched = verifier_matches(verifiers, verifier)
    if record_request is None or not matched:
        _failed(attempt=attempt, http_request=http_request, address=address, number=number)
        _pad(started)
        return LookupResult()
    attempt_succeed(attempt)
    return LookupResult(record_request=record_request, verified_by="verifier")
