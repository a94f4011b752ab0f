"""The tenant wall and the records of fact, attacked as the app role with raw SQL on a plain connection: what SQL
injection or a stolen DATABASE_URL could do (roi/rls.py, roi/records.py, docs/security.md).

Each test commits its rows (transactional) and connects on its own as the app role, outside the app: no Django
backend, no scope but the one the test sends."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection as django_connection

from fulfillment.models import Delivery, Disclosure, QcReview
from roi import records, rls
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import DeliveryFactory, QcReviewFactory
from tests.scoping import CREDENTIALS, owner_cursor
from workflow.models import RecordRequest

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(which: str) -> psycopg.Connection[Any]:
    db = django_connection.settings_dict
    user, password = CREDENTIALS[which]
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        dbname=db["NAME"],
        user=user,
        password=password or None,
        autocommit=True,
    )


@pytest.fixture
def app_sql() -> Iterator[psycopg.Connection[Any]]:
    """A plain connection as the app role: the attacker's seat."""
    with _connect("app") as conn:
        yield conn


def _one(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    return conn.execute(sql, params).fetchone()[0]


def _sign(conn: psycopg.Connection[Any], tenant_id: int | str, *, pid: int | None = None) -> None:
    """What the app itself does (roi/rls.py `send`): the settings and their MAC, which needs the key (SECRET_KEY)."""
    values = {rls.SETTING_TENANT: str(tenant_id), rls.SETTING_USER: "", rls.SETTING_LOOKUP: ""}
    mac = rls.scope_mac(pid if pid is not None else conn.info.backend_pid, values)
    for name, value in {**values, rls.SETTING_MAC: mac}.items():
        conn.execute("SELECT set_config(%s, %s, false)", [name, value])


@pytest.fixture
def two_tenants(tenant_a, tenant_b) -> tuple[RecordRequest, RecordRequest]:
    a = factories.RecordRequestFactory(tenant=tenant_a)
    b = factories.RecordRequestFactory(tenant=tenant_b)
    return a, b


def _visible(conn: psycopg.Connection[Any]) -> set[int]:
    return {row[0] for row in conn.execute("SELECT id FROM workflow_recordrequest").fetchall()}


# --- The wall --------------------------------------------------------------------------------------------------


def test_the_app_itself_sees_its_tenant_only_when_the_scope_is_signed(app_sql, two_tenants):
    a, b = two_tenants
    assert _visible(app_sql) == set()  # no scope, no rows
    _sign(app_sql, a.tenant_id)
    assert _visible(app_sql) == {a.pk}  # the app's own signed scope works...
    _sign(app_sql, b.tenant_id)
    assert _visible(app_sql) == {b.pk}  # ...for whichever tenant the app (holding the key) acts for


def test_no_setting_lifts_the_wall(app_sql, two_tenants):
    a, _b = two_tenants
    for name, value in [
        ("roi.bypass", "on"),  # the setting that once lifted it
        ("roi.tenant_id", str(a.tenant_id)),  # a tenant named without its MAC
        ("roi.scope_mac", "0" * 64),  # a made-up MAC
        ("roi.lookup", a.tracking_number),
        ("roi.user_id", "1"),
    ]:
        app_sql.execute("SELECT set_config(%s, %s, false)", [name, value])
        assert _visible(app_sql) == set(), name
    assert _one(app_sql, "SELECT count(*) FROM roi_accessevent") == 0
    assert _one(app_sql, "SELECT count(*) FROM roi_membership") == 0


def test_a_mac_from_another_session_is_worthless(app_sql, two_tenants):
    """A MAC seen elsewhere (a statement log, pg_stat_activity with client-side binding) names its own backend."""
    a, _b = two_tenants
    _sign(app_sql, a.tenant_id, pid=app_sql.info.backend_pid + 1)
    assert _visible(app_sql) == set()


def test_the_key_is_out_of_reach(app_sql, two_tenants):
    for statement in [
        f"SELECT * FROM {rls.PRIVATE_SCHEMA}.scope_key",  # noqa: S608 - a constant schema name
        f"INSERT INTO {rls.PRIVATE_SCHEMA}.scope_key VALUES (2, '', '')",  # noqa: S608 - a constant schema name
        f"UPDATE {rls.PRIVATE_SCHEMA}.scope_key SET inner_pad = ''",  # noqa: S608 - a constant schema name
    ]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_sql.execute(statement)


def test_the_app_role_cannot_take_down_the_policies_or_become_another_role(app_sql, two_tenants):
    owner = CREDENTIALS["owner"][0]
    for statement in [
        "ALTER TABLE workflow_recordrequest DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE workflow_recordrequest NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY roi_tenant ON workflow_recordrequest",
        "CREATE POLICY mine ON workflow_recordrequest USING (true)",
        "CREATE OR REPLACE FUNCTION roi_current_tenant() RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$",
        "CREATE FUNCTION public.roi_shadow() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
        f'SET ROLE "{owner}"',
        "SET session_replication_role = replica",  # would switch triggers off
        "ALTER TABLE roi_accessevent DISABLE TRIGGER USER",
        f'GRANT "{owner}" TO "{CREDENTIALS["app"][0]}"',
    ]:
        with pytest.raises(psycopg.Error) as refused:
            app_sql.execute(statement)
        assert isinstance(refused.value, psycopg.errors.InsufficientPrivilege), (statement, refused.value)
    assert _visible(app_sql) == set()


def test_rls_status_checks_the_same_things_and_finds_them_in_place():
    report = rls.role_report()
    assert report["enforced"] is True, report
    assert report["member_of"] == []
    assert report["private_schema_readable"] is False
    assert report["records_rewritable"] == []


# --- Records of fact -----------------------------------------------------------------------------------------


@pytest.fixture
def facts(tenant_a, alice, sam) -> dict[str, Any]:
    """One row of each record of fact, in tenant A."""
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    review = QcReviewFactory(packet__request=rr, packet__tenant=tenant_a, outcome="failed", reviewer=sam)
    delivery = DeliveryFactory(packet=review.packet, delivered_by=alice)
    disclosure = Disclosure.objects.create(
        tenant=tenant_a,
        patient=rr.patient,
        request=rr,
        disclosed_on=datetime.date(2026, 11, 2),
        recipient_name="County Health Department",
        description="Immunisation record",
        purpose="public_health",
        recorded_at=datetime.datetime(2026, 11, 2, 9, tzinfo=datetime.UTC),
    )
    event = factories.AccessEventFactory(tenant=tenant_a)
    transition = factories.RequestTransitionFactory(
        tenant=tenant_a,
        request=rr,
        transition="validate",
        from_state="received",
        to_state="validated",
        at=rr.received_at,
    )
    return {
        "rr": rr,
        "review": review,
        "delivery": delivery,
        "disclosure": disclosure,
        "event": event,
        "transition": transition,
    }


def test_a_qc_failure_cannot_be_turned_into_a_pass_nor_removed(app_sql, facts):
    _sign(app_sql, facts["rr"].tenant_id)
    review = facts["review"]
    assert _one(app_sql, "SELECT outcome FROM fulfillment_qcreview WHERE id = %s", [review.pk]) == "failed"
    for statement in [
        "UPDATE fulfillment_qcreview SET outcome = 'passed' WHERE id = %s",
        "DELETE FROM fulfillment_qcreview WHERE id = %s",
        "UPDATE fulfillment_historicalqcreview SET outcome = 'passed' WHERE id = %s",
        "DELETE FROM fulfillment_historicalqcreview WHERE id = %s",
    ]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_sql.execute(statement, [review.pk])
    assert QcReview.objects.get(pk=review.pk).outcome == "failed"


@pytest.mark.parametrize(
    "table",
    [
        "workflow_historicalrecordrequest",
        "fulfillment_delivery",
        "fulfillment_historicaldelivery",
        "roi_accessevent",
        "workflow_requesttransition",
        "fulfillment_disclosure",
        "fulfillment_denial",
        "intake_letter",
        "roi_platformaccess",
    ],
)
def test_no_record_of_fact_can_be_removed_or_emptied(app_sql, facts, table):
    _sign(app_sql, facts["rr"].tenant_id)
    for statement in [f"DELETE FROM {table}", f"TRUNCATE {table}"]:  # noqa: S608 - a fixed table name
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_sql.execute(statement)


def test_every_history_table_is_append_only_for_the_app_role(app_sql, facts):
    with django_connection.cursor() as cursor:
        tables = [table for table, _columns in records.tables(cursor)]
    assert len([t for t in tables if "_historical" in t]) >= 25
    _sign(app_sql, facts["rr"].tenant_id)
    for table in tables:
        if records.RECORDS_OF_FACT.get(table):
            continue  # write-once columns: their own test
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_sql.execute(f"UPDATE {table} SET id = id")  # noqa: S608 - a catalog name


def test_a_delivery_its_evidence_and_its_history_cannot_be_rewritten(app_sql, facts):
    delivery = facts["delivery"]
    _sign(app_sql, facts["rr"].tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_sql.execute("UPDATE fulfillment_delivery SET destination = 'elsewhere' WHERE id = %s", [delivery.pk])
    assert Delivery.objects.get(pk=delivery.pk).destination == delivery.destination


def test_write_once_columns_are_filled_once_and_the_fact_itself_never_changes(app_sql, facts):
    disclosure = facts["disclosure"]
    _sign(app_sql, facts["rr"].tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="record of fact"):
        app_sql.execute(
            "UPDATE fulfillment_disclosure SET recipient_name = 'Someone else' WHERE id = %s", [disclosure.pk]
        )
    # Marking it entered in error is the one later step, once.
    app_sql.execute(
        "UPDATE fulfillment_disclosure SET entered_in_error_at = now(), entered_in_error_reason = 'wrong patient' "
        "WHERE id = %s",
        [disclosure.pk],
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="written once"):
        app_sql.execute(
            "UPDATE fulfillment_disclosure SET entered_in_error_at = NULL, entered_in_error_reason = '' WHERE id = %s",
            [disclosure.pk],
        )
    assert Disclosure.objects.get(pk=disclosure.pk).entered_in_error_reason == "wrong patient"


def test_even_the_owner_cannot_truncate_or_rewrite_the_access_events(facts):
    with owner_cursor() as cursor:
        for statement in [
            "TRUNCATE roi_accessevent",
            "DELETE FROM roi_accessevent",
            "UPDATE fulfillment_qcreview SET outcome = 'passed'",
            "TRUNCATE fulfillment_historicalqcreview",
        ]:
            with pytest.raises(psycopg.Error, match=r"record of fact|append-only"):
                cursor.execute(statement)
    assert AccessEvent.objects.filter(pk=facts["event"].pk).exists()


def test_a_bypass_is_refused_on_the_app_roles_own_login(app_sql, tenant_a):
    """The web, worker and beat processes log in as the app role: no code path there can see every tenant."""
    import types

    app_connection = types.SimpleNamespace(connection=app_sql, session_facts=None, scope_sent=None)
    assert not rls.is_platform_login(app_connection)
    with pytest.raises(rls.PlatformCredentialRequired):
        rls.send(app_connection, rls.Scope(bypass="curiosity"))
    rls.send(app_connection, rls.Scope(tenant_id=tenant_a.pk))  # an ordinary scope: signed, no role switched
    assert _one(app_sql, "SELECT current_user") == CREDENTIALS["app"][0]
    assert _one(app_sql, "SELECT roi_current_tenant()") == tenant_a.pk
    assert rls.is_platform_login(django_connection)  # the suite's own login, the owner's, may


def test_a_deployment_app_role_of_another_name_is_the_app_not_the_platform(tenant_a):
    """A web process whose DATABASE_URL names its own app role (not DATABASE_APP_ROLE, which only migrate reads)
    runs as that role: no role switching, no bypass."""
    import types
    import uuid

    name = f"roi_web_{uuid.uuid4().hex[:8]}"
    with owner_cursor() as cursor:
        cursor.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD 'web-role-password'")
    try:
        db = django_connection.settings_dict
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=name,
            password="web-role-password", autocommit=True,
        ) as conn:  # fmt: skip
            facts = rls.session_facts(types.SimpleNamespace(connection=conn, session_facts=None))
            assert (facts.platform, facts.app_role) == (False, "")
    finally:
        with owner_cursor() as cursor:
            cursor.execute(f'DROP ROLE "{name}"')
