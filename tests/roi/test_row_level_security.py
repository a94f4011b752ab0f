"""The tenant wall in PostgreSQL (roi/rls.py): row-level security policies on every tenant table, an app role that
cannot get past them, and the scopes the app runs in.

The suite logs in as the app role (tests/conftest.py), so these tests talk to the same policies production has.
Test code runs with the wall lifted (`_test_code_sees_every_tenant`); each test here leaves that scope itself."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from roi import rls
from roi.models import AccessEvent, PlatformAccess, TenantQuerySet
from roi.task_scope import HEADER, _enter_scope, _leave_scope, _stamp_tenant
from tests import factories
from workflow.models import Patient, RecordRequest


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - a catalog name
        return cursor.fetchone()[0]


@pytest.fixture
def two_tenants(tenant_a, tenant_b, alice, charlie):
    a = factories.RecordRequestFactory(tenant=tenant_a, patient__last_name="Alphason")
    b = factories.RecordRequestFactory(tenant=tenant_b, patient__last_name="Betaworth")
    factories.AccessEventFactory(tenant=tenant_a)
    factories.AccessEventFactory(tenant=tenant_b)
    return a, b


# --- The catalog -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_tenant_table_has_its_policy_enabled_and_forced_and_the_app_role_cannot_bypass_it():
    report = rls.role_report()
    assert report["tenant_tables"] >= 60  # every TenantOwned model and its history table
    assert report["unprotected"] == []
    assert report["owned_by_role"] == []  # the owner could turn the policies off
    assert report["superuser"] is False
    assert report["bypassrls"] is False
    assert report["enforced"] is True


@pytest.mark.django_db
def test_the_catalog_itself_agrees_table_by_table():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'roi_tenant'),
                   has_table_privilege(current_user, c.oid, 'TRUNCATE') AND false
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
            """
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s",
            [settings.DATABASE_APP_ROLE],
        )
        attributes = cursor.fetchone()
    assert {"workflow_recordrequest", "workflow_patient", "roi_accessevent", "fulfillment_releasedocument"} <= {
        name for name, *_ in rows
    }
    assert [name for name, enabled, forced, policies, _ in rows if not (enabled and forced and policies == 1)] == []
    assert attributes == (False, False, False, False)


@pytest.mark.django_db
def test_the_app_role_may_not_change_or_remove_audit_rows(two_tenants):
    a, _b = two_tenants
    with (
        rls.tenant_scope(a.tenant_id),
        connection.cursor() as cursor,
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
    ):
        cursor.execute("UPDATE roi_accessevent SET detail = 'rewritten'")
    with (
        rls.tenant_scope(a.tenant_id),
        connection.cursor() as cursor,
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
    ):
        cursor.execute("DELETE FROM roi_platformaccess")


# --- Raw SQL as the app role -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_tenant_raw_sql_finds_no_row_of_any_tenant_table(two_tenants):
    assert _count("workflow_recordrequest") >= 2  # the test's own scope sees both tenants
    with rls.scope(rls.NOTHING), connection.cursor() as cursor:
        for table in rls.tenant_tables(cursor):
            assert _count(table) == 0, table


@pytest.mark.django_db
def test_a_tenant_scope_sees_its_own_rows_only(two_tenants):
    a, b = two_tenants
    with rls.tenant_scope(a.tenant_id):
        assert list(RecordRequest.objects.values_list("pk", flat=True)) == [a.pk]
        assert set(AccessEvent.objects.values_list("tenant_id", flat=True)) == {a.tenant_id}
        assert Patient.objects.filter(last_name="Betaworth").count() == 0
        assert RecordRequest.objects.filter(pk=b.pk).update(scope_notes="edited") == 0  # invisible, so untouched
    b.refresh_from_db()
    assert b.scope_notes != "edited"


@pytest.mark.django_db
def test_writing_a_row_of_another_tenant_fails(two_tenants):
    a, b = two_tenants
    with rls.tenant_scope(a.tenant_id):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Patient.objects.create(tenant_id=b.tenant_id, mrn="X-1", first_name="Eve", last_name="Intruder")
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            RecordRequest.objects.filter(pk=a.pk).update(tenant_id=b.tenant_id)  # moving a row out
    a.refresh_from_db()
    assert a.tenant_id != b.tenant_id


@pytest.mark.django_db
def test_postgresql_sees_the_scope_as_the_connections_settings(two_tenants):
    a, _b = two_tenants
    with rls.tenant_scope(a.tenant_id, user_id=7), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('roi.tenant_id'), current_setting('roi.user_id'), roi_current_tenant(), "
            "length(current_setting('roi.scope_mac')), current_user"
        )
        assert cursor.fetchone() == (str(a.tenant_id), "7", a.tenant_id, 64, settings.DATABASE_APP_ROLE)
    with rls.scope(rls.NOTHING), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('roi.tenant_id'), roi_current_tenant(), current_user")
        assert cursor.fetchone() == ("", None, settings.DATABASE_APP_ROLE)


@pytest.mark.django_db(transaction=True)
def test_a_scope_is_sent_once_per_change_not_once_per_statement(tenant_a, tenant_b, monkeypatch):
    a = factories.RecordRequestFactory(tenant=tenant_a)
    b = factories.RecordRequestFactory(tenant=tenant_b)
    sent = []
    original = rls.send
    monkeypatch.setattr(rls, "send", lambda db, scope: (sent.append(scope), original(db, scope)))
    assert connection.get_autocommit()
    with rls.tenant_scope(tenant_a.pk):
        for _ in range(3):
            assert list(RecordRequest.objects.values_list("pk", flat=True)) == [a.pk]
        assert connection.get_autocommit()  # no transaction was opened for the statements
    with rls.tenant_scope(tenant_b.pk):
        assert list(RecordRequest.objects.values_list("pk", flat=True)) == [b.pk]
    with rls.scope(rls.NOTHING):
        assert RecordRequest.objects.count() == 0
    assert [scope.tenant_id for scope in sent] == [tenant_a.pk, tenant_b.pk, None]


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_when_the_scope_is_sent_is_djangos_operational_error(tenant_a, tenant_b):
    """PostgreSQL restarting between two requests of a worker: the next request's scope is the first thing sent, and
    its failure must look like any other lost connection (roi.views.health.server_error answers 503 for it, not 500)."""
    from django.db import OperationalError

    from tests.scoping import owner_cursor

    with rls.tenant_scope(tenant_a.pk):
        RecordRequest.objects.count()
    with owner_cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    try:
        with rls.tenant_scope(tenant_b.pk), pytest.raises(OperationalError):
            RecordRequest.objects.count()
        assert connection.errors_occurred  # Django drops the connection at the end of the request
    finally:
        connection.close()


def _read_then_fail_in_a_savepoint(tenant_id: int, seen: list[int]) -> None:
    with transaction.atomic(), rls.tenant_scope(tenant_id), connection.cursor() as cursor:
        seen.extend(RecordRequest.objects.values_list("pk", flat=True))
        cursor.execute("SELECT 1 / 0")


@pytest.mark.django_db
def test_a_scope_undone_by_a_rollback_is_sent_again(two_tenants):
    """PostgreSQL undoes a session setting made inside a savepoint that is rolled back to: the backend must not
    believe the connection still holds it. Here tenant B's scope is sent inside a failing savepoint, rolled back
    with tenant A's scope current (the rollback itself must still run), and then B is current again."""
    a, b = two_tenants
    with rls.tenant_scope(a.tenant_id), transaction.atomic():
        assert list(RecordRequest.objects.values_list("pk", flat=True)) == [a.pk]
        seen_inside: list[int] = []
        with pytest.raises(DatabaseError, match="division by zero"):
            _read_then_fail_in_a_savepoint(b.tenant_id, seen_inside)
        assert seen_inside == [b.pk]
        # PostgreSQL holds A's settings again; the next statement under B must send B's.
        with rls.tenant_scope(b.tenant_id):
            assert list(RecordRequest.objects.values_list("pk", flat=True)) == [b.pk]
        assert list(RecordRequest.objects.values_list("pk", flat=True)) == [a.pk]


@pytest.mark.django_db
def test_a_lookup_key_reveals_one_rows_tenant_and_no_row(two_tenants):
    _a, b = two_tenants
    with rls.scope(rls.NOTHING):
        assert rls.resolve_tenant(RecordRequest, b.tracking_number) == b.tenant_id
        assert rls.resolve_tenant(RecordRequest, "ROI-NONE-NONE-NONE") is None
        assert rls.resolve_tenant(RecordRequest, "") is None
        with rls.lookup_scope(b.tracking_number):
            assert RecordRequest.objects.count() == 0  # the key names a tenant; it shows no row
            assert RecordRequest.objects.filter(pk=b.pk).update(scope_notes="edited") == 0
            assert Patient.objects.count() == 0
    with pytest.raises(ValueError, match="no lookup column"):
        rls.resolve_tenant(Patient, "anything")


@pytest.mark.django_db
def test_the_tenant_policy_is_the_only_one_the_app_role_meets(two_tenants):
    """A permissive policy beside the tenant's is OR-ed with it on every statement, and keeps PostgreSQL from reading
    an index in order or alone. The tenant's policy alone is checked once per statement (a one-time filter on the
    scope's tenant), leaving the statement's own conditions to the indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
            "WHERE p.polroles = '{0}' AND c.relname = ANY(%s)",
            [rls.tenant_tables(cursor)],
        )
        assert {row[0] for row in cursor.fetchall()} == {"roi_tenant", "roi_own_user"}
    a, _b = two_tenants
    with rls.tenant_scope(a.tenant_id), connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT count(*) FROM workflow_recordrequest WHERE tenant_id = %s AND state = 'received'",
            [a.tenant_id],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "One-Time Filter:" in plan, plan  # the scope's tenant, compared once per statement
    assert "tracking_number" not in plan, plan  # the lookup's column, once OR-ed into every read


@pytest.mark.django_db
def test_a_member_sees_their_own_memberships_in_every_tenant_and_no_one_elses(tenant_a, tenant_b, alice, charlie):
    factories.MembershipFactory(tenant=tenant_b, user=alice)
    with rls.scope(rls.NOTHING), rls.user_scope(alice.pk):
        from roi.models import Membership

        assert set(Membership.objects.values_list("tenant_id", "user_id")) == {
            (tenant_a.pk, alice.pk),
            (tenant_b.pk, alice.pk),
        }


@pytest.mark.django_db
def test_a_bypass_needs_a_reason_and_is_recorded_before_it_takes_effect(two_tenants, sam):
    with rls.scope(rls.NOTHING):
        with pytest.raises(ValueError, match="reason"), rls.bypass("  "):
            pass
        with rls.bypass("nightly export", actor=sam, where="manage.py test"):
            assert RecordRequest.objects.count() == 2
        assert RecordRequest.objects.count() == 0
    record = PlatformAccess.objects.get()
    assert (record.reason, record.actor, record.where) == ("nightly export", sam, "manage.py test")


# --- The app's scopes ------------------------------------------------------------------------------------------


@pytest.fixture
def views_forget_their_tenant_filter(monkeypatch):
    """The bug row-level security is there for: every `for_tenant()` filter gone."""
    monkeypatch.setattr(TenantQuerySet, "for_tenant", lambda self, tenant: self)


@pytest.mark.django_db
def test_a_page_that_forgets_its_tenant_filter_still_shows_nothing_of_another_tenant(
    two_tenants, alice, client_for, views_forget_their_tenant_filter
):
    a, b = two_tenants
    client = client_for(alice)
    queue = client.get(reverse("workflow:queue"), {"assignee": ""})  # everything, not only the specialist's own
    assert queue.status_code == 200
    assert a.tracking_number in queue.content.decode()
    assert b.tracking_number not in queue.content.decode()
    assert "Betaworth" not in queue.content.decode()
    assert client.get(reverse("workflow:detail", args=[b.tracking_number])).status_code == 404


@pytest.mark.django_db
def test_an_api_token_that_forgets_its_tenant_filter_still_lists_its_tenant_only(
    two_tenants, alice, api_token_for, views_forget_their_tenant_filter
):
    a, _b = two_tenants
    _token, key = api_token_for(alice, a.tenant)
    listing = Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}")
    assert listing.status_code == 200
    numbers = {row["tracking_number"] for row in listing.json()["results"]}
    assert numbers == {a.tracking_number}


@pytest.mark.django_db
def test_the_scope_of_a_request_ends_with_it(two_tenants, alice, client_for):
    client_for(alice).get(reverse("workflow:queue"))
    assert rls.current() == rls.Scope(bypass="test code")  # the test's own scope is back
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user = session_user, current_setting('roi.tenant_id')")
        assert cursor.fetchone() == (True, "")  # the platform role again, acting for no tenant


@pytest.mark.django_db
def test_the_platform_admin_acts_for_one_chosen_tenant_and_every_page_is_recorded(two_tenants, client_for):
    a, b = two_tenants
    operator = factories.UserFactory(username="operator", is_superuser=True, is_staff=True)
    client = client_for(operator)
    page = client.get("/platform-admin/workflow/recordrequest/").content.decode()
    assert a.tracking_number not in page  # no tenant chosen: none seen
    assert b.tracking_number not in page
    chosen = client.post(
        "/platform-admin/roi/tenant/", {"action": "act_for", "_selected_action": [a.tenant_id]}, follow=True
    )
    assert "Acting for Alpha General Hospital" in chosen.content.decode()
    page = client.get("/platform-admin/workflow/recordrequest/").content.decode()
    assert a.tracking_number in page
    assert b.tracking_number not in page  # never two tenants at once
    record = PlatformAccess.objects.order_by("-id").first()
    assert (record.actor, record.reason) == (operator, f"platform admin, acting for tenant {a.tenant_id}")
    assert record.where == "GET /platform-admin/workflow/recordrequest/"


@pytest.mark.django_db
def test_the_platform_admin_acts_for_one_tenant_at_a_time(two_tenants, client_for):
    a, b = two_tenants
    operator = factories.UserFactory(username="operator", is_superuser=True, is_staff=True)
    client = client_for(operator)
    answer = client.post(
        "/platform-admin/roi/tenant/",
        {"action": "act_for", "_selected_action": [a.tenant_id, b.tenant_id]},
        follow=True,
    )
    assert "Choose exactly one organisation" in answer.content.decode()


@pytest.mark.django_db
def test_a_staff_member_at_the_platform_admin_gets_no_bypass(two_tenants, alice, client_for):
    alice.is_staff = True
    alice.save()
    client_for(alice).get("/platform-admin/workflow/recordrequest/")
    assert not PlatformAccess.objects.exists()


def test_a_task_runs_in_the_tenant_scope_of_whoever_queued_it():
    headers: dict[str, object] = {}
    with rls.tenant_scope(42):
        _stamp_tenant(headers=headers)
    assert headers == {HEADER: 42}

    class Task:
        class request:  # the shape of celery's task.request
            is_eager = False

    setattr(Task.request, HEADER, 42)
    before = rls.current()
    _enter_scope(task_id="t1", task=Task)
    assert rls.current() == rls.Scope(tenant_id=42)
    _leave_scope(task_id="t1")
    assert rls.current() == before


def test_a_bypass_never_travels_with_a_task():
    headers: dict[str, object] = {}
    with rls.scope(rls.Scope(bypass="platform admin")):
        _stamp_tenant(headers=headers)
    assert headers == {HEADER: None}


@pytest.mark.django_db
def test_rls_status_reports_the_wall_enforced_for_the_app_role(capsys):
    from django.core.management import call_command

    call_command("rls_status")
    output = capsys.readouterr().out
    assert "superuser=False, bypassrls=False, owns 0 tenant table(s)" in output
    assert output.rstrip().endswith("Tenant wall enforced.")


@pytest.mark.django_db
def test_rls_status_fails_for_a_role_that_could_see_across_tenants(monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    real = rls.role_report
    monkeypatch.setattr(rls, "role_report", lambda: {**real(), "bypassrls": True, "unprotected": ["workflow_patient"]})
    with pytest.raises(
        CommandError, match=r"NOT enforced: the role bypasses .* no policy in force on workflow_patient"
    ):
        call_command("rls_status")


@pytest.mark.django_db
def test_the_platform_admin_lists_the_bypasses_read_only(two_tenants, client_for):
    operator = factories.UserFactory(username="operator", is_superuser=True, is_staff=True)
    client = client_for(operator)
    page = client.get("/platform-admin/roi/platformaccess/")
    assert page.status_code == 200
    assert "GET /platform-admin/roi/platformaccess/" in page.content.decode()  # this very visit
    assert client.get("/platform-admin/roi/platformaccess/add/").status_code == 403
    for read_only in ("roi/accessevent", "workflow/requesttransition", "workflow/recordrequest"):
        assert client.get(f"/platform-admin/{read_only}/add/").status_code == 403


@pytest.mark.django_db
def test_healthz_says_when_the_database_holds_another_scope_key(client):
    """SECRET_KEY changed without `migrate`: every page would be empty; /healthz/ answers 503 and says what to do."""
    assert client.get("/healthz/").json()["database"] == "ok"
    with connection.cursor() as cursor:  # the test's own login, the owner's
        cursor.execute(f"UPDATE {rls.PRIVATE_SCHEMA}.scope_key SET inner_pad = sha256(inner_pad)")  # noqa: S608
    answer = client.get("/healthz/")
    assert answer.status_code == 503
    assert "run manage.py migrate" in answer.json()["database"]
