"""Shared pieces of the hostile-input tests: the API schema as the app serves it, loaded with schemathesis's Python
API (not its pytest plugin, so the pytest version does not matter), and the app as a WSGI callable that runs in the
test's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer


def api_schema() -> Any:
    """The schema /api/schema/ serves, generated in-process (no database needed), as schemathesis reads it."""
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(raw)))


@pytest.fixture
def wsgi_app(settings) -> Iterator[Any]:
    """Django's WSGI handler, called in-process inside the test's transaction. Like Django's test client it must not
    close the database connection when a request starts or finishes: that would end the transaction the test (and
    its rollback) runs in."""
    settings.ALLOWED_HOSTS = ["*"]
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
