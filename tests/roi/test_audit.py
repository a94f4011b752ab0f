from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, transaction

from roi import rls
from roi.audit import access_record
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests.scoping import owner_cursor


def test_an_access_event_records_who_what_and_from_where(rf, tenant_a, alice):
    http_request = rf.get("/requests/x/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Browser 1.0")
    event = access_record(
        tenant=tenant_a,
        actor=alice,
        action=AccessAction.VIEW_REQUEST,
        request=http_request,
        request_id=7,
        patient_id=9,
    )
    event.refresh_from_db()
    assert (event.actor, event.actor_label, event.ip_address, event.user_agent) == (
        alice,
        "alice",
        "10.1.2.3",
        "Browser 1.0",
    )
    assert (event.request_id, event.patient_id, event.tenant) == (7, 9, tenant_a)


@pytest.mark.django_db(transaction=True)  # the owner's connection sees committed rows
def test_the_database_refuses_to_change_or_delete_access_events(tenant_a, alice):
    """Twice: the app role has no UPDATE or DELETE privilege on the table, and even its owner meets the append-only
    trigger."""
    event = access_record(tenant=tenant_a, actor=alice, action=AccessAction.EXPORT)
    with rls.tenant_scope(tenant_a.pk), pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).update(actor_label="someone else")
    with rls.tenant_scope(tenant_a.pk), pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).delete()
    for statement in ("UPDATE roi_accessevent SET actor_label = 'x'", "DELETE FROM roi_accessevent"):
        with owner_cursor() as cursor, pytest.raises(psycopg.Error, match=r"append-only|record of fact"):
            cursor.execute(statement)
    assert AccessEvent.objects.get(pk=event.pk).actor_label == "alice"
