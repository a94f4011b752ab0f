"""Requestor notices: the short email a requestor gets when something happens to their request (received, action
needed, extension, records sent, denied, a denial's review decided), written to the notification outbox (roi.notifications) in the transaction of
the event, so it exists exactly when the event does and is sent at least once, after commit.

Callers: intake.services (received, action needed, extension), fulfillment.delivery (sent) and
fulfillment.denial_letters (denied, denial reviewed). Each occurrence has its own dedupe key, so a retried job or a second call writes nothing new.

No PHI: an email leaves the hospital and may be read by anyone with the mailbox. The rendering context is fixed
(EVENT_FACTS and the organisation's contact details): no patient, no requestor, no record content; deficiencies that
name a sensitive category are said generically (intake.letters.requestor_safe_deficiencies). The letter with the
details stays with the office, and the signed status link (intake.status_links) opens the portal page.

Wording: English default templates (templates/intake/notices/<event>.txt and <event>.subject.txt, translatable), or
the organisation's own per event and language (RequestorMessageTemplate), rendered in the requestor's language.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from exceptions.choices import REQUESTOR_ACTION_REASONS, requestor_ask
from intake.choices import LetterKind, NoticeEvent
from intake.letters import extension_citation, requestor_safe_deficiencies
from intake.models import Letter, RequestorMessageTemplate
from intake.status_links import status_link_url
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Notification, Tenant
from roi.notifications import notify
from workflow.choices import DeliveryMethod
from workflow.deadlines import local_date
from workflow.models import RecordRequest

logger = logging.getLogger(__name__)

# What each event's email may say besides the tracking number, the organisation and the status link. A fact not
# listed here is refused: this list is the wall that keeps PHI out, whatever a template asks for.
EVENT_FACTS: dict[str, frozenset[str]] = {
    NoticeEvent.RECEIVED: frozenset({"received_on", "due_date"}),
    NoticeEvent.ACTION_NEEDED: frozenset({"deficiencies", "respond_by", "due_date"}),
    NoticeEvent.EXTENSION: frozenset({"original_due_date", "new_due_date", "reason", "extension_citation"}),
    NoticeEvent.SENT: frozenset({"sent_on", "method_phrase", "is_download", "link_expires_on", "link_uses"}),
    NoticeEvent.DENIED: frozenset({"partial", "decided_on"}),
    NoticeEvent.DENIAL_REVIEWED: frozenset({"upheld", "partial", "reviewed_on"}),
}

# Shown on the template editing page: every name a template may use.
CONTEXT_HELP: list[tuple[str, str]] = [
    ("tracking_number", "The request's tracking number"),
    ("status_link", "The signed link to the request's status page (required)"),
    ("organisation", "Your organisation's name"),
    ("department", "The records department's name"),
    ("organisation_phone", "The records department's phone (may be empty)"),
    ("organisation_email", "The records department's email (may be empty)"),
    ("organisation_address", "The records department's address (may be empty)"),
    ("received_on, due_date", "Request received: the date received, the date we must respond by (may be empty)"),
    ("deficiencies, respond_by, due_date", "Action needed: the list of what to send, the date to send it by"),
    ("original_due_date, new_due_date, reason, extension_citation", "Extension: the dates, the reason, the rule"),
    ("sent_on, method_phrase, is_download, link_expires_on, link_uses", "Records sent: how; for a download, until"),
    ("partial, decided_on", "Denied: whether in part, and the date of the decision"),
    ("upheld, partial, reviewed_on", "Review of a denial decided: whether the denial stands, whether in part, when"),
]

METHOD_PHRASES = {
    DeliveryMethod.PORTAL_DOWNLOAD: _("as a secure download"),
    DeliveryMethod.EMAIL_LINK: _("as a secure download"),
    DeliveryMethod.FAX: _("by fax"),
    DeliveryMethod.MAIL: _("by mail"),
    DeliveryMethod.PICKUP: _("for pickup at our office"),
    DeliveryMethod.UNENCRYPTED_EMAIL: _("by email, without encryption, as you asked"),
}

# Organisations' templates: plain text (no HTML escaping), no loaders (nothing to include or extend), and only the
# tags that shape text. {% load %}, {% include %}, {% debug %} and the like could reach past the fixed context.
_ENGINE = Engine(autoescape=False)
_ALLOWED_TAGS = frozenset(
    {
        "if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "firstof", "comment",
        "endcomment", "spaceless", "endspaceless", "filter", "endfilter", "now", "cycle",
    }
)  # fmt: skip
_TAG = re.compile(r"{%-?\s*(\w+)")
_STATUS_LINK = re.compile(r"{{\s*status_link\s*}}")


# --- Templates --------------------------------------------------------------------------------------------------


def template_problems(*, subject: str, body: str) -> dict[str, str]:
    """Why an organisation's template cannot be used ({field: message}), or {} when it can."""
    problems: dict[str, str] = {}
    for field, text in (("subject", subject), ("body", body)):
        tags = sorted({tag for tag in _TAG.findall(text) if tag not in _ALLOWED_TAGS})
        if tags:
            problems[field] = (
                f"The tag{'s' if len(tags) > 1 else ''} {', '.join(tags)} cannot be used in a message; use "
                "{{ name }} for values, and if/for for choices and lists."
            )
            continue
        try:
            _ENGINE.from_string(text)
        except TemplateSyntaxError as error:
            problems[field] = f"This does not work as a template: {error}. Check the {{{{ }}}} and {{% %}} pairs."
    if not subject.strip():
        problems.setdefault("subject", "Give the email a subject.")
    if "body" not in problems and not _STATUS_LINK.search(body):
        problems["body"] = (
            "The message must contain {{ status_link }}: it is how the requestor opens their request's status page."
        )
    return problems


def _render_custom(subject: str, body: str, context: dict[str, Any]) -> tuple[str, str]:
    return (
        _ENGINE.from_string(subject).render(Context(context)),
        _ENGINE.from_string(body).render(Context(context)),
    )


def _render_default(event: str, context: dict[str, Any]) -> tuple[str, str]:
    return (
        render_to_string(f"intake/notices/{event}.subject.txt", context),
        render_to_string(f"intake/notices/{event}.txt", context),
    )


def notice_render(*, tenant: Tenant, event: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) in `language`: the organisation's active template for the event and language, else the
    default. A template that fails at render time (it compiled when saved) falls back to the default, logged: the
    requestor still hears from us."""
    with translation.override(language):
        custom = (
            RequestorMessageTemplate.objects.for_tenant(tenant)
            .filter(event=event, language=language, is_active=True)
            .first()
        )
        rendered = None
        if custom is not None:
            try:
                rendered = _render_custom(custom.subject, custom.body, context)
            except Exception:  # any template error: the default wording goes out instead
                logger.exception("Requestor template %s of tenant %s failed; default used", custom.pk, tenant.pk)
        subject, body = rendered or _render_default(event, context)
    return " ".join(subject.split())[:200], body.strip() + "\n"


def _base_context(tenant: Tenant, tracking_number: str) -> dict[str, Any]:
    return {
        "tracking_number": tracking_number,
        "status_link": status_link_url(tracking_number),
        "organisation": tenant.name,
        "department": tenant.him_department_name,
        "organisation_phone": tenant.him_phone,
        "organisation_email": tenant.him_email,
        "organisation_address": tenant.him_address,
    }


def _event_context(event: str, facts: dict[str, Any]) -> dict[str, Any]:
    unknown = set(facts) - EVENT_FACTS[event]
    if unknown:
        raise ServiceError(f"A {event} notice does not carry {', '.join(sorted(unknown))}.")
    context: dict[str, Any] = dict.fromkeys(EVENT_FACTS[event])
    context.update(facts)
    if event == NoticeEvent.ACTION_NEEDED:
        context["deficiencies"] = [
            str(item["message"]) for item in requestor_safe_deficiencies(list(facts.get("deficiencies") or []))
        ]
    if event == NoticeEvent.SENT:
        # Kept lazy: it is translated when the template renders, inside the requestor's language.
        context["method_phrase"] = context["method_phrase"] or ""
    return context


# --- Writing a notice --------------------------------------------------------------------------------------------


def dedupe_key(*, record_request: RecordRequest, event: str, occurrence: str | int = "") -> str:
    """One email per request for `received` and `extension` (there is only one of each); per letter, delivery or
    denial for the others (`occurrence`)."""
    return f"requestor:{record_request.pk}:{event}" + (f":{occurrence}" if occurrence != "" else "")


def requestor_notify(
    *,
    tenant: Tenant,
    record_request: RecordRequest,
    event: str,
    facts: dict[str, Any] | None = None,
    occurrence: str | int = "",
) -> Notification | None:
    """Write the requestor's email about `event` into the outbox, in the caller's transaction, once per occurrence
    (a repeat returns the row already written). None when the requestor gave no email address."""
    if record_request.tenant_id != tenant.pk:
        raise ServiceError("Request not found.")
    if event not in EVENT_FACTS:
        raise ServiceError(f"Unknown notice {event!r}.")
    requestor = record_request.requestor
    if not requestor.email:
        return None
    context = {**_base_context(tenant, record_request.tracking_number), **_event_context(event, facts or {})}
    subject, body = notice_render(tenant=tenant, event=event, language=requestor.language or "en", context=context)
    return notify(
        tenant=tenant,
        email_to=requestor.email,
        kind=f"requestor_{event}",
        subject=subject,
        body=body,
        dedupe_key=dedupe_key(record_request=record_request, event=event, occurrence=occurrence),
    )


LETTER_EVENTS = {
    LetterKind.ACKNOWLEDGMENT: NoticeEvent.RECEIVED,
    LetterKind.DEFICIENCY: NoticeEvent.ACTION_NEEDED,
    LetterKind.EXTENSION: NoticeEvent.EXTENSION,
    LetterKind.DENIAL: NoticeEvent.DENIED,
    LetterKind.DENIAL_REVIEW: NoticeEvent.DENIAL_REVIEWED,
}


def letter_notify(
    *, tenant: Tenant, letter: Letter, facts: dict[str, Any], occurrence: str | int = ""
) -> Notification | None:
    """The notice that tells the requestor about a letter, linked from the letter so the request page shows whether
    it was emailed."""
    notification = requestor_notify(
        tenant=tenant,
        record_request=letter.request,
        event=LETTER_EVENTS[letter.kind],
        facts=facts,
        occurrence=occurrence,
    )
    if notification is not None:
        Letter.objects.for_tenant(tenant).filter(pk=letter.pk).update(notification=notification)
        letter.notification = notification
    return notification


# --- Organisation templates: save, reset, preview -----------------------------------------------------------------


def message_template_save(
    *, tenant: Tenant, actor: Any, event: str, language: str, subject: str, body: str, is_active: bool = True
) -> RequestorMessageTemplate:
    """Save the organisation's wording for one event and language; refused (with what to fix) when it would not
    render or has no status link."""
    if event not in EVENT_FACTS:
        raise ServiceError("Choose one of the messages listed.", field="event")
    if language not in dict(settings.LANGUAGES):
        raise ServiceError("Choose one of the languages listed.", field="language")
    subject, body = (subject or "").strip(), (body or "").replace("\r\n", "\n").strip()
    problems = template_problems(subject=subject, body=body)
    if problems:
        field, message = next(iter(problems.items()))
        raise ServiceError(message, field=field)
    with transaction.atomic():
        template = (
            RequestorMessageTemplate.objects.for_tenant(tenant)
            .select_for_update()
            .filter(event=event, language=language)
            .first()
        ) or RequestorMessageTemplate(tenant=tenant, event=event, language=language)
        template.subject, template.body, template.is_active = subject, body, is_active
        history_stamp(template, actor)
        template.save()
    return template


def message_template_reset(*, tenant: Tenant, actor: Any, event: str, language: str) -> bool:
    """Go back to the default wording: the organisation's template is removed (its history keeps what it said).
    Returns whether there was one."""
    with transaction.atomic():
        template = RequestorMessageTemplate.objects.for_tenant(tenant).filter(event=event, language=language).first()
        if template is None:
            return False
        history_stamp(template, actor)
        template.delete()
    return True


# A starting point for an organisation's own wording: plain text with the names of CONTEXT_HELP.
STARTER_SUBJECTS = {
    NoticeEvent.RECEIVED: "We received your records request {{ tracking_number }}",
    NoticeEvent.ACTION_NEEDED: "Action needed on your records request {{ tracking_number }}",
    NoticeEvent.EXTENSION: "New completion date for your records request {{ tracking_number }}",
    NoticeEvent.SENT: "Your records request {{ tracking_number }}: records sent",
    NoticeEvent.DENIED: "A decision on your records request {{ tracking_number }}",
    NoticeEvent.DENIAL_REVIEWED: "The review of our decision on your records request {{ tracking_number }}",
}
STARTER_LINES = {
    NoticeEvent.RECEIVED: '{{ organisation }} received your request for health records on {{ received_on|date:"F j, Y" }}.'
    '{% if due_date %} We will respond no later than {{ due_date|date:"F j, Y" }}.{% endif %}',
    NoticeEvent.ACTION_NEEDED: "We need more information before we can process your request:\n"
    "{% for message in deficiencies %}\n- {{ message }}{% endfor %}\n\n"
    'Please send it by {{ respond_by|date:"F j, Y" }}.',
    NoticeEvent.EXTENSION: 'We now expect to complete your request by {{ new_due_date|date:"F j, Y" }} '
    '(it was due {{ original_due_date|date:"F j, Y" }}). Why: {{ reason }}',
    NoticeEvent.SENT: "{% if is_download %}Your records are ready: open the status page below, confirm it is you and "
    'download them until {{ link_expires_on|date:"F j, Y" }}.{% else %}We sent your records on '
    '{{ sent_on|date:"F j, Y" }} {{ method_phrase }}.{% endif %}',
    NoticeEvent.DENIED: "We have made a decision on your request: we cannot release {% if partial %}part of {% endif %}"
    "the records you asked for. Our letter explains why and what you can do.",
    NoticeEvent.DENIAL_REVIEWED: "The review you asked for is complete: {% if upheld %}the reviewer agreed with our "
    "decision not to release {% if partial %}part of {% endif %}the records{% else %}the reviewer decided that the "
    "records we withheld will be released to you{% endif %}. Our letter explains what happens next.",
}


def starter_text(event: str) -> tuple[str, str]:
    body = (
        "Hello,\n\n" + STARTER_LINES[event] + "\n\nYour tracking number is {{ tracking_number }}. See your request's "
        "status page:\n{{ status_link }}\n\nQuestions? Call {{ department }} at {{ organisation_phone }}.\n\n"
        "{{ department }}\n{{ organisation }}\n"
    )
    return STARTER_SUBJECTS[event], body


def sample_facts(tenant: Tenant, event: str) -> dict[str, Any]:
    """Made-up facts for previews: what a real notice of this event would carry."""
    today = local_date(clock.now(), tenant)
    samples: dict[str, Any] = {
        "received_on": today,
        "due_date": today + timedelta(days=30),
        "deficiencies": [{"code": "SAMPLE", "message": "Sign and date the authorization form."}],
        "respond_by": today + timedelta(days=14),
        "original_due_date": today + timedelta(days=30),
        "new_due_date": today + timedelta(days=60),
        "reason": "Some records are kept at an off-site storage facility.",
        "extension_citation": "45 CFR 164.524(b)(2)(ii)",
        "sent_on": today,
        "method_phrase": METHOD_PHRASES[DeliveryMethod.PORTAL_DOWNLOAD],
        "is_download": True,
        "link_expires_on": today + timedelta(days=14),
        "link_uses": 3,
        "partial": False,
        "decided_on": today,
        "upheld": True,
        "reviewed_on": today,
    }
    return {key: samples[key] for key in EVENT_FACTS[event]}


def message_preview(
    *, tenant: Tenant, event: str, language: str, subject: str | None = None, body: str | None = None
) -> tuple[str, str]:
    """What the email would say with sample facts: the given (unsaved) wording, else what is in use."""
    context = {**_base_context(tenant, "ROI-7KQ2-M4XD-9PTA"), **_event_context(event, sample_facts(tenant, event))}
    if subject is None or body is None:
        return notice_render(tenant=tenant, event=event, language=language, context=context)
    with translation.override(language):
        rendered_subject, rendered_body = _render_custom(subject, body, context)
    return " ".join(rendered_subject.split())[:200], rendered_body.strip() + "\n"


def extension_facts(record_request: RecordRequest, *, original: date, new: date, reason: str) -> dict[str, Any]:
    return {
        "original_due_date": original,
        "new_due_date": new,
        "reason": reason,
        "extension_citation": extension_citation(record_request),
    }


def on_exception_opened(
    *,
    tenant: Tenant,
    episode: Any,
    record_request: RecordRequest,
    occurrence: str = "",
    lettered: bool = False,
    **_: Any,
) -> None:
    """An exception that waits on the requestor (missing ID, unclear scope, an authorization the patient revoked)
    gets its "action needed" email, in the same transaction. The checklist's exceptions get theirs with the
    deficiency letter instead (`lettered`), which lists each item."""
    if episode.reason not in REQUESTOR_ACTION_REASONS or lettered:
        return
    requestor_notify(
        tenant=tenant,
        record_request=record_request,
        event=NoticeEvent.ACTION_NEEDED,
        facts={
            "deficiencies": [{"code": f"EXCEPTION_{episode.reason}".upper(), "message": requestor_ask(episode.reason)}],
            "due_date": record_request.legal_due_date,
        },
        occurrence=occurrence or f"episode-{episode.pk}",
    )
