"""Exception episodes: one open per request in exception, the reason recorded on the request for queues, time in
exception accumulated across episodes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from exceptions.models import ExceptionEpisode
from exceptions.services import exception_open, exception_resolve
from roi import clock
from roi.errors import ServiceError
from tests import factories
from workflow.choices import RequestState

T0 = datetime(2026, 5, 4, 15, 0, tzinfo=ZoneInfo("UTC"))


def _open(rr, actor, moment, **kw):
    with clock.frozen(moment):
        return exception_open(
            tenant=rr.tenant, actor=actor, record_request=rr, reason=kw.get("reason", "awaiting_department"),
            detail="Films in storage", next_step="Call imaging", next_action_due=moment.date() + timedelta(days=3),
        )  # fmt: skip


def test_an_episode_records_reason_and_time_in_exception_across_episodes(tenant_a, alice):
    rr = factories.RecordRequestFactory(tenant=tenant_a, received_at=T0 - timedelta(days=1))
    _open(rr, alice, T0)
    rr.refresh_from_db()
    assert (rr.state, rr.exception_reason, rr.exception_since) == (RequestState.EXCEPTION, "awaiting_department", T0)
    with clock.frozen(T0 + timedelta(days=2)):
        exception_resolve(tenant=tenant_a, actor=alice, record_request=rr, resolution="Films arrived")
    rr.refresh_from_db()
    assert (rr.exception_reason, rr.exception_since) == ("", None)
    assert rr.exception_seconds_before == 2 * 86400
    _open(rr, alice, T0 + timedelta(days=5), reason="legal_review")
    rr.refresh_from_db()
    assert rr.time_in_exception_seconds(T0 + timedelta(days=6)) == 3 * 86400
    assert ExceptionEpisode.objects.filter(request=rr).count() == 2
    assert ExceptionEpisode.objects.filter(request=rr, resolved_at__isnull=True).count() == 1


def test_the_database_refuses_a_second_open_episode(tenant_a, alice):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    episode = _open(rr, alice, clock.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        ExceptionEpisode.objects.create(
            tenant=tenant_a, request=rr, reason="other", detail="x", opened_at=clock.now(), next_step="x",
            next_action_due=date.today(),
        )  # fmt: skip
    assert episode.is_open


def test_an_exception_needs_a_reason_from_the_list_a_next_step_and_a_future_due_date(tenant_a, alice):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    with pytest.raises(ServiceError, match="reason"):
        exception_open(tenant=tenant_a, actor=alice, record_request=rr, reason="bored", detail="x", next_step="x",
                       next_action_due=date.today())  # fmt: skip
    with pytest.raises(ServiceError, match="next step"):
        exception_open(tenant=tenant_a, actor=alice, record_request=rr, reason="other", detail="x", next_step=" ",
                       next_action_due=date.today())  # fmt: skip
    with pytest.raises(ServiceError, match="past"):
        exception_open(tenant=tenant_a, actor=alice, record_request=rr, reason="other", detail="x", next_step="x",
                       next_action_due=date.today() - timedelta(days=2))  # fmt: skip
    rr.refresh_from_db()
    assert rr.state == RequestState.RECEIVED
