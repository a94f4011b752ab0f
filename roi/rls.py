"""Row-level security: PostgreSQL's own wall between tenants, behind the `for_tenant()` filters of the views.

Every table with a `tenant_id` column has a policy (ENABLE and FORCE ROW LEVEL SECURITY) that shows and accepts only
the rows of the tenant the current statement acts for. The app connects as a role that owns no table, is not a
superuser and has no BYPASSRLS (`manage.py migrate` runs as the owner: roi/management/commands/migrate.py), so a view
that forgets its tenant filter finds nothing of another tenant instead of showing it.

What a caller acts for is a *scope*, kept in a context variable and handed to PostgreSQL as settings of the
connection's session (`set_config(name, value, false)`) by the database backend (roi/db/base.py), which checks before
every statement that the connection holds the caller's current scope and sends it when not. Fail-closed: no scope,
no rows.

Who sets the scope:
- staff pages and the session-authenticated API: `roi.tenancy.TenantMiddleware` (the tenant of the session);
- API tokens: `roi.api_auth.ApiTokenAuthentication` (the token's tenant, found with a lookup scope);
- the requestor portal: `portal.http.portal_page` (the tenant of the tracking number, the organisation's slug or
  the download token in the URL);
- Celery tasks: the tenant of whoever queued them (a task header), and beat's jobs go through `each_tenant()`;
- management commands: each takes its tenant or goes through `each_tenant()`.
Platform work that must see every tenant at once (the platform admin) uses `bypass()`, which writes a
`PlatformAccess` record first.

Besides the tenant, a scope may carry a user (a signed-in member sees their own memberships, to know which tenants
they belong to) and a lookup key (the one API token, request or download link whose secret or tracking number the
caller holds, read-only, to learn its tenant).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection as default_connection

# The settings the policies read (roi/migrations/0014 defines the SQL functions that read them).
SETTING_TENANT = "roi.tenant_id"
SETTING_USER = "roi.user_id"
SETTING_LOOKUP = "roi.lookup"
SETTING_BYPASS = "roi.bypass"

# Tables whose rows a lookup key may reveal (read-only) before the tenant is known: column compared with the key.
LOOKUP_COLUMNS = {
    "roi_apitoken": "key_digest",  # the API token being presented (its digest)
    "workflow_recordrequest": "tracking_number",  # the portal: the request whose number the visitor typed or holds
    "fulfillment_downloadlink": "token_digest",  # the portal: the download link being opened
}
# Tables a signed-in member may read their own rows of, before the tenant is chosen.
USER_COLUMNS = {"roi_membership": "user_id"}
# Append-only tables: the app role may read and add rows, never change or remove them.
APPEND_ONLY = ("roi_accessevent", "roi_platformaccess", "workflow_requesttransition", "django_migrations")


@dataclass(frozen=True)
class Scope:
    tenant_id: int | None = None
    user_id: int | None = None
    lookup: str = ""
    bypass: str = ""  # the reason, when the scope sees every tenant

    def settings(self) -> dict[str, str]:
        return {
            SETTING_TENANT: "" if self.tenant_id is None else str(int(self.tenant_id)),
            SETTING_USER: "" if self.user_id is None else str(int(self.user_id)),
            SETTING_LOOKUP: self.lookup,
            SETTING_BYPASS: "on" if self.bypass else "",
        }


NOTHING = Scope()
_scope: ContextVar[Scope] = ContextVar("roi_rls_scope", default=NOTHING)


def current() -> Scope:
    return _scope.get()


def send(connection: Any, scope: Scope) -> None:
    """Hand `scope` to PostgreSQL as the connection's session settings. Called by the database backend before a
    statement, when the connection's last sent scope differs from the caller's."""
    values = scope.settings()
    connection.scope_sent = None  # unknown until the statement has succeeded
    with connection.connection.cursor() as cursor:  # the driver's own cursor: no wrapper, no recursion
        cursor.execute(
            "SELECT set_config(%s, %s, false), set_config(%s, %s, false), set_config(%s, %s, false), "
            "set_config(%s, %s, false)",
            [item for pair in values.items() for item in pair],
        )
    connection.scope_sent = scope


def activate(scope: Scope) -> Token[Scope]:
    """Make `scope` current until `deactivate(token)`; the next statement on any connection runs under it."""
    return _scope.set(scope)


def deactivate(token: Token[Scope]) -> None:
    _scope.reset(token)


@contextlib.contextmanager
def scope(new: Scope) -> Iterator[Scope]:
    token = activate(new)
    try:
        yield new
    finally:
        deactivate(token)


def tenant_scope(tenant_id: int | None, *, user_id: int | None = None) -> contextlib.AbstractContextManager[Scope]:
    """Act for one tenant (None: for none, which sees no tenant's rows)."""
    return scope(Scope(tenant_id=tenant_id, user_id=user_id))


def lookup_scope(key: str) -> contextlib.AbstractContextManager[Scope]:
    """Read the row whose lookup column (LOOKUP_COLUMNS) equals `key`, in whichever tenant it is."""
    return scope(replace(current(), lookup=key))


def user_scope(user_id: int) -> contextlib.AbstractContextManager[Scope]:
    """Also read the user's own memberships in every tenant."""
    return scope(replace(current(), user_id=user_id))


def record_bypass(*, reason: str, actor: Any = None, where: str = "") -> None:
    from roi.models import PlatformAccess

    if not reason.strip():
        raise ValueError("A bypass of the tenant wall needs a reason.")
    user = actor if getattr(actor, "is_authenticated", False) else None
    PlatformAccess.objects.create(actor=user, reason=reason[:300], where=where[:300])


@contextlib.contextmanager
def bypass(reason: str, *, actor: Any = None, where: str = "") -> Iterator[Scope]:
    """See every tenant, for platform work that must. Recorded (PlatformAccess) before it takes effect."""
    record_bypass(reason=reason, actor=actor, where=where)
    with scope(Scope(bypass=reason)) as active:
        yield active


def each_tenant(tenants: Iterable[Any] | None = None) -> Iterator[Any]:
    """The active tenants one by one, each while the scope acts for it: how a platform job touches every tenant
    without a bypass. `for tenant in each_tenant(): ...`"""
    from roi.models import Tenant

    for tenant in list(tenants if tenants is not None else Tenant.objects.filter(is_active=True).order_by("pk")):
        with tenant_scope(tenant.pk):
            yield tenant


def scoped_iterator(content: Iterable[Any], active: Scope) -> Iterator[Any]:
    """A streamed response's body is produced after the view (and the middleware) returned: produce it in the scope
    the view had."""
    with scope(active):
        yield from content


def resolve_tenant(model: Any, key: str) -> int | None:
    """The tenant of the row of `model` whose lookup column equals `key` (LOOKUP_COLUMNS), or None."""
    column = LOOKUP_COLUMNS[model._meta.db_table]
    if not key:
        return None
    with lookup_scope(key):
        return model.objects.filter(**{column: key}).values_list("tenant_id", flat=True).first()


# --- The policies ------------------------------------------------------------------------------------------------

_TENANT_CHECK = "tenant_id = (SELECT roi_current_tenant()) OR (SELECT roi_rls_bypassed())"


def tenant_tables(cursor: Any) -> list[str]:
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """
    )
    return [row[0] for row in cursor.fetchall()]


def policies_install(connection: Any, app_role: str | None) -> list[str]:
    """Row-level security on every tenant table, and the app role's privileges. Idempotent, and quiet when there is
    nothing to do (no lock is taken on a table that already has its policies). Returns the tables it changed.

    Runs after every `migrate` (roi/apps.py), so a table added tomorrow is covered without anyone remembering."""
    changed: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, array_remove(array_agg(p.polname), NULL)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_policy p ON p.polrelid = c.oid
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
            GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
            """
        )
        state = {name: (enabled, forced, set(policies)) for name, enabled, forced, policies in cursor.fetchall()}
        for table in tenant_tables(cursor):
            enabled, forced, policies = state[table]
            quoted = connection.ops.quote_name(table)
            statements = []
            if not enabled:
                statements.append(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
            if not forced:
                statements.append(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")
            if "roi_tenant" not in policies:
                statements.append(
                    f"CREATE POLICY roi_tenant ON {quoted} USING ({_TENANT_CHECK}) WITH CHECK ({_TENANT_CHECK})"
                )
            if table in LOOKUP_COLUMNS and "roi_lookup" not in policies:
                column = connection.ops.quote_name(LOOKUP_COLUMNS[table])
                statements.append(
                    f"CREATE POLICY roi_lookup ON {quoted} FOR SELECT USING ({column} = (SELECT roi_current_lookup()))"
                )
            if table in USER_COLUMNS and "roi_own_user" not in policies:
                column = connection.ops.quote_name(USER_COLUMNS[table])
                statements.append(
                    f"CREATE POLICY roi_own_user ON {quoted} FOR SELECT USING ({column} = (SELECT roi_current_user_id()))"
                )
            for statement in statements:
                cursor.execute(statement)
            if statements:
                changed.append(table)
        if app_role:
            _grant(cursor, connection, app_role)
    return changed


def _grant(cursor: Any, connection: Any, app_role: str) -> None:
    """What the app role may do: read and write rows, nothing else (no DDL, no TRUNCATE, no ownership)."""
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role])
    if cursor.fetchone() is None:
        return
    quote = connection.ops.quote_name
    role = quote(app_role)
    cursor.execute("SELECT current_schema()")
    schema = quote(cursor.fetchone()[0])
    cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
    cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    cursor.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role}")
    for table in APPEND_ONLY:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is not None:
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {quote(table)} FROM {role}")
    cursor.execute(f"REVOKE INSERT ON django_migrations FROM {role}")


def role_report(connection: Any = None) -> dict[str, Any]:
    """What the connected role can do about the wall: for `manage.py rls_status`, /healthz/ and the tests."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        user, superuser, bypassrls = cursor.fetchone()
        tables = tenant_tables(cursor)
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) = current_user,
                   EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'roi_tenant')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = ANY(%s)
            """,
            [tables],
        )
        rows = cursor.fetchall()
    unprotected = sorted(name for name, enabled, forced, _owned, policy in rows if not (enabled and forced and policy))
    owned = sorted(name for name, _enabled, _forced, owned, _policy in rows if owned)
    return {
        "role": user,
        "superuser": superuser,
        "bypassrls": bypassrls,
        "tenant_tables": len(tables),
        "unprotected": unprotected,
        "owned_by_role": owned,
        "enforced": not superuser and not bypassrls and not unprotected and not owned,
    }
