"""Markup that a page repeats per request: the state badge, the due-date phrase and the rows of the queue table.

The queue page renders 50 to 100 rows on every visit, and in Django's template language each row cost about 0.5 ms
(a dozen includes, tags and filter lookups); built here in Python, as Django's admin builds its change list, a
row costs a few tens of microseconds. Every value is escaped as the template language would escape it.
Templates use these through the tags in workflow/templatetags/workflow_tags.py, so each piece has one source."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from html import escape
from typing import Any

from django.urls import reverse
from django.utils.dateformat import format as format_date
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from workflow.choices import STATE_COLOURS, RequestorKind, RequestState, RequestType

# Labels by stored value: a dict lookup per row instead of get_FOO_display's walk through the field's choices.
STATE_LABELS = dict(RequestState.choices)
TYPE_LABELS = dict(RequestType.choices)
KIND_LABELS = {value: label.lower() for value, label in RequestorKind.choices}


def state_badge(rr: Any) -> SafeString:
    return mark_safe(  # noqa: S308 - colour and label are our own constants
        f'<span class="badge badge-{STATE_COLOURS[rr.state]}">{escape(STATE_LABELS[rr.state])}</span>'
    )


def due_phrase(rr: Any) -> SafeString:
    """How far the legal due date is, for an open request (`days_left` set by the view): overdue, today, soon."""
    if not rr.is_open:
        return mark_safe("")
    days = rr.days_left
    if days < 0:
        return format_html('<span class="due overdue">{} day{} overdue</span>', -days, "" if days == -1 else "s")
    if days == 0:
        return mark_safe('<span class="due soon">due today</span>')
    if days <= 5:
        return format_html('<span class="due soon">in {} day{}</span>', days, "" if days == 1 else "s")
    return format_html('<span class="due">in {} days</span>', days)


def _url_pattern(name: str) -> tuple[str, str]:
    """The URL of `name` for any tracking number, split around it: one reverse() per page, not one per row.
    Tracking numbers are letters, digits and hyphens (RecordRequest.tracking_number), nothing to quote."""
    marker = "ROI-MARKER-0000"  # the shape the URL converter accepts (workflow/converters.py)
    before, after = reverse(name, args=[marker]).split(marker)
    return before, after


def queue_rows(rows: Iterable[Any], *, selectable: bool) -> SafeString:
    """The <tr> of each queue row (workflow.selectors.QueueRow, with what the view annotated: age, days_left,
    aging_label, exception_label).
    `selectable` adds the tick box of the supervisor's bulk reassign form. Every text value goes through `escape`
    (the standard library's, which Django's own escape wraps); numbers and URLs built here need none."""
    detail_before, detail_after = _url_pattern("workflow:detail")
    call_before, call_after = _url_pattern("workflow:status_call")
    # The date as "M j" (Nov 27) with the month names Django's date filter uses, without a formatter per row.
    months = {month: format_date(date(2000, month, 1), "M") for month in range(1, 13)}
    out = []
    for rr in rows:
        tracking = escape(rr.tracking_number)
        why = escape(rr.priority_reasons or "No urgency factors")
        select = (
            f'<td><input type="checkbox" name="requests" value="{tracking}" form="bulk-assign" '
            f'aria-label="Select {tracking}"></td>'
            if selectable
            else ""
        )
        queue = f'<br><span class="muted">{escape(rr.queue_name)}</span>' if rr.queue_id else ""
        row_class = ' class="stalled"' if rr.is_stalled else ""
        stalled = ' <span class="stalled-flag">stalled</span>' if rr.is_stalled else ""
        assignee = escape(rr.assignee_name) if rr.assignee_id else "—"
        exception = f'<span class="exception-reason">{escape(rr.exception_label)}</span>' if rr.exception_label else "—"
        # A restricted request the user may not open (workflow/break_glass.py): no patient name on the queue either.
        patient = (
            '<span class="muted restricted-patient">Restricted</span>'
            if getattr(rr, "patient_masked", False)
            else f"{escape(rr.patient_last_name)}, {escape(rr.patient_first_name)}"
        )
        out.append(
            f"<tr{row_class}>{select}"
            f'<td data-label="Priority"><span class="priority-badge" tabindex="0" title="{why}" '
            f'aria-describedby="why-{rr.pk}">{rr.priority_score}'
            f'<span class="priority-why" role="tooltip" id="why-{rr.pk}">{why}</span></span></td>'
            f'<td class="tracking"><a href="{detail_before}{tracking}{detail_after}" class="mono">{tracking}</a></td>'
            f'<td data-label="Patient">{patient}</td>'
            f'<td data-label="Requestor">{escape(rr.requestor_organization or rr.requestor_name)} '
            f'<span class="muted">({escape(KIND_LABELS.get(rr.requestor_kind, rr.requestor_kind))})</span></td>'
            f'<td data-label="Type">{escape(TYPE_LABELS.get(rr.request_type, rr.request_type))}{queue}</td>'
            f'<td data-label="State">{state_badge(rr)}{stalled}</td>'
            f'<td class="num" data-label="Age">{rr.age}d <span class="aging-band">{escape(rr.aging_label)}</span></td>'
            f'<td data-label="Legal due">{months[rr.legal_due_date.month]} {rr.legal_due_date.day} {due_phrase(rr)}</td>'
            f'<td data-label="Assignee">{assignee}</td>'
            f'<td data-label="Exception">{exception}</td>'
            f'<td><button type="submit" form="quick-call" formaction="{call_before}{tracking}{call_after}" '
            'class="link" title="Log a status call: the requestor called and was given the status">Log call</button>'
            "</td></tr>"
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
