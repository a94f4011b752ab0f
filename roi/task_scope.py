"""Celery tasks run in the tenant scope of whoever queued them (roi/rls.py): the tenant id travels in a message
header, set when the task is published and put in force while it runs. A task queued with no tenant (beat's jobs)
runs with none and reaches tenants only through `rls.each_tenant()`. A bypass never travels."""

from __future__ import annotations

from contextvars import Token
from typing import Any

from celery import signals

from roi import rls

HEADER = "roi_tenant_id"
_tokens: dict[str, Token[rls.Scope]] = {}


@signals.before_task_publish.connect
def _stamp_tenant(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    if headers is not None:
        headers[HEADER] = rls.current().tenant_id


@signals.task_prerun.connect
def _enter_scope(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    request = getattr(task, "request", None)
    if getattr(request, "is_eager", False):
        scope = rls.current()  # run in-process (task.apply()): the caller's scope, as for any function call
    else:
        tenant_id = getattr(request, HEADER, None)
        scope = rls.Scope(tenant_id=int(tenant_id)) if tenant_id else rls.NOTHING
    _tokens[task_id or ""] = rls.activate(scope)


@signals.task_postrun.connect
def _leave_scope(task_id: str | None = None, **_kwargs: Any) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        rls.deactivate(token)
