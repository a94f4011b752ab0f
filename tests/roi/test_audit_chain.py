"""The access events' hash chain: the database seals every row on INSERT (roi/migrations/0008), and
`verify_audit_chain` recomputes the chain on its own to catch a row edited or removed by someone who got past the
append-only trigger (an attacker with the table owner's rights can disable it, as these tests do)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from roi.audit import GENESIS_HASH, access_chain_verify, access_record
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from tests.concurrency import run_at_once
from tests.scoping import owner_cursor


def _events(tenant, n: int, actor=None) -> list[AccessEvent]:
    return [
        access_record(tenant=tenant, actor=actor, action=AccessAction.VIEW_REQUEST, request_id=i, detail=f"é|~ {i}")
        for i in range(n)
    ]


def _as_attacker(sql: str, params: list) -> None:
    """What the table owner can do despite the append-only triggers: switch them off for one statement (the app role
    may neither change nor delete access events, nor alter the table)."""
    with owner_cursor() as cursor, cursor.connection.transaction():
        cursor.execute("ALTER TABLE roi_accessevent DISABLE TRIGGER USER")  # the append-only triggers, and the chain's
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE roi_accessevent ENABLE TRIGGER USER")


def _verify(*args: str) -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def test_each_tenant_chain_starts_at_genesis_and_links_every_row_to_the_previous(tenant_a, tenant_b, alice):
    a_events = _events(tenant_a, 3, alice)
    b_events = _events(tenant_b, 2)
    for events in (a_events, b_events):
        for event in events:
            event.refresh_from_db()
        assert events[0].prev_hash == GENESIS_HASH
        assert [e.prev_hash for e in events[1:]] == [e.row_hash for e in events[:-1]]
        assert all(len(e.row_hash) == 64 for e in events)


def test_an_intact_chain_verifies(tenant_a, tenant_b, alice, rf):
    http_request = rf.get("/", REMOTE_ADDR="2001:db8::7", HTTP_USER_AGENT="Browser ü")
    access_record(tenant=tenant_a, actor=alice, action=AccessAction.EXPORT, request=http_request, patient_id=3)
    access_record(tenant=tenant_a, actor=alice, action=AccessAction.EXPORT, request=rf.get("/", REMOTE_ADDR="10.0.0.1"))
    _events(tenant_b, 2)
    output, error = _verify()
    assert error is None
    assert "alpha: 2 rows checked, 0 anchors checked, OK" in output
    assert "beta: 2 rows checked, 0 anchors checked, OK" in output


def test_the_app_cannot_choose_the_hashes_or_the_id(tenant_a):
    event = AccessEvent.objects.create(
        tenant=tenant_a, actor_label="x", action=AccessAction.EXPORT, id=999_999, prev_hash="f" * 64, row_hash="e" * 64
    )
    event_row = AccessEvent.objects.get(pk=event.pk)
    assert event.pk != 999_999
    assert (event_row.prev_hash, event_row.row_hash != "e" * 64) == (GENESIS_HASH, True)
    assert access_chain_verify(tenant=tenant_a).ok


@pytest.mark.django_db(transaction=True)  # the attacker's connection sees committed rows
def test_an_edited_row_is_caught(tenant_a, tenant_b, alice):
    events = _events(tenant_a, 4, alice)
    _events(tenant_b, 2)
    _as_attacker("UPDATE roi_accessevent SET actor_label = %s WHERE id = %s", ["someone else", events[1].pk])

    report = access_chain_verify(tenant=tenant_a)
    assert (report.rows_checked, report.breaks, report.first_break.event_id) == (4, 1, events[1].pk)
    assert "edited" in report.first_break.problem
    output, error = _verify()
    assert error == "Access event chain broken for: alpha"
    assert f"alpha: 4 rows checked, BROKEN at access event {events[1].pk}: content does not match" in output
    assert "beta: 2 rows checked, 0 anchors checked, OK" in output


@pytest.mark.django_db(transaction=True)  # the attacker's connection sees committed rows
def test_an_edited_row_with_its_hash_recomputed_is_caught_at_the_next_row(tenant_a, alice):
    events = _events(tenant_a, 3, alice)
    _as_attacker(
        "UPDATE roi_accessevent e SET detail = 'nothing', row_hash = roi_accessevent_hash(e.prev_hash, "
        "ROW(e.id, e.at, e.actor_label, e.action, e.object_type, e.object_id, e.request_id, e.patient_id, "
        "'nothing', e.ip_address, e.user_agent, e.actor_id, e.tenant_id, e.prev_hash, e.row_hash)::roi_accessevent) "
        "WHERE id = %s",
        [events[1].pk],
    )
    report = access_chain_verify(tenant=tenant_a)
    assert report.first_break.event_id == events[2].pk
    assert "prev_hash does not match" in report.first_break.problem


@pytest.mark.django_db(transaction=True)  # the attacker's connection sees committed rows
def test_a_deleted_row_is_caught(tenant_a, alice):
    events = _events(tenant_a, 4, alice)
    _as_attacker("DELETE FROM roi_accessevent WHERE id = %s", [events[2].pk])

    output, error = _verify("--tenant", "alpha")
    assert error is not None
    assert f"alpha: 3 rows checked, BROKEN at access event {events[3].pk}: prev_hash does not match" in output


@pytest.mark.django_db(transaction=True)  # the attacker's connection sees committed rows
def test_a_deleted_first_row_is_caught(tenant_a, alice):
    events = _events(tenant_a, 2, alice)
    _as_attacker("DELETE FROM roi_accessevent WHERE id = %s", [events[0].pk])
    assert access_chain_verify(tenant=tenant_a).first_break.event_id == events[1].pk


def test_the_command_names_an_unknown_tenant(tenant_a):
    assert _verify("--tenant", "nope")[1] == "No tenant with slug 'nope'."


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_to_chain_under_repeatable_read():
    # A REPEATABLE READ snapshot could miss the previous committed row and fork the chain.
    tenant_a = factories.TenantFactory(slug="alpha")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(DatabaseError, match="READ COMMITTED"):
            access_record(tenant=tenant_a, actor=None, action=AccessAction.EXPORT)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain_per_tenant():
    """Threads with their own connections write interleaved events of two tenants, some inside transactions that
    linger after the insert (the lock is held until commit): each tenant's chain must still verify."""
    tenants = [factories.TenantFactory(slug="alpha"), factories.TenantFactory(slug="beta")]

    def write(worker: int) -> None:
        for i in range(15):
            tenant = tenants[(worker + i) % 2]
            if i % 3 == 0:
                with transaction.atomic():
                    access_record(tenant=tenant, actor=None, action=AccessAction.EXPORT, detail=f"{worker}-{i}")
                    access_record(tenant=tenant, actor=None, action=AccessAction.EXPORT, detail=f"{worker}+{i}")
            else:
                access_record(tenant=tenant, actor=None, action=AccessAction.EXPORT, detail=f"{worker}-{i}")

    assert run_at_once(write, args=[(worker,) for worker in range(8)]).errors == []
    reports = [access_chain_verify(tenant=tenant) for tenant in tenants]
    assert [(r.rows_checked, r.ok) for r in reports] == [(80, True), (80, True)]


# --- Anchors outside the database (roi/anchors.py) --------------------------------------------------------------


def _anchor_now() -> int:
    from roi.tasks import anchor_audit_chains

    return anchor_audit_chains()


def test_beat_anchors_each_chain_head_once_until_something_new_happens(tenant_a, tenant_b, alice):
    from roi.anchors import anchor_file, anchors_read

    _events(tenant_a, 3, alice)
    assert _anchor_now() == 1  # tenant B has no events yet: nothing to anchor
    assert _anchor_now() == 0  # nothing new
    last = _events(tenant_a, 1, alice)[0]
    _events(tenant_b, 1)
    assert _anchor_now() == 2
    anchors, problems = anchors_read(tenant_id=tenant_a.pk)
    assert problems == []
    assert [anchor.event_id for anchor in anchors][-1] == last.pk
    assert anchor_file(tenant_a.pk).read_text().count("\n") == 2
    output, error = _verify()
    assert error is None
    assert "alpha: 4 rows checked, 2 anchors checked, OK" in output


@pytest.mark.django_db(transaction=True)  # the attacker's connection sees committed rows
def test_a_tail_cut_off_leaves_a_valid_chain_but_the_anchor_catches_it(tenant_a, alice):
    events = _events(tenant_a, 5, alice)
    _anchor_now()
    _as_attacker("DELETE FROM roi_accessevent WHERE id >= %s", [events[3].pk])

    report = access_chain_verify(tenant=tenant_a)
    assert report.first_break is None  # what is left is a perfect chain
    assert report.rows_checked == 3
    assert report.anchor_problems == [
        f"access event {events[4].pk}, anchored at {_anchored_at(tenant_a)}, is gone: the chain was cut back "
        "(its tail removed or the table emptied)"
    ]
    output, error = _verify()
    assert error == "Access event chain broken for: alpha"
    assert "alpha: 3 rows checked, BROKEN against its anchors: access event" in output


@pytest.mark.django_db(transaction=True)
def test_a_table_emptied_and_refilled_is_caught(tenant_a, alice):
    events = _events(tenant_a, 2, alice)
    _anchor_now()
    with owner_cursor() as cursor, cursor.connection.transaction():
        cursor.execute("ALTER TABLE roi_accessevent DISABLE TRIGGER USER")
        cursor.execute("TRUNCATE roi_accessevent")
        cursor.execute("ALTER TABLE roi_accessevent ENABLE TRIGGER USER")
    _events(tenant_a, 2, alice)  # a fresh, valid chain from genesis
    report = access_chain_verify(tenant=tenant_a)
    assert report.first_break is None
    assert f"access event {events[1].pk}" in report.anchor_problems[0]


@pytest.mark.django_db(transaction=True)
def test_the_owner_cannot_truncate_with_the_trigger_in_place(tenant_a, alice):
    import psycopg

    _events(tenant_a, 1, alice)
    with owner_cursor() as cursor, pytest.raises(psycopg.Error, match="record of fact"):
        cursor.execute("TRUNCATE roi_accessevent")
    assert AccessEvent.objects.count() == 1


def test_an_altered_anchor_file_is_reported_not_trusted(tenant_a, alice):
    from roi.anchors import anchor_file

    _events(tenant_a, 2, alice)
    _anchor_now()
    path = anchor_file(tenant_a.pk)
    path.write_text(path.read_text().replace('"event": ', '"event": 1', 1))  # an anchor moved back
    report = access_chain_verify(tenant=tenant_a)
    assert report.anchors_checked == 0
    assert report.anchor_problems == ["anchor line 1 has a signature that does not match: the file was altered"]
    assert not report.ok


def _anchored_at(tenant) -> str:
    from roi.anchors import anchors_read

    return anchors_read(tenant_id=tenant.pk)[0][-1].at
