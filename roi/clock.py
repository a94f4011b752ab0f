"""The time services stamp on what they record.

Services call `clock.now()` instead of `timezone.now()`, so that recording something that happened earlier (a demo
data set's history, a test of a deadline) goes through the same services with `clock.frozen(moment)`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("roi_clock_frozen", default=None)


def now() -> datetime:
    return _frozen.get() or timezone.now()


@contextmanager
def frozen(moment: datetime) -> Iterator[datetime]:
    if timezone.is_naive(moment):
        raise ValueError("clock.frozen needs an aware datetime")
    token = _frozen.set(moment)
    try:
        yield moment
    finally:
        _frozen.reset(token)
