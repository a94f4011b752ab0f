"""Races against the real database: the same work started in several threads at one moment, each on its own
connection. Used by the tests of claims, numbering, single-use links and other compare-and-swap writes, which must
hold when two people (or two workers) act at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connections

from tests.scoping import scoped_thread

T = TypeVar("T")


@dataclass
class ThreadOutcome:
    """What one thread ended with: the value its function returned, or the error it raised."""

    result: Any = None
    error: BaseException | None = None


@dataclass
class Race:
    """The outcome of every thread, in the order they were started."""

    outcomes: list[ThreadOutcome] = field(default_factory=list)

    @property
    def results(self) -> list[Any]:
        """The return values of the threads that finished without an error, in start order."""
        return [o.result for o in self.outcomes if o.error is None]

    @property
    def errors(self) -> list[BaseException]:
        return [o.error for o in self.outcomes if o.error is not None]


def run_at_once(
    fn: Callable[..., Any],
    n: int = 2,
    *,
    args: Iterable[Sequence[Any]] | None = None,
    timeout: float = 60.0,
) -> Race:
    """Run `fn` in `n` threads (or once per tuple of `args`, which sets `n`) released together by a barrier, each in
    the scope of the caller (tests/scoping.py) and closing its own database connections when done. Waits at most
    `timeout` seconds for all of them; a thread still running then fails the test (a hung race must not hang the
    suite). Errors raised in a thread are collected in the result, not raised: the test asserts on them."""
    arguments = [tuple(a) for a in args] if args is not None else [() for _ in range(n)]
    barrier = threading.Barrier(len(arguments))
    race = Race(outcomes=[ThreadOutcome() for _ in arguments])

    def run(outcome: ThreadOutcome, call_args: tuple[Any, ...]) -> None:
        try:
            barrier.wait(timeout=timeout)
            outcome.result = fn(*call_args)
        except BaseException as error:  # noqa: BLE001 - handed to the test through Race.errors
            outcome.error = error
        finally:
            connections.close_all()

    threads = [scoped_thread(target=run, args=(o, a)) for o, a in zip(race.outcomes, arguments, strict=True)]
    for thread in threads:
        thread.daemon = True  # a thread that never returns must not keep the test process alive
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [index for index, thread in enumerate(threads) if thread.is_alive()]
    if stuck:
        raise AssertionError(f"threads {stuck} of {len(threads)} were still running after {timeout:g}s")
    return race


def wait_until(condition: Callable[[], T], *, what: str, timeout: float = 10.0, interval: float = 0.01) -> T:
    """Poll `condition` until it returns something truthy, and return that. After `timeout` seconds the test fails
    saying `what` it was waiting for: a poll without a deadline turns a bug into a run that never ends."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def wait_for_lock_waiter(timeout: float = 10.0) -> None:
    """Block until some other backend waits on a row lock (the second writer reached its UPDATE): races are
    synchronised on PostgreSQL's own lock queue, not on sleeps."""
    from django.db import connection

    def someone_waits() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            return cursor.fetchone()[0] > 0

    wait_until(someone_waits, what="the second transaction to block on the row", timeout=timeout, interval=0.02)
