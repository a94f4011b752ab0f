"""Django's PostgreSQL backend, plus the one thing row-level security needs from it (roi/rls.py): before every
statement, the connection's scope settings are made to match the caller's current scope.

The settings are the session's (`set_config(name, value, false)`), sent only when the scope differs from what this
connection last sent, so a request that acts for one tenant pays one extra statement, not one per transaction. Every
statement goes through the check, so a connection reused by another request or task never runs a statement under a
scope that is not its caller's. PostgreSQL undoes a session setting made in a transaction that rolls back (or in a
savepoint rolled back to), so after any rollback the connection's scope counts as unknown and is sent again.
A consequence for deployment: a pooler between the app and PostgreSQL must pool by session, not by transaction
(docs/operations.md).

Settings: `"ENGINE": "roi.db"`.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.backends.postgresql import base
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

from roi import rls

_TRANSACTION_CONTROL = re.compile(r"\s*(SET\s+TRANSACTION|SAVEPOINT|RELEASE|ROLLBACK)\b", re.IGNORECASE)


class _ScopedStatements:
    db: Any

    def _before(self, sql: Any) -> None:
        """Send the caller's scope when the connection's differs. Not in front of a statement that reads no row:
        SET TRANSACTION must be a transaction's first statement, and the savepoint statements must run in a
        transaction that an error has aborted (the next statement sends the scope)."""
        wanted = rls.current()
        if self.db.scope_sent == wanted or _TRANSACTION_CONTROL.match(str(sql)):
            return
        # As Django wraps its own statements: a lost connection is django.db's OperationalError (a 503, not a 500:
        # roi.views.health.server_error), and the connection is marked for Django to drop.
        with self.db.wrap_database_errors:
            rls.send(self.db, wanted)

    def execute(self, sql: Any, params: Any = None) -> Any:
        self._before(sql)
        return super().execute(sql, params)  # type: ignore[misc]  # a mixin: CursorWrapper comes after it

    def executemany(self, sql: Any, param_list: Any) -> Any:
        self._before(sql)
        return super().executemany(sql, param_list)  # type: ignore[misc]  # a mixin: CursorWrapper comes after it


class ScopedCursorWrapper(_ScopedStatements, CursorWrapper):
    pass


class ScopedCursorDebugWrapper(_ScopedStatements, CursorDebugWrapper):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    # The scope whose settings this connection's session holds; None when unknown (a new connection, a rollback).
    scope_sent: rls.Scope | None = None
    # The session's server process (a scope's MAC names it) and login kind, read once per connection (roi/rls.py).
    session_facts: rls.SessionFacts | None = None

    def make_cursor(self, cursor: Any) -> CursorWrapper:
        return ScopedCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> CursorDebugWrapper:
        return ScopedCursorDebugWrapper(cursor, self)

    def get_new_connection(self, conn_params: Any) -> Any:
        self.scope_sent = None
        self.session_facts = None
        return super().get_new_connection(conn_params)

    # After the rollback, not before: ROLLBACK TO SAVEPOINT is itself a statement (through a cursor), and in an
    # aborted transaction it must go first.
    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # Django's private hook, absent from the stubs
        finally:
            self.scope_sent = None

    def _savepoint_rollback(self, sid: Any) -> None:
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]  # Django's private hook, absent from the stubs
        finally:
            self.scope_sent = None

    def _close(self) -> None:
        self.scope_sent = None
        self.session_facts = None
        super()._close()  # type: ignore[misc]  # Django's private hook, absent from the stubs
