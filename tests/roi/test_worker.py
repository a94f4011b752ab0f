"""A real Celery worker process, connected to the test Redis, executes tasks sent by the application."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils.dateparse import parse_datetime

from roi.tasks import HEARTBEAT_KEY, beat_heartbeat, ping

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_queue():
    """Start `celery -A roi worker` on a queue of its own, so no other worker on the same Redis takes its tasks."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "roi",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield queue
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if process.returncode not in (0, -15):
            print(output.decode(errors="replace"))


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
