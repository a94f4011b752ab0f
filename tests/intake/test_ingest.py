"""Email and fax-to-email ingestion (intake/ingest.py), the ingest_maildir command, and the failed-intake page."""

from __future__ import annotations

import io
import mailbox
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from intake import ingest, patients
from intake.choices import DocumentKind, DocumentSource
from intake.models import FailedIntake, InboundMessage, IntakeDocument
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from tests.intake import messages
from tests.intake.helpers import failed_intake
from workflow.choices import Channel, RequestorKind, RequestState, RequestType
from workflow.models import Patient, RecordRequest, Requestor


def _counts() -> dict[str, int]:
    return {
        "requests": RecordRequest.objects.count(),
        "patients": Patient.objects.count(),
        "requestors": Requestor.objects.count(),
        "documents": IntakeDocument.objects.count(),
        "failed": FailedIntake.objects.count(),
    }


# --- Good messages ----------------------------------------------------------------------------------------------


def test_a_fax_gateway_message_with_a_pdf_becomes_a_received_fax_request(tenant_a):
    result = ingest.ingest_message(tenant=tenant_a, raw=messages.fax_message(pages=2), channel="email")

    assert result.status == ingest.CREATED
    rr = RecordRequest.objects.get(pk=result.record_request.pk)
    assert (rr.tenant, rr.state, rr.channel, rr.needs_intake_completion) == (
        tenant_a,
        RequestState.RECEIVED,
        Channel.FAX,
        True,
    )
    assert rr.request_type == RequestType.OTHER
    assert rr.scope_notes.startswith("From the email: Subject: Fax from (312) 555-0199")
    (document,) = IntakeDocument.objects.filter(request=rr)
    assert (document.kind, document.source, document.content_type, document.page_count) == (
        DocumentKind.REQUEST_LETTER,
        DocumentSource.FAX,
        "application/pdf",
        2,
    )
    assert document.original_name == "fax-3125550199.pdf"
    assert (rr.requestor.kind, rr.requestor.name, rr.requestor.email, rr.requestor.organization) == (
        RequestorKind.OTHER,
        "eFax",
        "message@inbound.efax.com",
        "inbound.efax.com",
    )
    # The patient is a placeholder of this request alone, obviously unidentified.
    assert patients.is_unidentified_patient(rr.patient)
    assert rr.patient.last_name == "Unidentified"
    assert rr.patient.first_name == "(fax intake)"
    assert InboundMessage.objects.get(tenant=tenant_a).request == rr


def test_an_email_with_a_tiff_and_a_pdf_keeps_both_and_reuses_the_known_requestor(tenant_a, tenant_b):
    foreign = factories.RequestorFactory(tenant=tenant_b, email="jhartley@hartleymoss.example")
    known = factories.RequestorFactory(tenant=tenant_a, email="JHartley@hartleymoss.example", name="Jane Hartley")
    raw = messages.build(
        attachments=[
            (messages.tiff_bytes(pages=3), "image", "tiff", "authorization.tif"),
            (messages.pdf_bytes(1), "application", "pdf", "id-card.pdf"),
        ]
    )

    result = ingest.ingest_message(tenant=tenant_a, raw=raw, channel="email")

    assert result.status == ingest.CREATED
    rr = result.record_request
    assert rr.channel == Channel.EMAIL
    assert rr.requestor == known
    assert rr.requestor != foreign
    documents = list(IntakeDocument.objects.filter(request=rr).order_by("id"))
    assert [(d.kind, d.source, d.content_type, d.page_count) for d in documents] == [
        (DocumentKind.REQUEST_LETTER, DocumentSource.EMAIL, "image/tiff", 3),
        (DocumentKind.OTHER, DocumentSource.EMAIL, "application/pdf", 1),
    ]
    assert "Please find the signed authorization attached." in rr.scope_notes


def test_an_email_without_attachment_becomes_a_request_from_its_text(tenant_a):
    body = "I am writing to request a copy of my mother's records from her stay in March. " * 60
    raw = messages.build(sender="Carl Ames <carl.ames@mail.example>", subject="Records please", body=body)

    result = ingest.ingest_message(tenant=tenant_a, raw=raw, channel="email")

    rr = result.record_request
    assert result.status == ingest.CREATED
    assert not IntakeDocument.objects.filter(request=rr).exists()
    assert rr.scope_notes.startswith("From the email: Subject: Records please\n\nI am writing")
    assert len(rr.scope_notes) == len("From the email: ") + ingest.SCOPE_EXCERPT_CHARS
    assert (rr.requestor.name, rr.requestor.organization) == ("Carl Ames", "mail.example")


def test_the_channel_flag_makes_every_message_a_fax(tenant_a):
    raw = messages.build(attachments=[(messages.pdf_bytes(1), "application", "pdf", "scan.pdf")])
    result = ingest.ingest_message(tenant=tenant_a, raw=raw, channel="fax")
    assert result.record_request.channel == Channel.FAX
    assert IntakeDocument.objects.get(request=result.record_request).source == DocumentSource.FAX


def test_the_fax_gateway_pattern_is_configurable(tenant_a, settings):
    settings.INBOUND_FAX_GATEWAY_PATTERN = r"@faxes\.alpha-general\.example$"
    raw = messages.build(
        sender="Fax server <inbound@faxes.alpha-general.example>",
        attachments=[(messages.pdf_bytes(1), "application", "pdf", "page.pdf")],
    )
    assert ingest.ingest_message(tenant=tenant_a, raw=raw).record_request.channel == Channel.FAX
    # The default gateway names no longer apply once the organisation sets its own pattern.
    assert ingest.ingest_message(tenant=tenant_a, raw=messages.fax_message()).record_request.channel == Channel.EMAIL


def test_the_same_message_twice_creates_one_request(tenant_a):
    raw = messages.fax_message()
    first = ingest.ingest_message(tenant=tenant_a, raw=raw)
    before = _counts()

    again = ingest.ingest_message(tenant=tenant_a, raw=raw)
    # A provider's retry carries the same Message-ID under new transport headers.
    retried = ingest.ingest_message(tenant=tenant_a, raw=b"Received: from relay2.example\r\n" + raw)

    assert (again.status, retried.status) == (ingest.DUPLICATE, ingest.DUPLICATE)
    assert again.record_request == retried.record_request == first.record_request
    assert _counts() == before


def test_a_message_without_message_id_is_recognised_by_its_bytes(tenant_a):
    raw = messages.build(message_id=None, attachments=[(messages.pdf_bytes(1), "application", "pdf", "a.pdf")])
    assert ingest.ingest_message(tenant=tenant_a, raw=raw).status == ingest.CREATED
    assert ingest.ingest_message(tenant=tenant_a, raw=raw).status == ingest.DUPLICATE
    assert RecordRequest.objects.count() == 1


def test_the_same_message_in_two_tenants_is_two_requests(tenant_a, tenant_b):
    raw = messages.fax_message()
    a = ingest.ingest_message(tenant=tenant_a, raw=raw)
    b = ingest.ingest_message(tenant=tenant_b, raw=raw)
    assert (a.status, b.status) == (ingest.CREATED, ingest.CREATED)
    assert a.record_request.tenant == tenant_a
    assert b.record_request.tenant == tenant_b
    assert b.record_request.requestor.tenant == tenant_b
    assert b.record_request.patient.tenant == tenant_b


# --- Failed messages --------------------------------------------------------------------------------------------


def _only_failed(tenant) -> FailedIntake:
    failed = FailedIntake.objects.get()
    assert failed.tenant == tenant
    return failed


def test_garbage_bytes_are_kept_whole_as_a_failed_intake(tenant_a):
    raw = bytes(range(256)) * 4

    result = ingest.ingest_message(tenant=tenant_a, raw=raw)

    assert result.status == ingest.FAILED
    failed = _only_failed(tenant_a)
    assert "no readable headers" in failed.reason
    with failed.raw.open("rb") as handle:
        assert handle.read() == raw
    assert RecordRequest.objects.count() == 0


def test_a_truncated_mime_message_is_a_failed_intake_with_its_sender(tenant_a):
    whole = messages.build(attachments=[(messages.pdf_bytes(2), "application", "pdf", "records.pdf")])
    raw = whole[: len(whole) * 2 // 3]

    result = ingest.ingest_message(tenant=tenant_a, raw=raw)

    assert result.status == ingest.FAILED
    failed = _only_failed(tenant_a)
    assert "truncated or its MIME structure is broken" in failed.reason
    assert failed.sender == "Jane Hartley <jhartley@hartleymoss.example>"
    assert failed.subject == "Records request for our client"
    assert failed.source == DocumentSource.EMAIL
    assert _counts() == {"requests": 0, "patients": 0, "requestors": 0, "documents": 0, "failed": 1}


def test_a_message_with_neither_attachment_nor_text_is_a_failed_intake(tenant_a):
    result = ingest.ingest_message(tenant=tenant_a, raw=messages.build(body=None))
    assert result.status == ingest.FAILED
    assert "neither an attachment nor any text" in _only_failed(tenant_a).reason


def test_a_renamed_program_is_refused_and_nothing_is_half_created(tenant_a):
    raw = messages.build(
        attachments=[
            (messages.pdf_bytes(1), "application", "pdf", "authorization.pdf"),
            (messages.EXE_BYTES, "application", "pdf", "records.pdf"),
        ]
    )

    result = ingest.ingest_message(tenant=tenant_a, raw=raw)

    assert result.status == ingest.FAILED
    failed = _only_failed(tenant_a)
    assert "'records.pdf' is not a PDF, TIFF, PNG or JPEG file" in failed.reason
    assert "Windows program" in failed.reason
    # The request, its placeholder patient, its requestor and the first (good) document were all rolled back.
    assert _counts() == {"requests": 0, "patients": 0, "requestors": 0, "documents": 0, "failed": 1}
    # A re-run does not file the same message twice.
    assert ingest.ingest_message(tenant=tenant_a, raw=raw).status == ingest.DUPLICATE
    assert FailedIntake.objects.count() == 1


def test_an_unexpected_error_is_recorded_with_its_type_and_the_next_message_goes_on(tenant_a, monkeypatch):
    """Simulates a failure no rule foresaw (here, inside intake_receive) to show it is kept, not lost."""
    real = ingest.intake_receive
    calls = []

    def fail_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("storage unavailable")
        return real(**kwargs)

    monkeypatch.setattr(ingest, "intake_receive", fail_once)
    first = ingest.ingest_message(tenant=tenant_a, raw=messages.fax_message())
    second = ingest.ingest_message(tenant=tenant_a, raw=messages.build(body="Please send my records."))

    assert first.status == ingest.FAILED
    assert "RuntimeError" in first.reason
    assert "storage unavailable" in first.reason
    assert _only_failed(tenant_a).reason == first.reason
    assert second.status == ingest.CREATED
    assert RecordRequest.objects.count() == 1


# --- The ingest_maildir command ---------------------------------------------------------------------------------


def _maildir(tmp_path: Path, *raws: bytes) -> Path:
    path = tmp_path / "roi-inbox"
    box = mailbox.Maildir(str(path), factory=None, create=True)
    for raw in raws:
        box.add(raw)
    return path


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("ingest_maildir", *args, stdout=out)
    return out.getvalue().strip()


def test_running_the_command_twice_creates_each_request_once(tenant_a, tmp_path):
    fax = messages.fax_message()
    email = messages.build(attachments=[(messages.tiff_bytes(), "image", "tiff", "auth.tif")])
    path = _maildir(tmp_path, fax, email, b"\x00\x01 not an email at all")

    first = _run("--tenant", "alpha", "--maildir", str(path))
    second = _run("--tenant", "alpha", "--maildir", str(path))

    assert first == "created 2, duplicates 0, failed 1"
    assert second == "created 0, duplicates 0, failed 0"
    assert RecordRequest.objects.filter(tenant=tenant_a).count() == 2
    assert FailedIntake.objects.filter(tenant=tenant_a).count() == 1
    assert list((path / "new").iterdir()) == []
    names = sorted(p.name for p in (path / "cur").iterdir())
    assert len(names) == 3
    assert all(name.endswith(":2,S") for name in names)
    seen = mailbox.Maildir(str(path), factory=None)
    assert all("S" in seen.get_message(key).get_flags() for key in seen.iterkeys())


def test_a_message_left_in_new_after_a_crash_is_a_duplicate_on_the_next_run(tenant_a, tmp_path):
    raw = messages.fax_message()
    path = _maildir(tmp_path, raw)
    assert _run("--tenant", "alpha", "--maildir", str(path)) == "created 1, duplicates 0, failed 0"
    # A run killed after the commit but before the move leaves the message in new/.
    mailbox.Maildir(str(path), factory=None).add(raw)

    assert _run("--tenant", "alpha", "--maildir", str(path)) == "created 0, duplicates 1, failed 0"
    assert RecordRequest.objects.count() == 1


def test_the_command_takes_the_fax_channel_flag(tenant_a, tmp_path):
    raw = messages.build(attachments=[(messages.pdf_bytes(1), "application", "pdf", "scan.pdf")])
    path = _maildir(tmp_path, raw)
    _run("--tenant", "alpha", "--maildir", str(path), "--channel", "fax")
    assert RecordRequest.objects.get().channel == Channel.FAX


def test_the_command_refuses_an_unknown_tenant_or_a_missing_maildir(tenant_a, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No active tenant"):
        _run("--tenant", "nope", "--maildir", str(_maildir(tmp_path)))
    with pytest.raises(CommandError, match="is not a Maildir"):
        _run("--tenant", "alpha", "--maildir", str(tmp_path / "missing"))


def test_an_overlapping_run_leaves_the_maildir_to_the_first(tenant_a, tmp_path):
    import fcntl

    from intake.management.commands.ingest_maildir import LOCK_NAME

    path = _maildir(tmp_path, messages.fax_message())
    with open(path / LOCK_NAME, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert "Another ingest_maildir run" in _run("--tenant", "alpha", "--maildir", str(path))
    assert RecordRequest.objects.count() == 0
    assert len(list((path / "new").iterdir())) == 1


# --- The failed-intake page --------------------------------------------------------------------------------------

LIST_URL = "/requests/failed-intake/"


def test_staff_see_their_tenant_failed_intakes_only(client_for, alice, tenant_a, tenant_b):
    ours = failed_intake(tenant_a, messages.build(subject="Ours, unreadable", body=None))
    failed_intake(tenant_b, messages.build(subject="Theirs, unreadable", body=None))

    response = client_for(alice).get(LIST_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Ours, unreadable" in page
    assert "Theirs, unreadable" not in page
    assert f"/requests/failed-intake/{ours.pk}/raw/" in page


def test_the_raw_download_is_audited_and_tenant_scoped(client_for, alice, charlie, tenant_a):
    raw = b"\x00\x01 some bytes that are not an email"
    failed = failed_intake(tenant_a, raw)

    response = client_for(alice).get(f"/requests/failed-intake/{failed.pk}/raw/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == raw
    assert response["Content-Type"] == "message/rfc822"
    event = AccessEvent.objects.get(action=AccessAction.DOWNLOAD_DOCUMENT)
    assert (event.tenant, event.actor, event.object_id) == (tenant_a, alice, str(failed.pk))

    assert client_for(charlie).get(f"/requests/failed-intake/{failed.pk}/raw/").status_code == 404
    assert client_for(charlie).post(f"/requests/failed-intake/{failed.pk}/resolve/", {"note": "x"}).status_code == 404
    assert AccessEvent.objects.filter(actor=charlie).count() == 0


def test_mark_resolved_needs_a_note_and_records_who(client_for, alice, tenant_a):
    failed = failed_intake(tenant_a)
    client = client_for(alice)

    client.post(f"/requests/failed-intake/{failed.pk}/resolve/", {"note": "  "})
    failed.refresh_from_db()
    assert failed.resolved_at is None

    response = client.post(f"/requests/failed-intake/{failed.pk}/resolve/", {"note": "Spam, nothing to enter."})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.resolved_by, failed.resolution) == (alice, "Spam, nothing to enter.")
    assert failed.resolved_at is not None
    # Resolved rows leave the default list but stay on record.
    assert "Spam, nothing to enter." not in client.get(LIST_URL).content.decode()
    assert "Spam, nothing to enter." in client.get(LIST_URL, {"show": "all"}).content.decode()


def test_anonymous_users_are_sent_to_login_and_non_members_refused(client, tenant_a):
    failed = failed_intake(tenant_a)
    for url in (LIST_URL, f"/requests/failed-intake/{failed.pk}/raw/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    outsider = factories.UserFactory(username="outsider")
    client.force_login(outsider)
    assert client.get(LIST_URL).status_code == 403


# --- What a message says, and what is not a request -------------------------------------------------------------


def _with_headers(raw: bytes, headers: str) -> bytes:
    return headers.encode() + raw


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (_with_headers(messages.build(subject="Out of office"), "Auto-Submitted: auto-replied\r\n"), "automatic reply"),
        (messages.build(sender="MAILER-DAEMON@mail.example", subject="Undelivered Mail Returned to Sender"),
         "bounce"),
        (_with_headers(messages.build(subject="Re: records"), "X-Autoreply: yes\r\n"), "automatic reply"),
    ],
    ids=["auto-submitted", "mailer-daemon", "x-autoreply"],
)  # fmt: skip
def test_an_automatic_message_is_kept_as_failed_intake_never_a_request(tenant_a, raw, why):
    result = ingest.ingest_message(tenant=tenant_a, raw=raw)
    assert result.status == ingest.FAILED
    assert result.reason.startswith("Automatic message (")
    assert why in result.reason
    assert not RecordRequest.objects.exists()
    assert FailedIntake.objects.get().raw.read() == raw


def test_a_delivery_status_report_is_an_automatic_message(tenant_a):
    from email.message import EmailMessage

    report = EmailMessage()
    report["From"] = "Mail Delivery System <bounces@relay.example>"
    report["Subject"] = "Delivery Status Notification (Failure)"
    report["Message-ID"] = "<dsn-1@relay.example>"
    report.set_content("Your message could not be delivered.")
    status = EmailMessage()
    status.set_content("Reporting-MTA: dns; relay.example\n", subtype="plain")
    report.add_attachment(status)
    raw = bytes(report).replace(b"multipart/mixed", b'multipart/report; report-type="delivery-status"', 1)
    result = ingest.ingest_message(tenant=tenant_a, raw=raw)
    assert (result.status, "delivery or read report" in result.reason) == (ingest.FAILED, True)


def test_a_signed_message_keeps_its_signature_and_becomes_a_request(tenant_a):
    raw = messages.build(
        attachments=[
            (messages.pdf_bytes(1), "application", "pdf", "authorization.pdf"),
            (b"-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n", "application", "pgp-signature",
             "signature.asc"),
            (b"BEGIN:VCARD\nVERSION:3.0\nFN:Jane Hartley\nEND:VCARD\n", "text", "vcard", "jane.vcf"),
        ]
    )  # fmt: skip
    result = ingest.ingest_message(tenant=tenant_a, raw=raw)
    assert result.status == ingest.CREATED
    assert [d.original_name for d in IntakeDocument.objects.filter(request=result.record_request)] == [
        "authorization.pdf"
    ]
    assert "Kept with the message (not documents): signature.asc, jane.vcf." in result.record_request.scope_notes
    assert InboundMessage.objects.get(request=result.record_request).raw.read() == raw


def test_every_text_part_is_read_forwarded_messages_included(tenant_a):
    from email.message import EmailMessage

    forwarded = EmailMessage()
    forwarded["From"] = "Rosa Diaz <rosa@example.com>"
    forwarded["Subject"] = "My records"
    forwarded.set_content("Please send my lab results from March to my lawyer.")
    outer = EmailMessage()
    outer["From"] = "Jane Hartley <jhartley@hartleymoss.example>"
    outer["Subject"] = "Fwd: My records"
    outer["Message-ID"] = "<fwd-1@hartleymoss.example>"
    outer.set_content("Forwarding our client's request below.")
    outer.add_attachment(forwarded)
    result = ingest.ingest_message(tenant=tenant_a, raw=bytes(outer))
    notes = result.record_request.scope_notes
    assert "Forwarding our client's request below." in notes
    assert "Please send my lab results from March to my lawyer." in notes


def test_the_same_message_id_with_other_content_is_taken_in_and_flagged(tenant_a):
    first = ingest.ingest_message(tenant=tenant_a, raw=messages.build(message_id="<reused@mail.example>"))
    other = messages.build(message_id="<reused@mail.example>", body="A different request, for other records.")
    second = ingest.ingest_message(tenant=tenant_a, raw=other)
    assert (first.status, second.status) == (ingest.CREATED, ingest.CREATED)
    assert second.record_request != first.record_request
    assert second.record_request.scope_notes.startswith("Flag: this message reuses the Message-ID of another")
    assert "Flag:" not in first.record_request.scope_notes
    # The same message again (a retry) is still a duplicate of the one it repeats.
    assert ingest.ingest_message(tenant=tenant_a, raw=other).record_request == second.record_request


def test_staff_open_the_message_a_request_came_from_and_it_is_audited(client_for, alice, charlie, tenant_a):
    raw = messages.fax_message()
    rr = ingest.ingest_message(tenant=tenant_a, raw=raw).record_request
    url = reverse("intake:inbound-message", args=[rr.tracking_number])
    page = client_for(alice).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert url in page
    response = client_for(alice).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == raw
    assert AccessEvent.objects.filter(actor=alice, request_id=rr.pk, action=AccessAction.DOWNLOAD_DOCUMENT).exists()
    assert client_for(charlie).get(url).status_code == 404
