"""Timing and the floors every page benchmark prints beside its figures, measured in the same run.

A figure alone says little on a shared 2-core machine; beside what the same machine takes for the least possible
work of the same kind, it says how much of the time is ours:
  - a bare Django view: an anonymous GET through our whole middleware stack to a view that returns "ok", no SQL;
  - /healthz/: the same plus a signed-scope check (one statement to send the scope, one to check it) and a Redis GET;
  - the staff frame: a signed-in staff page that shows nothing of its own (session, user, membership, the tenant's
    signed scope, the header with its search box and unread badge) and writes its access event, as every page that
    shows patient information does: what any staff page costs before its own work;
  - a page's own SQL, executed alone on the same connection;
  - opening a new database connection (what a page pays on top without persistent connections).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import View


def measure(fn: Callable[[], Any], iterations: int) -> tuple[float, float]:
    """(median, p95) in milliseconds of `iterations` calls, after a few untimed ones that warm caches."""
    for _ in range(max(3, iterations // 10)):
        fn()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, max(0, round(len(samples) * 0.95) - 1))]


def _bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def _staff_frame(request: HttpRequest) -> HttpResponse:
    from django.shortcuts import render

    from roi.audit import access_record
    from roi.choices import AccessAction
    from roi.tenancy import TenantViewMixin

    class StaffFrame(TenantViewMixin, View):
        def get(self, request: HttpRequest) -> HttpResponse:
            access_record(
                tenant=self.tenant, actor=request.user, action=AccessAction.LIST_REQUESTS, request=request,
                detail="benchmark: the staff frame floor",
            )  # fmt: skip
            return render(request, "base.html", {})

    response: HttpResponse = StaffFrame.as_view()(request)
    return response


def __getattr__(name: str) -> Any:
    """`urlpatterns`, served only inside the floors' override_settings, never by the application's URL
    configuration; the frame's header links need the application's routes beside it, which can be imported only
    once Django is set up (hence built when Django first asks)."""
    if name == "urlpatterns":
        return [path("bench-bare/", _bare), path("bench-frame/", _staff_frame), path("", include("roi.urls"))]
    raise AttributeError(name)


def bare_view_floor(iterations: int) -> tuple[float, float]:
    from django.test import Client, override_settings

    client = Client()
    with override_settings(ROOT_URLCONF="benchmarks.timing"):
        return measure(lambda: client.get("/bench-bare/"), iterations)


def staff_frame_floor(client: Any, iterations: int) -> tuple[float, float]:
    """The signed-in staff frame (see the module's docstring), for `client` (staff_client)."""
    from django.test import override_settings

    with override_settings(ROOT_URLCONF="benchmarks.timing"):
        response = client.get("/bench-frame/")
        assert response.status_code == 200, response.status_code
        return measure(lambda: client.get("/bench-frame/"), iterations)


def staff_client(user: Any) -> Any:
    """A test client signed in as a staff member who has proven the second factor (roi/two_factor.py), as a
    member's browser is after sign-in: `force_login` skips both the password and the second factor."""
    from django.test import Client

    from roi.two_factor import VERIFIED_KEY

    client = Client()
    client.force_login(user)
    session = client.session
    session[VERIFIED_KEY] = "benchmark"
    session.save()
    return client


def healthz_floor(client: Any, iterations: int) -> tuple[float, float]:
    return measure(lambda: client.get("/healthz/"), iterations)


def captured_sql(client: Any, url: str) -> list[tuple[str, Any]]:
    """Every statement (with its parameters) that one GET of `url` runs."""
    from django.db import connection

    executed: list[tuple[str, Any]] = []

    def capture(execute: Callable[..., Any], sql: str, params: Any, *rest: Any) -> Any:
        executed.append((sql, params))
        return execute(sql, params, *rest)

    with connection.execute_wrapper(capture):
        client.get(url)
    return executed


def sql_floor(statements: list[tuple[str, Any]], iterations: int) -> tuple[float, float]:
    """The statements run alone, one after the other, on the same (persistent) connection, rows fetched."""
    from django.db import connection

    def run() -> None:
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                if cursor.description is not None:
                    cursor.fetchall()

    return measure(run, iterations)


def new_connection_floor(iterations: int) -> tuple[float, float]:
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)

    def connect() -> None:
        psycopg.connect(**params).close()

    return measure(connect, iterations)
