"""The race and polling helpers every concurrency test relies on (tests/concurrency.py): a broken helper would let a
race test pass without racing, or hang the run."""

from __future__ import annotations

import threading

import pytest

from tests.concurrency import run_at_once, wait_until


def test_run_at_once_releases_the_threads_together_and_keeps_results_and_errors_apart():
    arrived = threading.Barrier(3, timeout=5)  # passes only if all three run side by side

    def work(number: int) -> int:
        arrived.wait()
        if number == 2:
            raise ValueError("two")
        return number * 10

    race = run_at_once(work, args=[(1,), (2,), (3,)], timeout=10)
    assert race.results == [10, 30]
    assert [str(error) for error in race.errors] == ["two"]
    assert [outcome.result for outcome in race.outcomes] == [10, None, 30]


def test_run_at_once_fails_on_a_thread_that_does_not_finish():
    release = threading.Event()
    try:
        with pytest.raises(AssertionError, match=r"threads \[0, 1\] of 2 were still running after 0\.2s"):
            run_at_once(lambda: release.wait(5), n=2, timeout=0.2)
    finally:
        release.set()


def test_wait_until_returns_the_first_truthy_answer():
    answers = iter([None, 0, "ready"])
    assert wait_until(lambda: next(answers), what="an answer", timeout=5) == "ready"


def test_wait_until_names_what_it_waited_for_when_the_deadline_passes():
    with pytest.raises(AssertionError, match=r"gave up after 0\.05s waiting for the worker to start"):
        wait_until(lambda: False, what="the worker to start", timeout=0.05)
