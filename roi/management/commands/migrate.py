"""`manage.py migrate`, run as the database owner (row-level security, roi/rls.py).

With DATABASE_OWNER_URL set, the migrations run as that role, which owns the tables; the app's own role (DATABASE_URL)
is created when missing (if the owner may create roles) and never owns anything. Either way the migrations run with
the tenant wall lifted for their own session (data migrations see every tenant), and afterwards every tenant table
gets its policies and the app role its privileges (roi/apps.py, post_migrate).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import dj_database_url
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import connections

from roi import rls


@contextlib.contextmanager
def as_owner(connection: Any) -> Iterator[None]:
    """The connection logs in as the owner for the duration (same server and database, the owner's credentials)."""
    if not settings.DATABASE_OWNER_URL:
        yield
        return
    owner = dj_database_url.parse(settings.DATABASE_OWNER_URL)
    saved = {key: connection.settings_dict.get(key) for key in ("USER", "PASSWORD")}
    connection.close()
    connection.settings_dict.update({"USER": owner["USER"], "PASSWORD": owner["PASSWORD"]})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def app_role_ensure(connection: Any, role: str, password: str | None) -> None:
    """Create the app role if it is missing: it may log in, and nothing more (no superuser, no BYPASSRLS, no
    CREATEDB or CREATEROLE). An existing role that could bypass the wall stops the migration."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
            if not cursor.fetchone()[0]:
                raise CommandError(
                    f"The app role {role!r} (DATABASE_URL) does not exist and the owner role may not create it. "
                    f"Ask the database administrator to run: CREATE ROLE {role} LOGIN PASSWORD '...' "
                    "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;"
                )
            # The password is a literal in CREATE ROLE (no parameters in utility statements): quoted by the driver.
            cursor.execute("SELECT quote_literal(%s)", [password or ""])
            literal = cursor.fetchone()[0]
            cursor.execute(
                f"CREATE ROLE {quote(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
                + (f"PASSWORD {literal}" if password else "")
            )
            return
        if row[0] or row[1]:
            raise CommandError(
                f"The app role {role!r} (DATABASE_URL) is a superuser or has BYPASSRLS, which would let it past the "
                "tenant wall. Connect the app as a role without them (docs/running.md)."
            )
        cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        if password and cursor.fetchone()[0]:
            # The password DATABASE_URL carries is the one that works (a new var/ beside an old server's role).
            cursor.execute("SELECT quote_literal(%s)", [password])
            cursor.execute(f"ALTER ROLE {quote(role)} PASSWORD {cursor.fetchone()[0]}")


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as DATABASE_OWNER_URL's role when set (roi/rls.py)."

    def execute(self, *args: Any, **options: Any) -> Any:
        # execute, not handle: the system checks that run before handle connect to the database too.
        connection = connections[options.get("database") or "default"]
        app = dict(connection.settings_dict)
        with as_owner(connection):
            if settings.DATABASE_OWNER_URL and app["USER"] != connection.settings_dict["USER"]:
                app_role_ensure(connection, app["USER"], app.get("PASSWORD"))
            try:
                # Data migrations read and write every tenant's rows. Not `rls.bypass()`: its record's table may not
                # exist yet, and migrating is the operator's act, not a user's.
                with rls.scope(rls.Scope(bypass="migrate")):
                    return super().execute(*args, **options)
            finally:
                connection.close()  # the owner's session ends here
