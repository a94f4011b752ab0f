"""The escalations inbox's filters: rule, age, the request's state and its assignee."""

from __future__ import annotations

from typing import Any

from django import forms

from exceptions.models import EscalationRule
from exceptions.selectors import InboxFilters
from workflow.choices import RequestState


class EscalationInboxFilterForm(forms.Form):
    ASSIGNEE_NONE = "none"
    AGES = (
        ("", "Any age"),
        ("1", "Fired over a day ago"),
        ("7", "Fired over 7 days ago"),
        ("30", "Fired over 30 days ago"),
    )

    rule = forms.ChoiceField(label="Rule", required=False)
    age = forms.ChoiceField(label="Age", choices=AGES, required=False)
    state = forms.ChoiceField(label="Request state", required=False)
    assignee = forms.ChoiceField(label="Assignee", required=False)

    def __init__(self, *args: Any, rules: list[EscalationRule], staff: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [("", "Any rule"), *[(str(rule.pk), str(rule)) for rule in rules]]
        self.fields["state"].choices = [("", "Any state"), *RequestState.choices]
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            (self.ASSIGNEE_NONE, "Nobody"),
            *[(str(m.user_id), str(m.user)) for m in staff],
        ]

    def filters(self) -> InboxFilters:
        """The chosen filters; an invalid choice (a stale link) is left out rather than failing the page."""
        if not self.is_bound:
            return InboxFilters()
        self.is_valid()
        data = self.cleaned_data
        assignee = data.get("assignee", "")
        return InboxFilters(
            rule_id=int(data["rule"]) if data.get("rule") else None,
            older_than_days=int(data["age"]) if data.get("age") else None,
            state=data.get("state", ""),
            assignee_id=int(assignee) if assignee and assignee != self.ASSIGNEE_NONE else None,
            unassigned=assignee == self.ASSIGNEE_NONE,
        )
