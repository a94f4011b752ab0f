"""The Celery application. The beat schedule lives here, in code, so every deployment runs the same jobs."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roi.settings")

app = Celery("roi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Proves that beat is alive; /healthz/ reports the age of the last heartbeat.
    "beat-heartbeat": {"task": "roi.tasks.beat_heartbeat", "schedule": 60.0},
}
