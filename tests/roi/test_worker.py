"""A real Celery worker process, connected to the test Redis, executes tasks sent by the application."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils.dateparse import parse_datetime

from roi.tasks import HEARTBEAT_KEY, beat_heartbeat, ping


@pytest.mark.worker
def test_a_worker_process_executes_a_task(worker_queue):
    result = ping.apply_async(args=["hello from the test"], queue=worker_queue)
    assert result.get(timeout=60) == "hello from the test"


@pytest.mark.worker
def test_the_beat_heartbeat_task_records_its_time_in_redis(worker_queue):
    cache.delete(HEARTBEAT_KEY)
    stamp = beat_heartbeat.apply_async(queue=worker_queue).get(timeout=60)
    assert cache.get(HEARTBEAT_KEY) == stamp
    assert parse_datetime(stamp) is not None
