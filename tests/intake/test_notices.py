"""Requestor notices (intake/notices.py): one outbox row per event occurrence, in the requestor's language, with the
signed status link and no PHI; organisations' own wording, refused when it cannot work; and the outbox sending them
at least once, never twice for one row."""

from __future__ import annotations

import re
from datetime import date
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils.formats import date_format

from intake import notices, services
from intake.choices import NoticeEvent
from intake.models import Letter, RequestorMessageTemplate
from intake.status_links import status_link_read
from roi.errors import ServiceError
from roi.models import Notification
from roi.notifications import notifications_send_pending
from tests import factories
from tests.intake.helpers import COMPLETE_AUTHORIZATION, receive
from workflow.choices import RequestType

pytestmark = pytest.mark.usefixtures("_setup")

PATIENT = {"mrn": "MRN-884213", "first_name": "Marisol", "last_name": "Quintanilla", "date_of_birth": date(1968, 4, 12)}
PHI = ("Marisol", "Quintanilla", "MRN-884213", "1968", "April 12", "Jonathan Whitfield")


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def _setup(settings, tmp_path, tenant_a):
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = "https://records.alpha.example.org"
    tenant_a.him_phone = "(415) 555-0142"
    tenant_a.him_email = "roi@alpha.example.org"
    tenant_a.save()


def _requestor(language: str = "en", **extra) -> dict:
    return {"kind": "patient", "name": "Jonathan Whitfield", "email": "jw@example.com", "language": language, **extra}


def _only_notice(rr, event: str) -> Notification:
    rows = list(Notification.objects.filter(kind=f"requestor_{event}", dedupe_key__startswith=f"requestor:{rr.pk}:"))
    assert len(rows) == 1, rows
    return rows[0]


def _assert_safe(rr, notice: Notification) -> None:
    whole = f"{notice.subject}\n{notice.body}"
    for phi in PHI:
        assert phi not in whole
    assert rr.tracking_number in notice.subject
    assert notice.email_to == "jw@example.com"
    assert notice.recipient is None
    assert "(415) 555-0142" in notice.body
    link = next(word for word in notice.body.split() if word.startswith("https://records.alpha.example.org/status/"))
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert status_link_read(token) == rr.tracking_number


def test_receiving_a_request_writes_one_received_notice_linked_from_the_letter(tenant_a, alice):
    rr = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor())
    notice = _only_notice(rr, NoticeEvent.RECEIVED)
    _assert_safe(rr, notice)
    assert "We will respond no later than" in notice.body
    letter = Letter.objects.get(request=rr, kind="acknowledgment")
    assert letter.notification == notice


def test_an_ingested_request_is_acknowledged_by_email_at_once_and_only_once(tenant_a, alice):
    rr = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor(), acknowledge=False)
    notice = _only_notice(rr, NoticeEvent.RECEIVED)
    _assert_safe(rr, notice)
    assert "no later than" not in notice.body  # the type, and so the due date, may still change
    # The letter that follows once staff identify the patient points at the same notice: no second email.
    letter = services._acknowledge(
        tenant=tenant_a, actor=alice, record_request=rr, due=services.deadlines.due_date_for(
            tenant=tenant_a, request_type=rr.request_type, requestor_kind=rr.requestor.kind, received_at=rr.received_at
        ),
    )  # fmt: skip
    assert _only_notice(rr, NoticeEvent.RECEIVED) == notice
    assert letter.notification == notice


def test_a_deficiency_writes_one_action_needed_notice_per_letter(tenant_a, alice):
    rr = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor(), acknowledge=False)
    answers = {**COMPLETE_AUTHORIZATION, "auth_states_purpose": False}
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **answers)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    notice = _only_notice(rr, NoticeEvent.ACTION_NEEDED)
    _assert_safe(rr, notice)
    assert outcome.letter.summary["deficiencies"][0]["message"] in notice.body
    assert notice.dedupe_key.endswith(f"letter-{outcome.letter.pk}")
    # A retried job writing the same occurrence gets the same row back.
    again = notices.letter_notify(
        tenant=tenant_a,
        letter=outcome.letter,
        facts={"deficiencies": outcome.letter.summary["deficiencies"]},
        occurrence=f"letter-{outcome.letter.pk}",
    )
    assert again == notice
    assert _only_notice(rr, NoticeEvent.ACTION_NEEDED) == notice


def test_a_sensitive_deficiency_is_said_generically(tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="jw@example.com")
    notice = notices.requestor_notify(
        tenant=tenant_a,
        record_request=rr,
        event=NoticeEvent.ACTION_NEEDED,
        facts={
            "deficiencies": [
                {"code": "CONSENT_MISSING_HIV", "message": "The request includes hiv/aids test results."},
                {"code": "CONSENT_MISSING_SUD_PART2", "message": "The request includes substance use records."},
                {"code": "AUTH_NO_PURPOSE", "message": "The authorization form is missing the purpose."},
            ]
        },
        occurrence="letter-1",
    )
    # The status link's random token is left out: it may spell "hiv" by chance.
    body = re.sub(r"https?://\S+", "<link>", notice.body.lower())
    assert "hiv" not in body
    assert "substance" not in body
    assert body.count("specific written consent") == 1
    assert "missing the purpose" in body


def test_an_extension_writes_one_notice_with_the_new_date_and_reason(tenant_a):
    tenant = factories.TenantFactory(
        slug="illinois", jurisdiction="IL", timezone="America/Chicago", him_phone="(415) 555-0142"
    )
    user = factories.MembershipFactory(tenant=tenant, user__username="ivy").user
    rr = receive(tenant, user, acknowledge=False, request_type=RequestType.RIGHT_OF_ACCESS, patient_data=PATIENT,
                  requestor_data=_requestor())  # fmt: skip
    services.extension_grant(tenant=tenant, actor=user, record_request=rr, reason="Records in off-site storage")
    rr.refresh_from_db()
    notice = _only_notice(rr, NoticeEvent.EXTENSION)
    _assert_safe(rr, notice)
    assert "Records in off-site storage" in notice.body
    assert date_format(rr.legal_due_date) in notice.body  # the locale's date format, as on the portal
    assert "45 CFR 164.524(b)(2)(ii)" in notice.body


def test_a_spanish_speaking_requestor_gets_the_spanish_wording_and_dates(tenant_a, alice):
    RequestorMessageTemplate.objects.create(
        tenant=tenant_a, event=NoticeEvent.RECEIVED, language="es",
        subject="Recibimos su solicitud {{ tracking_number }}",
        body="Recibimos su solicitud el {{ received_on|date:'j \\d\\e F' }}. Estado: {{ status_link }}",
    )  # fmt: skip
    rr_es = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor("es"))
    rr_en = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor("en", email="en@example.com"),
                     request_type=RequestType.RIGHT_OF_ACCESS)  # fmt: skip
    spanish = _only_notice(rr_es, NoticeEvent.RECEIVED)
    assert spanish.subject == f"Recibimos su solicitud {rr_es.tracking_number}"
    months = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
              "noviembre", "diciembre")  # fmt: skip
    assert any(f" de {month}." in spanish.body for month in months)  # Django's Spanish month names
    english = _only_notice(rr_en, NoticeEvent.RECEIVED)
    assert english.subject.startswith("We received your records request")


def test_an_organisation_template_overrides_the_default_until_reset(tenant_a, ada):
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="jw@example.com")
    notices.message_template_save(
        tenant=tenant_a, actor=ada, event=NoticeEvent.DENIED, language="en",
        subject="Decision on {{ tracking_number }}",
        body="{% if partial %}Part of it{% else %}All of it{% endif %}: see {{ status_link }} or call {{ organisation_phone }}.",
    )  # fmt: skip
    notice = notices.requestor_notify(
        tenant=tenant_a, record_request=rr, event=NoticeEvent.DENIED, facts={"partial": True}, occurrence="denial-1"
    )
    assert notice.subject == f"Decision on {rr.tracking_number}"
    assert notice.body.startswith("Part of it: see https://records.alpha.example.org/status/link/")
    assert "(415) 555-0142" in notice.body
    template = RequestorMessageTemplate.objects.get(tenant=tenant_a)
    assert template.history.first().history_user == ada
    assert notices.message_template_reset(tenant=tenant_a, actor=ada, event=NoticeEvent.DENIED, language="en")
    default = notices.requestor_notify(
        tenant=tenant_a, record_request=rr, event=NoticeEvent.DENIED, facts={"partial": True}, occurrence="denial-2"
    )
    assert default.subject == f"A decision on your records request {rr.tracking_number}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Your request {{ tracking_number }} is ready.", "must contain {{ status_link }}"),
        ("{% if partial %}Open {{ status_link }}", "does not work as a template"),
        ("{{ status_link }} {% include 'base.html' %}", "The tag include cannot be used"),
        ("{% load static %}{{ status_link }}", "The tag load cannot be used"),
    ],
    ids=["no-status-link", "unclosed-if", "include", "load"],
)
def test_a_template_that_cannot_work_is_refused_with_what_to_fix(tenant_a, ada, body, message):
    with pytest.raises(ServiceError) as error:
        notices.message_template_save(
            tenant=tenant_a, actor=ada, event=NoticeEvent.SENT, language="en", subject="Sent", body=body
        )
    assert message in error.value.message
    assert error.value.field == "body"
    assert not RequestorMessageTemplate.objects.exists()


@pytest.mark.parametrize("upheld", [True, False], ids=["upheld", "overturned"])
def test_a_denial_review_notice_says_whether_the_denial_stands_and_nothing_more(tenant_a, upheld):
    """45 CFR 164.524(d)(4): the requestor is told that the review's written outcome exists; the facts are the
    outcome, whether the denial was in part and the date, nothing about the records or who reviewed them."""
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="jw@example.com")
    notice = notices.requestor_notify(
        tenant=tenant_a,
        record_request=rr,
        event=NoticeEvent.DENIAL_REVIEWED,
        facts={"upheld": upheld, "partial": True, "reviewed_on": date(2026, 3, 2)},
        occurrence="denial-review-1",
    )
    _assert_safe(rr, notice)
    assert notice.kind == "requestor_denial_reviewed"
    assert "The review was completed on March 2, 2026" in notice.body
    if upheld:
        assert "we still cannot release that part of the records" in notice.body
    else:
        assert "should be released to you" in notice.body
    with pytest.raises(ServiceError, match="does not carry reviewer"):
        notices.requestor_notify(
            tenant=tenant_a, record_request=rr, event=NoticeEvent.DENIAL_REVIEWED, facts={"reviewer": "Dr. Rivera"}
        )


@pytest.mark.parametrize("event", list(NoticeEvent))
def test_every_event_has_a_default_wording_a_starter_and_a_preview(tenant_a, event):
    """What the wording page needs for each event: a default in English and Spanish, a starting point for the
    organisation's own, and sample facts for the preview."""
    for language in ("en", "es"):
        subject, body = notices.message_preview(tenant=tenant_a, event=event, language=language)
        assert "ROI-7KQ2-M4XD-9PTA" in subject
        assert "https://records.alpha.example.org/status/link/" in body
    subject, body = notices.starter_text(event)
    assert notices.template_problems(subject=subject, body=body) == {}


def test_a_notice_refuses_facts_outside_its_fixed_context(tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="jw@example.com")
    with pytest.raises(ServiceError, match="does not carry patient_name"):
        notices.requestor_notify(
            tenant=tenant_a, record_request=rr, event=NoticeEvent.RECEIVED, facts={"patient_name": "Marisol"}
        )
    assert not Notification.objects.exists()


def test_no_address_no_notice(tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="")
    assert notices.requestor_notify(tenant=tenant_a, record_request=rr, event=NoticeEvent.RECEIVED) is None
    assert not Notification.objects.exists()


def test_the_outbox_retries_a_failed_notice_and_never_sends_it_twice(tenant_a, alice, settings):
    rr = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor())
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    assert notifications_send_pending() == 0
    notice = _only_notice(rr, NoticeEvent.RECEIVED)
    assert (notice.attempts, notice.emailed_at) == (1, None)
    assert "unexpectedly closed" in notice.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_send_pending() == 1
    assert notifications_send_pending() == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jw@example.com"]
    assert message.reply_to == ["roi@alpha.example.org"]
    assert message.extra_headers["Message-ID"].startswith(f"<notification-{notice.pk}@")
    assert message.attachments == []


# --- The page ------------------------------------------------------------------------------------------------------


@pytest.fixture
def ada(tenant_a):
    from roi.choices import Role

    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


def _edit_url(event: str = NoticeEvent.SENT, language: str = "en") -> str:
    return f"{reverse('intake:message-edit')}?event={event}&language={language}"


def test_admins_list_preview_save_and_reset_the_wording(client_for, ada, tenant_a):
    client = client_for(ada)
    listing = client.get(reverse("intake:messages"))
    assert listing.status_code == 200
    assert _edit_url().replace("&", "&amp;") in listing.content.decode()
    page = client.get(_edit_url())
    assert page.status_code == 200
    assert "{{ status_link }}" in page.content.decode()  # the starter text
    data = {"event": "sent", "language": "en", "subject": "Sent {{ tracking_number }}", "is_active": "on",
            "body": "Records for {{ tracking_number }}: {{ status_link }}"}  # fmt: skip
    preview = client.post(reverse("intake:message-edit"), {**data, "action": "preview"})
    assert "Records for ROI-7KQ2-M4XD-9PTA: https://records.alpha.example.org/status/link/" in preview.content.decode()
    assert not RequestorMessageTemplate.objects.exists()
    assert client.post(reverse("intake:message-edit"), {**data, "action": "save"}).status_code == 302
    assert RequestorMessageTemplate.objects.get(tenant=tenant_a).subject == "Sent {{ tracking_number }}"
    refused = client.post(reverse("intake:message-edit"), {**data, "body": "No link", "action": "save"})
    assert refused.status_code == 400
    assert "must contain {{ status_link }}" in refused.content.decode()
    assert RequestorMessageTemplate.objects.get(tenant=tenant_a).body.startswith("Records for")
    reset = client.post(reverse("intake:message-edit"), {"event": "sent", "language": "en", "action": "reset"})
    assert reset.status_code == 302
    assert not RequestorMessageTemplate.objects.exists()


def test_the_wording_pages_are_for_admins_of_the_tenant(client_for, sam, alice, charlie, ada):
    for user in (sam, alice):
        assert client_for(user).get(reverse("intake:messages")).status_code == 403
        assert client_for(user).get(_edit_url()).status_code == 403
    RequestorMessageTemplate.objects.create(
        tenant=ada.memberships.first().tenant, event="sent", language="en", subject="Ours", body="{{ status_link }}"
    )
    boss_b = factories.MembershipFactory(
        tenant=charlie.memberships.first().tenant, user__username="bea", role="admin"
    ).user
    page = client_for(boss_b).get(_edit_url()).content.decode()
    assert "Ours" not in page
    assert client_for(ada).get(f"{reverse('intake:message-edit')}?event=nope&language=en").status_code == 404


def test_the_request_page_shows_whether_each_letters_email_went_out(client_for, tenant_a, alice, settings):
    rr = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor())
    url = reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all"  # the intake panel in place
    assert "email to jw@example.com queued" in client_for(alice).get(url).content.decode()
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    notifications_send_pending()
    assert "not sent after 1 attempt: Connection unexpectedly closed" in client_for(alice).get(url).content.decode()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notifications_send_pending()
    assert "emailed to jw@example.com" in client_for(alice).get(url).content.decode()


def test_an_exception_opened_by_hand_that_waits_on_the_requestor_emails_what_to_send(tenant_a, alice):
    """Staff open "identity not verified" from the request page: the requestor is told what to send, once per
    episode, in the same transaction; an exception that waits on us (imaging) tells the requestor nothing."""
    from datetime import timedelta

    from exceptions.services import exception_open, exception_resolve

    rr = receive(tenant_a, alice, patient_data=PATIENT, requestor_data=_requestor(), acknowledge=False)
    due = date.today() + timedelta(days=7)
    episode = exception_open(
        tenant=tenant_a, actor=alice, record_request=rr, reason="identity_not_verified",
        detail="ID copy unreadable (staff note)", next_step="Ask for a clearer ID", next_action_due=due,
    )  # fmt: skip
    notice = _only_notice(rr, NoticeEvent.ACTION_NEEDED)
    _assert_safe(rr, notice)
    assert "Please send a copy of a photo ID" in notice.body
    assert "staff note" not in notice.body
    assert notice.dedupe_key.endswith(f"episode-{episode.pk}")
    exception_resolve(tenant=tenant_a, actor=alice, record_request=rr, resolution="ID received")
    rr.refresh_from_db()
    exception_open(
        tenant=tenant_a, actor=alice, record_request=rr, reason="awaiting_department",
        detail="Imaging", next_step="Chase imaging", next_action_due=due,
    )  # fmt: skip
    assert Notification.objects.filter(kind="requestor_action_needed").count() == 1
