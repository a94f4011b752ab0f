"""The queue's filters and the supervisor's bulk reassignment."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import QueryDict

from roi import widgets
from workflow.choices import Channel, RequestorKind, RequestState, RequestType
from workflow.extensions import activities
from workflow.selectors import DEFAULT_QUEUE_SORT, EXCEPTION_ANY, queue_sort_names

# The exceptions app sits above workflow and owns the reasons' vocabulary; it registers the labels here (its
# AppConfig.ready()) so the queue can offer them without workflow importing it. Unregistered values still filter
# and display (humanised), so the queue works before or without the registration.
EXCEPTION_REASON_LABELS: dict[str, str] = {}


def register_exception_reasons(choices: list[tuple[str, str]]) -> None:
    EXCEPTION_REASON_LABELS.update(dict(choices))


def exception_reason_label(value: str) -> str:
    return EXCEPTION_REASON_LABELS.get(value) or value.replace("_", " ").capitalize()


# Every sort of workflow.selectors.QUEUE_SORTS, both ways, as the Sort select names them; the column headers sort
# the same way (SORT_COLUMNS).
SORT_CHOICES = [
    ("priority", "Priority, highest first"),
    ("-priority", "Priority, lowest first"),
    ("due", "Legal due date, soonest first"),
    ("-due", "Legal due date, latest first"),
    ("age", "Age, oldest first"),
    ("-age", "Age, newest first"),
    ("type", "Type, A to Z"),
    ("-type", "Type, Z to A"),
    # Not "State, ...": the filter bar's labels wrap their selects, so the word would also name this one.
    ("state", "Status, A to Z"),
    ("-state", "Status, Z to A"),
]
# The sort each sortable column header gives on its first click, with the aria-sort the column then has: a
# column's natural order (highest priority, oldest first) is where a specialist starts; a second click reverses it.
SORT_COLUMNS = {
    "priority": ("priority", "descending"),
    "type": ("type", "ascending"),
    "state": ("state", "ascending"),
    "age": ("age", "descending"),  # oldest first: the most days first
    "due": ("due", "ascending"),
}

QUEUE_PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_QUEUE_PAGE_SIZE = 50


def choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    """A form's choice field, whose choices are set when the form is made (from the tenant's staff, queues...)."""
    return cast(forms.ChoiceField, form.fields[name])


class QueueFilterForm(forms.Form):
    ASSIGNEE_ME = "me"
    ASSIGNEE_NONE = "none"
    QUEUE_NONE = "none"
    OPEN = "open"

    # Staff open the queue to find work to do, so it shows open requests unless asked otherwise.
    state = forms.ChoiceField(
        choices=[(OPEN, "Open (work to do)"), ("", "Any state"), *RequestState.choices],
        required=False,
        widget=widgets.Select,
    )
    queue = forms.ChoiceField(required=False, widget=widgets.Select)
    assignee = forms.ChoiceField(required=False, widget=widgets.Select)
    aging_band = forms.ChoiceField(label="Aging", required=False, widget=widgets.Select)
    request_type = forms.ChoiceField(
        label="Type", choices=[("", "Any type"), *RequestType.choices], required=False, widget=widgets.Select
    )
    requestor_kind = forms.ChoiceField(
        label="Requestor",
        choices=[("", "Any requestor"), *RequestorKind.choices],
        required=False,
        widget=widgets.Select,
    )
    due_within = forms.IntegerField(
        label="Due within (days)", min_value=0, max_value=365, required=False, widget=widgets.NumberInput
    )
    overdue = forms.BooleanField(label="Overdue", required=False, widget=widgets.CheckboxInput)
    exception = forms.CharField(label="Exception", required=False, max_length=40)
    stalled = forms.BooleanField(label="Stalled", required=False, widget=widgets.CheckboxInput)
    channel = forms.ChoiceField(
        label="Channel", choices=[("", "Any channel"), *Channel.choices], required=False, widget=widgets.Select
    )
    # "Requests with <activity> between two days": what the dashboard's figures link to (workflow/extensions.py).
    activity = forms.ChoiceField(label="Activity", required=False, widget=widgets.Select)
    activity_from = forms.DateField(label="From", required=False, widget=widgets.DateInput)
    activity_to = forms.DateField(label="To", required=False, widget=widgets.DateInput)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False, widget=widgets.Select)
    size = forms.TypedChoiceField(
        label="Rows",
        choices=[(n, n) for n in QUEUE_PAGE_SIZES],
        coerce=int,
        required=False,
        empty_value=None,
        widget=widgets.Select,
    )

    def __init__(self, *args: Any, staff: list[Any], queues: list[Any], band_labels: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "assignee").choices = [
            ("", "Anyone"),
            (self.ASSIGNEE_ME, "Assigned to me"),
            (self.ASSIGNEE_NONE, "Unassigned"),
            *[(str(m.user_id), str(m.user)) for m in staff],
        ]
        choice_field(self, "queue").choices = [
            ("", "All queues"),
            (self.QUEUE_NONE, "In no queue"),
            *[(str(q.pk), q.name if q.is_active else f"{q.name} (inactive)") for q in queues],
        ]
        choice_field(self, "aging_band").choices = [
            ("", "Any age"),
            *[(str(i), f"{label} days") for i, label in enumerate(band_labels)],
        ]
        choice_field(self, "activity").choices = [("", "Any activity"), *[(a.name, a.label) for a in activities()]]
        reasons = sorted(EXCEPTION_REASON_LABELS.items(), key=lambda item: item[1])
        self.exception_choices = [("", "Any or none"), (EXCEPTION_ANY, "In exception (any reason)"), *reasons]
        self.fields["exception"].widget = widgets.Select(choices=self.exception_choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("activity_from"), data.get("activity_to")
        if first and last and first > last:
            self.add_error("activity_to", "The 'To' day is before the 'From' day: swap them.")
        if (first or last) and not data.get("activity"):
            self.add_error("activity", "Choose the activity the days apply to (received, delivered, ...).")
        return data

    def clean_sort(self) -> str:
        sort = self.cleaned_data.get("sort")
        return sort if sort in queue_sort_names() else DEFAULT_QUEUE_SORT

    def clean_size(self) -> int:
        return self.cleaned_data.get("size") or DEFAULT_QUEUE_PAGE_SIZE

    def clean_exception(self) -> str:
        value = self.cleaned_data.get("exception") or ""
        if value and not value.replace("_", "").isalnum():
            raise forms.ValidationError("Choose an exception reason from the list.")
        return value


class BulkAssignForm(forms.Form):
    """A supervisor's reassignment of the rows ticked on the queue page."""

    requests = forms.MultipleChoiceField(required=True)  # tracking numbers; the service checks they exist here
    assignee = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, staff: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "assignee").choices = [("", "Unassigned"), *[(str(m.user_id), str(m.user)) for m in staff]]
        # Any submitted tracking number is a valid choice here; the service decides whether it is this tenant's.
        choice_field(self, "requests").choices = [
            (v, v) for v in (cast(QueryDict, self.data).getlist("requests") if self.data else [])
        ]
        self.fields["requests"].error_messages["required"] = "Tick at least one request to reassign."


class SavedViewForm(forms.Form):
    """Save the queue's current filters under a name (the filters come from the page's address, not this form)."""

    name = forms.CharField(label="Name this view", max_length=60, strip=True)
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)
