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
Platform work that must see every tenant at once (benchmarks' data set, fault drills, migrations) uses `bypass()`,
which writes a `PlatformAccess` record first and works only on a connection logged in with the platform credential
(DATABASE_OWNER_URL), which the web, worker and beat processes are not given.

The wall holds against the app role itself (SQL injection, a stolen DATABASE_URL), not only against a view that forgets
its filter:
- The settings are *signed*: `roi.scope_mac` is an HMAC of the backend's pid and the tenant, user and lookup, with a
  key derived from SECRET_KEY. The policies' functions recompute it with the key's copy in `roi_private`, a schema the
  app role cannot read (owned by the owner, written by `migrate`), and answer NULL (no tenant, no rows) when it does
  not match. So `set_config('roi.tenant_id', '2', false)` alone shows nothing, and a MAC seen in one session (a log,
  pg_stat_activity) is worthless in another.
- There is no setting that lifts the wall. Every tenant's rows are visible only to the platform role, by a policy
  `TO` that role (`roi_platform`); the app role is not a member of it. A process logged in with the platform
  credential runs its ordinary scopes as the app role (`SET ROLE`), so the app's code meets the same wall there too,
  and only `bypass()` returns to the platform role.

Besides the tenant, a scope may carry a user (a signed-in member sees their own memberships, to know which tenants
they belong to) and a lookup key (the one API token, request or download link whose secret or tracking number the
caller holds), with which `resolve_tenant()` learns that row's tenant and nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection as default_connection

# The settings the policies read (roi/migrations/0014 defines the SQL functions that read them).
SETTING_TENANT = "roi.tenant_id"
SETTING_USER = "roi.user_id"
SETTING_LOOKUP = "roi.lookup"
SETTING_MAC = "roi.scope_mac"
# The schema the app role cannot see: the scope key and the functions that check a scope's MAC.
PRIVATE_SCHEMA = "roi_private"

# Tables whose rows' tenant a lookup key may reveal before the tenant is known (resolve_tenant()): column compared
# with the key.
LOOKUP_COLUMNS = {
    "roi_apitoken": "key_digest",  # the API token being presented (its digest)
    "workflow_recordrequest": "tracking_number",  # the portal: the request whose number the visitor typed or holds
    "fulfillment_downloadlink": "token_digest",  # the portal: the download link being opened
}
# Tables a signed-in member may read their own rows of, before the tenant is chosen.
USER_COLUMNS = {"roi_membership": "user_id"}


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
        }


NOTHING = Scope()
_scope: ContextVar[Scope] = ContextVar("roi_rls_scope", default=NOTHING)


def current() -> Scope:
    return _scope.get()


class PlatformCredentialRequired(RuntimeError):
    """A bypass of the wall on a connection logged in as the app role: only the platform credential may see every
    tenant (DATABASE_OWNER_URL, `use_platform_credential()`)."""


@functools.cache
def _scope_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"openroi row-level security scope", hashlib.sha256).digest()


def scope_key() -> bytes:
    """The key that signs scopes: derived from SECRET_KEY; `migrate` gives PostgreSQL its copy (policies_install)."""
    from django.conf import settings

    return _scope_key(settings.SECRET_KEY)


def scope_mac(backend_pid: int, values: dict[str, str]) -> str:
    """The MAC PostgreSQL recomputes (roi_current_tenant() and its siblings): pid|tenant|user|lookup, only the last
    free text."""
    message = "|".join([str(backend_pid), values[SETTING_TENANT], values[SETTING_USER], values[SETTING_LOOKUP]])
    return hmac.new(scope_key(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SessionFacts:
    """What a connection's session is, read once per connection: its server process, as PostgreSQL itself sees it (a
    pooler's own pid would not do); whether it logged in with the platform credential (a role other than the app's:
    the owner, for migrate, the tests, benchmarks and fault drills); and the role its ordinary scopes run as."""

    backend_pid: int
    platform: bool
    app_role: str  # set for a platform login that may act as the app role (SET ROLE); "" otherwise


def session_facts(connection: Any) -> SessionFacts:
    facts = getattr(connection, "session_facts", None)
    if facts is None:
        from django.conf import settings

        if connection.connection is None:
            connection.ensure_connection()
        role = settings.DATABASE_APP_ROLE
        with connection.connection.cursor() as cursor:  # the driver's own cursor: no scope needed for the catalog
            cursor.execute(
                "SELECT pg_backend_pid(), session_user <> %s, CASE WHEN EXISTS "
                "(SELECT 1 FROM pg_roles WHERE rolname = %s) THEN pg_has_role(session_user, %s, 'MEMBER') END",
                [role, role, role],
            )
            pid, other_login, member = cursor.fetchone()
        # A login that is not the app role is the platform's, unless the app role exists and it may not act as it
        # (a deployment's app role of another name: that login is the app). Before the app role exists (a first
        # migrate with one URL), the owner's scopes run as itself.
        platform = bool(other_login) and member is not False
        facts = SessionFacts(backend_pid=pid, platform=platform, app_role=role if platform and member else "")
        connection.session_facts = facts
    return facts


def is_platform_login(connection: Any) -> bool:
    """Whether the connection logged in with the platform credential. Such a connection runs every scope but a
    bypass as the app role. Any other login (the app role, or a deployment's own app role of another name) is the
    app: no role switching, and a bypass is refused."""
    return session_facts(connection).platform


def send(connection: Any, scope: Scope) -> None:
    """Hand `scope` to PostgreSQL as the connection's session settings, signed. Called by the database backend before
    a statement, when the connection's last sent scope differs from the caller's."""
    values = scope.settings()
    facts = session_facts(connection)
    if scope.bypass and not facts.platform:
        raise PlatformCredentialRequired(
            f"Seeing every tenant ({scope.bypass}) needs the platform credential (DATABASE_OWNER_URL); the app role "
            "cannot lift the tenant wall."
        )
    values[SETTING_MAC] = "" if scope.bypass else scope_mac(facts.backend_pid, values)
    if scope.bypass:
        values["role"] = "none"
    elif facts.app_role:
        values["role"] = facts.app_role
    connection.scope_sent = None  # unknown until the statement has succeeded
    with connection.connection.cursor() as cursor:  # the driver's own cursor: no wrapper, no recursion
        cursor.execute(
            "SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(values)),
            [item for pair in values.items() for item in pair],
        )
    connection.scope_sent = scope


def use_platform_credential(connection: Any = None) -> None:
    """Log this process's connection in with the platform credential (DATABASE_OWNER_URL) from now on, for a process
    that must see every tenant (benchmarks, fault drills). The web, worker and beat processes never do."""
    import dj_database_url
    from django.conf import settings

    connection = connection or default_connection
    if not settings.DATABASE_OWNER_URL:
        raise PlatformCredentialRequired("DATABASE_OWNER_URL is not set: there is no platform credential to use.")
    owner = dj_database_url.parse(settings.DATABASE_OWNER_URL)
    connection.close()
    connection.settings_dict.update({"USER": owner["USER"], "PASSWORD": owner["PASSWORD"]})


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
    """Carry `key` in the signed scope, for roi_lookup_tenant() (resolve_tenant()); it shows no row by itself."""
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
    """See every tenant, for platform work that must. Recorded (PlatformAccess) before it takes effect. Only on a
    connection logged in with the platform credential (PlatformCredentialRequired otherwise)."""
    if not is_platform_login(default_connection):
        raise PlatformCredentialRequired(f"Seeing every tenant ({reason}) needs the platform credential.")
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
    """The tenant of the row of `model` whose lookup column equals `key` (LOOKUP_COLUMNS), or None.

    PostgreSQL answers through roi_lookup_tenant() (_LOOKUP_FUNCTION), with the key signed like a tenant: no row is
    shown, only its tenant, which the caller then acts for."""
    table = model._meta.db_table
    if table not in LOOKUP_COLUMNS:
        raise ValueError(f"{table} has no lookup column (roi.rls.LOOKUP_COLUMNS)")
    if not key:
        return None
    with lookup_scope(key), default_connection.cursor() as cursor:
        cursor.execute("SELECT roi_lookup_tenant(%s)", [table])
        tenant_id: int | None = cursor.fetchone()[0]
    return tenant_id


# --- The policies ------------------------------------------------------------------------------------------------

_TENANT_CHECK = "tenant_id = (SELECT roi_current_tenant())"
_OLD_BYPASS = "roi_rls_bypassed"  # the setting that once lifted the wall: policies still naming it are replaced

# The scope's MAC, recomputed by PostgreSQL (HMAC-SHA256 from the key's inner and outer pads, so that no extension is
# needed). SECURITY DEFINER, owned by the owner: the only way the app role reaches the key. PL/pgSQL, whose plans are
# kept for the session (a SQL function's body would be planned at every call, four times the cost). PARALLEL
# RESTRICTED: pg_backend_pid() is the leader's only there; the policies' initplans run in the leader and reach
# workers as values.
_SCOPE_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{name}() RETURNS {returns}
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tenant text := coalesce(current_setting('roi.tenant_id', true), '');
  member text := coalesce(current_setting('roi.user_id', true), '');
  lookup text := coalesce(current_setting('roi.lookup', true), '');
  k record;
BEGIN
  SELECT inner_pad, outer_pad INTO k FROM {private}.scope_key WHERE id = 1;
  IF NOT FOUND OR encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(
       pg_backend_pid()::text || '|' || tenant || '|' || member || '|' || lookup, 'UTF8'))), 'hex')
     IS DISTINCT FROM current_setting('roi.scope_mac', true) THEN
    RETURN NULL;
  END IF;
  RETURN nullif({value}, '')::{returns};
END
$$;
"""
# name: (what it returns, which setting)
_SCOPE_READERS = {
    "roi_current_tenant": ("bigint", "tenant"),
    "roi_current_user_id": ("bigint", "member"),
    "roi_current_lookup": ("text", "lookup"),
}


# The tenant of the one row whose lookup column (LOOKUP_COLUMNS) equals the signed scope's lookup key: how the API
# token check and the portal learn which tenant to act for. A function rather than a policy: a permissive policy
# `column = lookup` would be OR-ed with the tenant's on every statement of these tables, and that OR keeps
# PostgreSQL from using an index in order or without the table (the queue's capped count read 23,584 index entries
# and 435 pages of the table for 1,001 rows, 4.6 ms against 0.5 ms). Owned by the owner, whom the platform policy lets
# read the row; the key comes from the signed scope, never from an argument, so the app role learns nothing it could
# not learn with the policy. One static branch per table (no dynamic SQL).
_LOOKUP_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.roi_lookup_tenant(lookup_table text) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
  wanted text := roi_current_lookup();
  found bigint;
BEGIN
  IF wanted IS NULL THEN
    RETURN NULL;
  END IF;
{branches}
  RETURN found;
END
$$;
"""
_LOOKUP_BRANCH = """  IF lookup_table = '{table}' THEN
    SELECT t.tenant_id INTO found FROM {quoted} t WHERE t.{column} = wanted LIMIT 1;
  END IF;"""
_OLD_LOOKUP_POLICY = "roi_lookup"  # the policy that once did roi_lookup_tenant()'s work: dropped where found


def lookup_function_install(connection: Any) -> None:
    quote = connection.ops.quote_name
    branches = "\n".join(
        _LOOKUP_BRANCH.format(table=table, quoted=quote(table), column=quote(column))
        for table, column in sorted(LOOKUP_COLUMNS.items())
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        cursor.execute(_LOOKUP_FUNCTION.format(schema=schema, branches=branches))


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


def _pads(key: bytes) -> tuple[bytes, bytes]:
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def scope_key_install(connection: Any) -> None:
    """The private schema, the key's copy (updated when SECRET_KEY changed) and the functions that check a scope."""
    quote = connection.ops.quote_name
    private = quote(PRIVATE_SCHEMA)
    inner, outer = _pads(scope_key())
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {private}")
        cursor.execute(f"REVOKE ALL ON SCHEMA {private} FROM PUBLIC")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {private}.scope_key "
            "(id integer PRIMARY KEY CHECK (id = 1), inner_pad bytea NOT NULL, outer_pad bytea NOT NULL)"
        )
        upsert = (
            f"INSERT INTO {private}.scope_key (id, inner_pad, outer_pad) VALUES (1, %s, %s) "  # noqa: S608 - a constant
            "ON CONFLICT (id) DO UPDATE SET inner_pad = EXCLUDED.inner_pad, outer_pad = EXCLUDED.outer_pad "
            "WHERE scope_key.inner_pad IS DISTINCT FROM EXCLUDED.inner_pad"
        )
        cursor.execute(upsert, [inner, outer])
        for name, (returns, value) in _SCOPE_READERS.items():
            cursor.execute(
                _SCOPE_FUNCTION.format(schema=schema, private=private, name=name, returns=returns, value=value)
            )


def policies_install(connection: Any, app_role: str | None) -> list[str]:
    """Row-level security on every tenant table, and the app role's privileges. Idempotent, and quiet when there is
    nothing to do (no lock is taken on a table that already has its policies). Returns the tables it changed.

    Runs after every `migrate` (roi/apps.py), so a table added tomorrow is covered without anyone remembering."""
    from roi import records

    scope_key_install(connection)
    lookup_function_install(connection)
    changed: list[str] = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        platform = quote(cursor.fetchone()[0])
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   coalesce(jsonb_object_agg(p.polname, pg_get_expr(p.polqual, p.polrelid))
                            FILTER (WHERE p.polname IS NOT NULL), '{}')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_policy p ON p.polrelid = c.oid
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
            GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
            """
        )
        state = {  # Django's connection leaves jsonb undecoded
            name: (enabled, forced, json.loads(policies) if isinstance(policies, str) else policies)
            for name, enabled, forced, policies in cursor.fetchall()
        }
        for table in tenant_tables(cursor):
            enabled, forced, policies = state[table]
            quoted = quote(table)
            statements = []
            if not enabled:
                statements.append(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
            if not forced:
                statements.append(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")
            if _OLD_BYPASS in (policies.get("roi_tenant") or ""):
                statements.append(f"DROP POLICY roi_tenant ON {quoted}")
                policies.pop("roi_tenant")
            if "roi_tenant" not in policies:
                statements.append(
                    f"CREATE POLICY roi_tenant ON {quoted} USING ({_TENANT_CHECK}) WITH CHECK ({_TENANT_CHECK})"
                )
            if "roi_platform" not in policies:
                statements.append(
                    f"CREATE POLICY roi_platform ON {quoted} TO {platform} USING (true) WITH CHECK (true)"
                )
            if _OLD_LOOKUP_POLICY in policies:
                statements.append(f"DROP POLICY {_OLD_LOOKUP_POLICY} ON {quoted}")
            if table in USER_COLUMNS and "roi_own_user" not in policies:
                column = quote(USER_COLUMNS[table])
                statements.append(
                    f"CREATE POLICY roi_own_user ON {quoted} FOR SELECT USING ({column} = (SELECT roi_current_user_id()))"
                )
            for statement in statements:
                cursor.execute(statement)
            if statements:
                changed.append(table)
        cursor.execute(f"DROP FUNCTION IF EXISTS {_OLD_BYPASS}()")
    records.append_only_install(connection)
    if app_role:
        with connection.cursor() as cursor:
            _grant(cursor, connection, app_role)
    return changed


def _grant(cursor: Any, connection: Any, app_role: str) -> None:
    """What the app role may do: read and write rows, nothing else (no DDL, no TRUNCATE, no ownership, nothing in the
    private schema), and never change or remove a record of fact (roi/records.py). The platform role may act as the
    app role (SET ROLE), so that its processes run the app's code under the app's wall."""
    from roi import records

    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role])
    row = cursor.fetchone()
    if row is None:
        return
    quote = connection.ops.quote_name
    role = quote(app_role)
    cursor.execute("SELECT current_schema()")
    schema = quote(cursor.fetchone()[0])
    cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
    cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    cursor.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role}")
    cursor.execute(f"REVOKE TRUNCATE ON ALL TABLES IN SCHEMA {schema} FROM {role}")
    cursor.execute(f"REVOKE ALL ON SCHEMA {quote(PRIVATE_SCHEMA)} FROM {role}")
    for table, write_once in records.tables(cursor):
        privileges = "DELETE" if write_once else "UPDATE, DELETE"
        cursor.execute(f"REVOKE {privileges} ON {quote(table)} FROM {role}")
    cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {role}")
    cursor.execute(
        "SELECT rolsuper, pg_has_role(current_user, %s, 'MEMBER') FROM pg_roles WHERE rolname = current_user",
        [app_role],
    )
    superuser, member = cursor.fetchone()
    if not superuser and not member:
        cursor.execute(f"GRANT {role} TO CURRENT_USER")


def role_report(connection: Any = None, role: str | None = None) -> dict[str, Any]:
    """What the app role (DATABASE_APP_ROLE, or `role`) can do about the wall, whoever is connected: for
    `manage.py rls_status`, /healthz/ and the tests."""
    from django.conf import settings

    from roi import records

    connection = connection or default_connection
    role = role or settings.DATABASE_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        found = cursor.fetchone()
        superuser, bypassrls = found if found else (False, False)
        tables = tenant_tables(cursor)
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) = %s,
                   EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'roi_tenant'
                           AND pg_get_expr(p.polqual, p.polrelid) NOT LIKE %s)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = ANY(%s)
            """,
            [role, f"%{_OLD_BYPASS}%", tables],
        )
        rows = cursor.fetchall()
        # Roles whose privileges the app role has: any that may see every tenant or own a table is a way round.
        cursor.execute(
            """
            SELECT r.rolname FROM pg_roles r
            WHERE r.rolname <> %s AND pg_has_role(%s, r.oid, 'USAGE')
              AND (r.rolsuper OR r.rolbypassrls OR EXISTS (
                   SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relnamespace = current_schema()::regnamespace))
            """,
            [role, role],
        )
        inherited = sorted(name for (name,) in cursor.fetchall()) if found else []
        private_readable = bool(found) and _private_readable(cursor, role)
        rewritable = records.rewritable_by(cursor, role) if found else []
    unprotected = sorted(name for name, enabled, forced, _owned, policy in rows if not (enabled and forced and policy))
    owned = sorted(name for name, _enabled, _forced, owned, _policy in rows if owned)
    return {
        "role": role,
        "exists": bool(found),
        "superuser": superuser,
        "bypassrls": bypassrls,
        "tenant_tables": len(tables),
        "unprotected": unprotected,
        "owned_by_role": owned,
        "member_of": inherited,
        "private_schema_readable": private_readable,
        "records_rewritable": rewritable,
        "enforced": bool(found)
        and not superuser
        and not bypassrls
        and not unprotected
        and not owned
        and not inherited
        and not private_readable
        and not rewritable,
    }


def _private_readable(cursor: Any, role: str) -> bool:
    cursor.execute(
        "SELECT CASE WHEN to_regnamespace(%s) IS NULL THEN false ELSE has_schema_privilege(%s, %s, 'USAGE') END",
        [PRIVATE_SCHEMA, role, PRIVATE_SCHEMA],
    )
    return bool(cursor.fetchone()[0])
