"""Tracking-number enumeration on the portal's status lookup (portal/lookup.py), from outside: whatever is guessed,
a failure reads the same and takes the same time. Already covered in tests/portal/test_lookup.py and not repeated
here: a few fixed failures giving one answer, the padding floor, the per-address and per-number slowdowns and their
identical 429. Added here: generated numbers and verifiers, the database work of a real number against an unknown
one, and that both are padded alike (timing without a wall clock).
"""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from workflow.models import TRACKING_ALPHABET, TRACKING_GROUP_LENGTH, TRACKING_GROUPS

pytestmark = pytest.mark.django_db

LOOKUP = reverse("portal:lookup")
EMAIL = "paralegal@hartley.example.com"
FLOOR_MS = 150
TRIES = 15
LOOKUPS = 40

GROUP = st.text(alphabet=TRACKING_ALPHABET, min_size=TRACKING_GROUP_LENGTH, max_size=TRACKING_GROUP_LENGTH)
WELL_FORMED = st.lists(GROUP, min_size=TRACKING_GROUPS, max_size=TRACKING_GROUPS).map(lambda g: "ROI-" + "-".join(g))
# Wrong verifiers: other emails, phone-like and date-like strings, and arbitrary text.
VERIFIERS = st.one_of(
    st.emails().filter(lambda e: e.lower() != EMAIL),
    st.from_regex(r"\(\d{3}\) \d{3}-\d{4}", fullmatch=True).filter(lambda p: p != "(312) 555-0142"),
    st.dates().map(lambda d: d.strftime("%m/%d/%Y")),
    # Printable text: a control character (NUL) is refused by the form before any lookup, for every number alike.
    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=60).filter(str.strip),
)


@pytest.fixture
def record_request(tenant_a):
    return factories.RecordRequestFactory(
        tenant=tenant_a,
        requestor__email=EMAIL,
        requestor__phone="(312) 555-0142",
        patient__date_of_birth=date(1980, 4, 2),
    )


def _visitor() -> Client:
    n = uuid.uuid4().int
    return Client(REMOTE_ADDR=f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}")


def _failure(client: Client, number: str, verifier: str) -> tuple[int, str]:
    """Status and the failure message (what differs legitimately, the CSRF token and the typed number, left out)."""
    response = client.post(LOOKUP, {"tracking_number": number, "verifier": verifier})
    body = response.content.decode()
    start = body.find('<div class="alert error"')
    return response.status_code, body[start : body.index("</div>", start)] if start >= 0 else body


def test_guessed_numbers_and_wrong_verifiers_all_get_the_same_answer(settings, record_request):
    settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = 10_000
    settings.PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER = 10_000
    reference = _failure(_visitor(), "ROI-2222-3333-4444", EMAIL)
    assert reference[0] == 200
    assert "could not find a request with these details" in reference[1]

    @hypothesis_settings(max_examples=LOOKUPS, deadline=None, database=None)
    @given(number=st.one_of(WELL_FORMED, st.just(record_request.tracking_number)), verifier=VERIFIERS)
    def lookup(number: str, verifier: str) -> None:
        assert _failure(_visitor(), number, verifier) == reference, (number, verifier)

    lookup()
    assert not AccessEvent.objects.filter(action=AccessAction.PORTAL_LOOKUP).exists()


def _statements(number: str, verifier: str) -> list[str]:
    """The SQL a failed lookup runs, its values left out."""
    with CaptureQueriesContext(connection) as queries:
        status, _text = _failure(_visitor(), number, verifier)
    assert status == 200
    return [re.sub(r"'[^']*'|\b\d+\b", "?", query["sql"]) for query in queries.captured_queries]


def test_a_real_number_with_a_wrong_verifier_does_the_same_database_work_as_an_unknown_number(record_request):
    """Timing without a clock: the same statements, in the same order, whether the number exists or not (a model
    field left deferred once cost a real number one query more)."""
    unknown = _statements("ROI-2222-3333-4444", "wrong@example.com")
    real = _statements(record_request.tracking_number, "wrong@example.com")
    assert real == unknown
    # The number's organisation (roi/rls.py), the request with its parties, then the organisations whose request forms
    # the failure page offers (the same list for every failure).
    assert len(real) == 3


class _StoppedClock:
    """portal.lookup's `time`: a perf_counter that moves only when the lookup sleeps. What a failure is padded to
    then reads the same on an idle laptop and a busy CI machine; a wall clock there only measures the neighbours."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_real_number_with_a_wrong_verifier_is_padded_like_an_unknown_number(settings, monkeypatch, record_request):
    """Timing without a wall clock: every failure, real number or unknown, goes through the padding and ends exactly
    PORTAL_LOOKUP_FAILURE_MS after it started. With the same database work (the test above), nothing is left for a
    clock to tell apart. That the padding really sleeps is tests/portal/test_lookup.py's floor test."""
    settings.PORTAL_LOOKUP_FAILURE_MS = FLOOR_MS
    settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = 10_000
    settings.PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER = 10_000
    stopped = _StoppedClock()
    monkeypatch.setattr("portal.lookup.time", stopped)
    client = _visitor()
    padded_to: dict[str, set[float]] = {"real": set(), "unknown": set()}
    for index in range(TRIES):
        for kind, number in (("real", record_request.tracking_number), ("unknown", "ROI-2222-3333-4444")):
            started = stopped.now
            status, _text = _failure(client, number, f"wrong-{index}@example.com")
            assert status == 200
            padded_to[kind].add(round((stopped.now - started) * 1000, 6))
    assert padded_to == {"real": {FLOOR_MS}, "unknown": {FLOOR_MS}}
    assert len(stopped.sleeps) == 2 * TRIES  # one padding per failure, none skipped, none doubled
