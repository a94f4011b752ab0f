"""Two people act on one request at the same moment, in separate transactions against the real database."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from roi.errors import Conflict, ServiceError
from tests import factories
from tests.concurrency import run_at_once, wait_for_lock_waiter, wait_until
from tests.scoping import scoped_thread
from workflow import transitions
from workflow.choices import RequestState
from workflow.models import RecordRequest, RequestTransition


@pytest.mark.django_db(transaction=True)
def test_two_conflicting_transitions_exactly_one_wins(tenant_a, alice, sam):
    """Alice validates while Sam cancels. Alice's transaction holds the row until Sam's UPDATE is waiting on it;
    then Alice commits, and Sam's conditional UPDATE finds the state changed and loses with a clear message."""
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    alice_may_commit = threading.Event()
    outcome: dict[str, object] = {}

    def alice_validates() -> None:
        try:
            with transaction.atomic():
                transitions.request_validate(tenant=tenant_a, actor=alice, record_request=rr)
                outcome["alice"] = "won"
                alice_may_commit.wait(10)
        except Exception as error:  # noqa: BLE001 - recorded and asserted below
            outcome["alice"] = error
        finally:
            connection.close()

    def sam_cancels() -> None:
        try:
            transitions.request_cancel(tenant=tenant_a, actor=sam, record_request=rr, reason="duplicate")
            outcome["sam"] = "won"
        except Exception as error:  # noqa: BLE001 - recorded and asserted below
            outcome["sam"] = error
        finally:
            connection.close()

    first = scoped_thread(target=alice_validates)
    first.start()
    wait_until(lambda: "alice" in outcome, what="Alice's validation to hold the row")
    second = scoped_thread(target=sam_cancels)
    second.start()
    wait_for_lock_waiter()
    alice_may_commit.set()
    first.join(10)
    second.join(10)

    assert outcome["alice"] == "won"
    assert isinstance(outcome["sam"], Conflict)
    assert "Reload" in outcome["sam"].message
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    log = list(RequestTransition.objects.filter(request=rr).values_list("transition", flat=True))
    assert log == ["validate"]
    assert rr.history.filter(state=RequestState.CANCELLED).count() == 0


@pytest.mark.django_db(transaction=True)
def test_many_simultaneous_attempts_leave_one_consistent_result(tenant_a, alice, sam):
    """Eight threads race to move the same requests; every request ends in one valid state whose transition log
    agrees with it, and every loser got a ServiceError rather than a crash."""
    requests = [factories.RecordRequestFactory(tenant=tenant_a) for _ in range(5)]
    errors: list[BaseException] = []
    wins: list[tuple[int, str]] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        for rr in requests:
            name = ["validate", "cancel", "raise_exception", "deny"][index % 4]
            try:
                updated = transitions.request_transition(
                    name=name,
                    tenant=tenant_a,
                    actor=sam,
                    record_request=rr,
                    expected_state=RequestState.RECEIVED,
                    reason="race",
                    basis="not_held",
                )
                with lock:
                    wins.append((rr.pk, updated.state))
            except ServiceError:
                pass
            except BaseException as error:  # noqa: BLE001 - any other error fails the test
                with lock:
                    errors.append(error)

    race = run_at_once(worker, args=[(i,) for i in range(8)], timeout=30)

    assert errors + race.errors == []
    assert sorted(pk for pk, _ in wins) == sorted(rr.pk for rr in requests)  # exactly one winner per request
    for rr in RecordRequest.objects.filter(pk__in=[r.pk for r in requests]):
        log = list(RequestTransition.objects.filter(request=rr))
        assert len(log) == 1
        assert log[0].from_state == RequestState.RECEIVED
        assert log[0].to_state == rr.state
