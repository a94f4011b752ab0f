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
    # Aging band, stalled flag and priority of every open request: one set-based UPDATE (workflow/urgency.py).
    "refresh-urgency": {"task": "workflow.tasks.refresh_urgency", "schedule": 15 * 60.0, "options": {"expires": 900}},
    # Escalation rules: each fires once per (request, rule, level, episode) (exceptions/escalations.py).
    "evaluate-escalations": {
        "task": "exceptions.tasks.evaluate_escalations",
        "schedule": 5 * 60.0,
        "options": {"expires": 300},
    },
    # Daily metrics snapshots, taken just after each organisation's midnight (reporting/snapshots.py).
    "take-daily-snapshots": {
        "task": "reporting.tasks.take_daily_snapshots",
        "schedule": 60 * 60.0,
        "options": {"expires": 3600},
    },
    # Request rollups of finished days, and of days a change removed (reporting/rollups.py).
    "refresh-request-rollups": {
        "task": "reporting.tasks.refresh_request_rollups",
        "schedule": 60 * 60.0,
        "options": {"expires": 3600},
    },
    # The access events' chain heads, anchored outside the database (roi/anchors.py).
    "anchor-audit-chains": {
        "task": "roi.tasks.anchor_audit_chains",
        "schedule": 10 * 60.0,
        "options": {"expires": 600},
    },
    # The notification outbox: anything not yet emailed (a crash, a mail server outage) goes out here.
    "send-notifications": {"task": "roi.tasks.send_notifications", "schedule": 60.0, "options": {"expires": 60}},
    # Daily digests of unread notifications, for the members who asked, from 7 in the morning of each organisation
    # (roi/notifications.py); hourly so a missed run is made up, once a day per member whatever runs.
    "send-notification-digests": {
        "task": "roi.tasks.send_notification_digests",
        "schedule": 60 * 60.0,
        "options": {"expires": 3600},
    },
}
