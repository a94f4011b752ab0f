"""The server's own pages: /healthz/ for load balancers and monitoring, and the 500 handler that tells a
passing outage (database, storage) from a bug."""

from __future__ import annotations

import errno
import sys

from django import db
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views import defaults
from django.views.decorators.http import require_GET

from roi import rls
from roi.tasks import HEARTBEAT_KEY

# While PostgreSQL cannot be reached: how long a client should wait before trying again (a restart takes seconds).
RETRY_AFTER_SECONDS = 30


# A storage that refuses to write (MEDIA_ROOT full, over quota, read-only, gone): the operator's problem, not a bug.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})


def server_error(request: HttpRequest) -> HttpResponse:
    """settings handler500. Two failures are the server's passing state, not a bug, and say so instead of the 500
    page (in JSON for the API): a database that cannot be reached (a restart, a failover), 503 with Retry-After; and
    a document storage that refuses to write (roi/storage.py leaves no partial file, the caller's transaction rolls
    back), 503. Anything else is the 500 page."""
    error = sys.exc_info()[1]
    if isinstance(error, (db.OperationalError, db.InterfaceError)):
        response = _unavailable(
            request, "503.html", "The database is briefly unavailable; nothing was saved. Try again shortly."
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
        return _unavailable(
            request,
            "503_storage.html",
            "The document storage is full or unavailable; the action was not completed and nothing was kept. "
            "Try again later, and tell your administrator if it lasts.",
        )
    return defaults.server_error(request)


def _unavailable(request: HttpRequest, template: str, detail: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=503)
    return HttpResponse(loader.get_template(template).render(), status=503)


# How long /healthz/ waits for the broker: a health check must answer, not wait for Redis to come back.
BROKER_CHECK_TIMEOUT_SECONDS = 1.0


def celery_queue_depth() -> int:
    """Tasks waiting in the default queue (kombu's Redis transport keeps it as a list named after the queue).

    Asked of Redis directly with a short timeout, not through a kombu connection: kombu retries a broker that does
    not answer until it does, which held every gunicorn worker a health check reached for the length of a Redis
    outage (the redis-restart drill)."""
    import redis

    from roi.celery import app

    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=BROKER_CHECK_TIMEOUT_SECONDS,
        socket_timeout=BROKER_CHECK_TIMEOUT_SECONDS,
    )
    try:
        return int(client.llen(app.conf.task_default_queue))
    finally:
        client.close()


SCOPE_KEY_MISMATCH = (
    "error: the database does not accept this app's tenant scope: SECRET_KEY changed since the last migrate; "
    "run manage.py migrate"
)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for load balancers and monitoring: database, Redis, beat's last heartbeat and the
    number of tasks waiting in the broker's queue. `?workers=1` also pings the Celery workers (up to a second) and
    answers 503 when none replies: for a monitor of the worker tier, not for the load balancer."""
    checks: dict[str, object] = {}
    healthy = True
    try:
        # Under a signed scope, as every page runs: PostgreSQL must recompute its MAC with the key migrate gave it.
        # A SECRET_KEY changed without `migrate` would show every page empty; here it is said (roi/rls.py).
        with rls.tenant_scope(0), connection.cursor() as cursor:
            cursor.execute("SELECT roi_current_tenant()")
            signed = cursor.fetchone()[0] == 0
        checks["database"] = "ok" if signed else SCOPE_KEY_MISMATCH
        healthy = healthy and signed
    except Exception as error:  # noqa: BLE001 - report any failure to the monitor rather than answering 500
        checks["database"] = f"error: {type(error).__name__}"
        healthy = False
    try:
        stamp = cache.get(HEARTBEAT_KEY)
        checks["redis"] = "ok"
        last = parse_datetime(stamp) if stamp else None
        checks["beat_heartbeat_age_seconds"] = int((timezone.now() - last).total_seconds()) if last else None
    except Exception as error:  # noqa: BLE001 - a broken cache is reported, not raised
        checks["redis"] = f"error: {type(error).__name__}"
        healthy = False
    try:
        checks["queue_depth"] = celery_queue_depth()
    except Exception as error:  # noqa: BLE001 - a broker that cannot be reached is reported, not raised
        checks["queue_depth"] = f"error: {type(error).__name__}"
        healthy = False
    if request.GET.get("workers"):
        from roi.celery import app

        replies = app.control.ping(timeout=1.0)
        checks["workers"] = len(replies)
        healthy = healthy and bool(replies)
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)
