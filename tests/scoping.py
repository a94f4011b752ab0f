"""Test helpers around the database roles and row-level security scopes (roi/rls.py, tests/conftest.py)."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# {"owner": (user, password), "app": (user, password)}: filled by tests/conftest.py before the test database exists.
CREDENTIALS: dict[str, tuple[str, str]] = {}


def scoped_thread(target: Callable[..., Any], args: tuple[Any, ...] = ()) -> threading.Thread:
    """A thread that runs in the scope of the code that starts it (a new thread starts with none, and would see no
    tenant's rows), like the request or task whose work it stands for."""
    context = contextvars.copy_context()
    return threading.Thread(target=context.run, args=(target, *args))


@contextmanager
def owner_cursor() -> Iterator[Any]:
    """A cursor of the table owner on the test database, in autocommit: what someone with the owner's rights could
    do (the app role may not). Sees only what the test has committed: use it in transactional tests."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    user, password = CREDENTIALS["owner"]
    with (
        psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            dbname=db["NAME"],
            user=user,
            password=password or None,
            autocommit=True,
        ) as conn,
        conn.cursor() as cursor,
    ):
        yield cursor
