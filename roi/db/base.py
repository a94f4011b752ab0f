"""Django's PostgreSQL backend, plus the one thing row-level security needs from it (roi/rls.py): the current scope's
transaction-local settings go to PostgreSQL with the first statement of every transaction, and a statement run
outside a transaction while a scope is active gets a transaction of its own, so that no statement of a scoped caller
runs without its scope.

Settings: `"ENGINE": "roi.db"`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.backends.postgresql import base
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

from roi import rls


class _ScopedStatements:
    db: Any

    def _needs_own_transaction(self) -> bool:
        return rls.current() != rls.NOTHING and self.db.get_autocommit()

    def _before(self, sql: Any) -> None:
        """A transaction's scope goes to PostgreSQL just before its first statement; after it, when that statement
        is a SET TRANSACTION, which PostgreSQL accepts only first."""
        if self.db.scope_pending and not str(sql).lstrip()[:15].upper().startswith("SET TRANSACTION"):
            self.db.scope_pending = False
            rls.apply(self.db)

    def execute(self, sql: Any, params: Any = None) -> Any:
        if self._needs_own_transaction():
            with transaction.atomic(using=self.db.alias):
                self._before(sql)
                return super().execute(sql, params)  # type: ignore[misc]
        self._before(sql)
        return super().execute(sql, params)  # type: ignore[misc]

    def executemany(self, sql: Any, param_list: Any) -> Any:
        if self._needs_own_transaction():
            with transaction.atomic(using=self.db.alias):
                self._before(sql)
                return super().executemany(sql, param_list)  # type: ignore[misc]
        self._before(sql)
        return super().executemany(sql, param_list)  # type: ignore[misc]


class ScopedCursorWrapper(_ScopedStatements, CursorWrapper):
    pass


class ScopedCursorDebugWrapper(_ScopedStatements, CursorDebugWrapper):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    # A transaction began and its scope is not yet with PostgreSQL (sent with its first statement).
    scope_pending = False

    def make_cursor(self, cursor: Any) -> CursorWrapper:
        return ScopedCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> CursorWrapper:
        return ScopedCursorDebugWrapper(cursor, self)

    def _set_autocommit(self, autocommit: bool) -> None:
        super()._set_autocommit(autocommit)
        self.scope_pending = not autocommit and rls.current() != rls.NOTHING
