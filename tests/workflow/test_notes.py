"""Internal notes on a request (workflow/notes.py): added and edited from the request page, an edit is a new version
and the old one is kept, unchangeable even for the app role on a raw connection; length limits that say what to
fix; staff only (never on the portal); another tenant's request or note answers 404."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.contrib.messages import get_messages
from django.db import connection as django_connection
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from roi import rls
from roi.choices import AccessAction
from roi.errors import Conflict, NotPermitted, ServiceError
from roi.models import AccessEvent
from tests import factories
from tests.scoping import CREDENTIALS
from workflow.models import NOTE_MAX_LENGTH, RequestNote
from workflow.notes import request_note_add, request_note_edit


def _add_url(rr) -> str:
    return reverse("workflow:note_add", args=[rr.tracking_number])


def _edit_url(rr, note) -> str:
    return reverse("workflow:note_edit", args=[rr.tracking_number, note.pk])


def _timeline(client: Any, rr: Any) -> str:
    """The timeline as the request page's timeline panel loads it after the first paint."""
    url = reverse("workflow:panel", args=[rr.tracking_number, "timeline"])
    return client.get(url, HTTP_HX_REQUEST="true").content.decode()


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def rr(tenant_a):
    return factories.RecordRequestFactory(tenant=tenant_a, requestor__email="paralegal@hartley.example.com")


def test_a_note_added_on_the_page_is_saved_audited_and_shown_on_the_timeline(client_for, alice, tenant_a, rr):
    client = client_for(alice)
    response = client.post(_add_url(rr), {"note": "  Called imaging: films come Tuesday.  "})
    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:detail", args=[rr.tracking_number]) + "#panel-timeline"
    note = RequestNote.objects.get()
    assert (note.tenant, note.request, note.author, note.text, note.replaces) == (
        tenant_a, rr, alice, "Called imaging: films come Tuesday.", None,
    )  # fmt: skip
    event = AccessEvent.objects.get(action=AccessAction.REQUEST_NOTE)
    assert (event.actor, event.request_id, event.patient_id, event.object_id) == (
        alice, rr.pk, rr.patient_id, str(note.pk),
    )  # fmt: skip
    page = client.get(response["Location"]).content.decode()
    timeline = _timeline(client, rr)
    assert "Called imaging: films come Tuesday." in timeline
    assert escape(str(alice)) in timeline
    assert "Note added." in page


def test_editing_writes_a_new_version_and_keeps_the_old_one(client_for, alice, tenant_a, rr):
    first = request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="Films come Tuesday.")
    client = client_for(alice)
    response = client.post(_edit_url(rr, first), {"note": "Films come Wednesday."})
    assert response.status_code == 302
    latest = RequestNote.objects.exclude(pk=first.pk).get()
    assert (latest.text, latest.replaces, latest.author) == ("Films come Wednesday.", first, alice)
    first.refresh_from_db()
    assert first.text == "Films come Tuesday."  # kept as it was
    assert AccessEvent.objects.filter(action=AccessAction.REQUEST_NOTE).count() == 2

    timeline = _timeline(client, rr)
    assert timeline.count("<strong>Internal note</strong>") == 1  # the latest version only, with its versions
    assert '<span class="badge edited">edited</span>' in timeline
    versions = timeline[timeline.index('class="note-versions"') :]
    assert versions.index("Films come Tuesday.") < versions.index("</details>")


def test_an_older_version_cannot_be_edited_again(tenant_a, alice, rr):
    first = request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="One")
    request_note_edit(tenant=tenant_a, actor=alice, record_request=rr, note_id=first.pk, text="Two")
    with pytest.raises(Conflict, match="edit its latest version"):
        request_note_edit(tenant=tenant_a, actor=alice, record_request=rr, note_id=first.pk, text="Three")
    assert RequestNote.objects.count() == 2


def test_only_the_author_edits_a_note(client_for, tenant_a, alice, sam, rr):
    note = request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="Mine")
    with pytest.raises(NotPermitted):
        request_note_edit(tenant=tenant_a, actor=sam, record_request=rr, note_id=note.pk, text="Yours now")
    response = client_for(sam).post(_edit_url(rr, note), {"note": "Yours now"})
    assert response.status_code == 403
    assert "Only the note's author can edit it." in " ".join(_messages(response))
    assert RequestNote.objects.count() == 1
    # Sam sees Alice's note but is offered no editor for it.
    page = _timeline(client_for(sam), rr)
    assert "Mine" in page
    assert _edit_url(rr, note) not in page


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "Write the note before saving it: it is empty."),
        ("x" * (NOTE_MAX_LENGTH + 1), f"Shorten the note to {NOTE_MAX_LENGTH:,} characters or fewer: it has 4,001."),
    ],
)
def test_an_empty_or_too_long_note_says_what_to_fix_and_saves_nothing(client_for, alice, rr, text, message):
    client = client_for(alice)
    response = client.post(_add_url(rr), {"note": text})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page  # on the field
    assert any(m.startswith("The note was not saved.") and message in m for m in _messages(response))
    assert not RequestNote.objects.exists()
    assert not AccessEvent.objects.filter(action=AccessAction.REQUEST_NOTE).exists()
    if text.strip():
        assert text in page  # the text is kept in the form, to shorten


def test_the_service_holds_the_limits_too(tenant_a, alice, rr):
    with pytest.raises(ServiceError, match="Shorten the note"):
        request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="y" * (NOTE_MAX_LENGTH + 1))
    note = request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="Same")
    with pytest.raises(ServiceError, match="unchanged"):
        request_note_edit(tenant=tenant_a, actor=alice, record_request=rr, note_id=note.pk, text=" Same ")


def test_a_line_break_counts_once_toward_the_limit(tenant_a, alice, rr):
    text = "a\r\n" * (NOTE_MAX_LENGTH // 2)  # 4,000 characters as the browser counted them
    note = request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text=text)
    assert len(note.text) == NOTE_MAX_LENGTH - 1  # the last line break stripped


def test_another_tenants_request_and_note_answer_404(client_for, tenant_a, tenant_b, alice, charlie, rr):
    b_request = factories.RecordRequestFactory(tenant=tenant_b)
    b_note = request_note_add(tenant=tenant_b, actor=charlie, record_request=b_request, text="Beta's own")
    client = client_for(alice)
    assert client.post(_add_url(b_request), {"note": "probe"}).status_code == 404
    assert client.post(_edit_url(b_request, b_note), {"note": "probe"}).status_code == 404
    # Tenant B's note id under tenant A's own request: not found either.
    assert client.post(_edit_url(rr, b_note), {"note": "probe"}).status_code == 404
    assert list(RequestNote.objects.values_list("text", flat=True)) == ["Beta's own"]


def test_a_note_on_another_request_of_the_same_tenant_is_not_found(client_for, tenant_a, alice, rr):
    other = factories.RecordRequestFactory(tenant=tenant_a)
    note = request_note_add(tenant=tenant_a, actor=alice, record_request=other, text="About the other one")
    assert client_for(alice).post(_edit_url(rr, note), {"note": "moved"}).status_code == 404


def test_notes_never_reach_the_portal(tenant_a, alice, rr):
    request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="Requestor sounded upset; be careful")
    portal = Client()
    response = portal.post(
        reverse("portal:lookup"), {"tracking_number": rr.tracking_number, "verifier": "paralegal@hartley.example.com"}
    )
    assert response.status_code == 302
    page = portal.get(response["Location"]).content.decode()
    assert rr.tracking_number in page
    assert "upset" not in page


def test_anonymous_and_memberless_users_cannot_add_notes(tenant_a, rr):
    anonymous = Client().post(_add_url(rr), {"note": "x"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    outsider = factories.UserFactory()
    client = Client()
    client.force_login(outsider)
    assert client.post(_add_url(rr), {"note": "x"}).status_code == 403
    assert not RequestNote.objects.exists()


# --- A record of fact, for the app role itself --------------------------------------------------------------------


def _app_connection() -> psycopg.Connection[Any]:
    db = django_connection.settings_dict
    user, password = CREDENTIALS["app"]
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        dbname=db["NAME"],
        user=user,
        password=password or None,
        autocommit=True,
    )


@pytest.mark.django_db(transaction=True)
def test_the_app_role_can_neither_change_nor_remove_a_note_version(tenant_a, alice):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    first = request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="Original")
    request_note_edit(tenant=tenant_a, actor=alice, record_request=rr, note_id=first.pk, text="Corrected")
    with _app_connection() as conn:
        values = {rls.SETTING_TENANT: str(tenant_a.pk), rls.SETTING_USER: "", rls.SETTING_LOOKUP: ""}
        mac = rls.scope_mac(conn.info.backend_pid, values)
        for name, value in {**values, rls.SETTING_MAC: mac}.items():
            conn.execute("SELECT set_config(%s, %s, false)", [name, value])
        assert conn.execute("SELECT count(*) FROM workflow_requestnote").fetchone()[0] == 2  # it reads them
        for statement in [
            "UPDATE workflow_requestnote SET text = 'Rewritten' WHERE id = %s",
            "DELETE FROM workflow_requestnote WHERE id = %s",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, [first.pk])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE workflow_requestnote")
    first.refresh_from_db()
    assert first.text == "Original"
    assert RequestNote.objects.count() == 2
