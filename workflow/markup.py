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
# The queue's Type column in a few words, so that a row stays one line; the full label is the cell's title.
SHORT_TYPE_LABELS = {
    RequestType.RIGHT_OF_ACCESS: "Right of access",
    RequestType.AUTHORIZATION: "Authorization",
    RequestType.LEGAL: "Subpoena/court order",
    RequestType.ACCOUNTING: "Accounting",
    RequestType.PUBLIC_HEALTH: "Public health",
    RequestType.ABUSE_NEGLECT: "Abuse/neglect report",
    RequestType.HEALTH_OVERSIGHT: "Health oversight",
    RequestType.DECEDENT: "Coroner/funeral",
    RequestType.ORGAN_DONATION: "Organ donation",
    RequestType.RESEARCH: "Research",
    RequestType.SERIOUS_THREAT: "Serious threat",
    RequestType.GOVERNMENT_FUNCTIONS: "Government functions",
}


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

    A row is one line at laptop width (app.css truncates long cells with an ellipsis; the whole text stays in the
    cell for screen readers and in its title for the mouse), so a specialist sees fifteen or more requests at once.
    The priority's first reason and the aging band are short text beside the score and the age, not a tooltip.
    `selectable` adds the tick box of the supervisor's bulk reassign form. Every text value goes through `escape`
    (the standard library's, which Django's own escape wraps); numbers and URLs built here need none."""
    detail_before, detail_after = _url_pattern("workflow:detail")
    call_before, call_after = _url_pattern("workflow:status_call")
    # The date as "M j" (Nov 27) with the month names Django's date filter uses, without a formatter per row.
    months = {month: format_date(date(2000, month, 1), "M") for month in range(1, 13)}
    out = []
    for rr in rows:
        tracking = escape(rr.tracking_number)
        reasons = rr.priority_reasons or "No urgency factors"
        why, short_why = escape(reasons), escape(reasons.split(";")[0].strip())
        select = (
            f'<td class="select"><input type="checkbox" name="requests" value="{tracking}" form="bulk-assign" '
            f'aria-label="Select {tracking}"></td>'
            if selectable
            else ""
        )
        type_label = TYPE_LABELS.get(rr.request_type, rr.request_type)
        type_text = escape(SHORT_TYPE_LABELS.get(rr.request_type, type_label))
        queue = f' <span class="muted">· {escape(rr.queue_name)}</span>' if rr.queue_id else ""
        type_title = escape(f"{type_label} · {rr.queue_name}" if rr.queue_id else type_label)
        row_class = ' class="stalled"' if rr.is_stalled else ""
        stalled = ' <span class="stalled-flag">stalled</span>' if rr.is_stalled else ""
        assignee = escape(rr.assignee_name) if rr.assignee_id else "—"
        exception = f'<span class="exception-reason">{escape(rr.exception_label)}</span>' if rr.exception_label else "—"
        # A restricted request the user may not open (workflow/break_glass.py): no patient name on the queue either.
        if getattr(rr, "patient_masked", False):
            patient = '<td data-label="Patient"><span class="muted restricted-patient">Restricted</span></td>'
        else:
            name = f"{escape(rr.patient_last_name)}, {escape(rr.patient_first_name)}"
            patient = f'<td data-label="Patient" title="{name}">{name}</td>'
        requestor = escape(rr.requestor_organization or rr.requestor_name)
        kind = escape(KIND_LABELS.get(rr.requestor_kind, rr.requestor_kind))
        out.append(
            f"<tr{row_class}>{select}"
            f'<td data-label="Priority" class="priority" title="{why}"><span class="priority-badge">'
            f'{rr.priority_score}</span> <span class="priority-why">{short_why}</span></td>'
            f'<td class="tracking"><a href="{detail_before}{tracking}{detail_after}" class="mono">{tracking}</a></td>'
            f"{patient}"
            f'<td data-label="Requestor" title="{requestor} ({kind})">{requestor} <span class="muted">({kind})</span></td>'
            f'<td data-label="Type" title="{type_title}">{type_text}{queue}</td>'
            f'<td data-label="State">{state_badge(rr)}{stalled}</td>'
            f'<td class="num" data-label="Age">{rr.age}d <span class="aging-band">{escape(rr.aging_label)}</span></td>'
            f'<td data-label="Legal due">{months[rr.legal_due_date.month]} {rr.legal_due_date.day} {due_phrase(rr)}</td>'
            f'<td data-label="Assignee" title="{assignee}">{assignee}</td>'
            f'<td data-label="Exception" title="{escape(rr.exception_label)}">{exception}</td>'
            f'<td class="actions"><button type="submit" form="quick-call" formaction="{call_before}{tracking}{call_after}" '
            'class="link" title="Log a status call: the requestor called and was given the status">Log call</button>'
            "</td></tr>"
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped
