"""Forms of the retrieval part of the fulfillment panel: add a task, change its owner or notes, record its outcome."""

from __future__ import annotations

from typing import Any

from django import forms

from fulfillment.choices import RetrievalSource
from roi.models import Tenant
from workflow.selectors import tenant_staff


def staff_choices(tenant: Tenant) -> list[tuple[str, str]]:
    return [("", "Nobody yet"), *((str(m.user_id), str(m.user)) for m in tenant_staff(tenant=tenant))]


class RetrievalTaskForm(forms.Form):
    source = forms.ChoiceField(
        label="Where from", choices=RetrievalSource.choices, error_messages={"required": "Choose where from."}
    )
    source_detail = forms.CharField(
        label="Department or place",
        max_length=200,
        required=False,
        help_text="Needed for another facility or other: which one.",
    )
    owner = forms.ChoiceField(label="Owner", required=False)
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, staff: list[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_retrieval_%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = staff
        self.fields["owner"].error_messages["invalid_choice"] = "Choose a staff member of this organisation."


class RetrievalUpdateForm(forms.Form):
    owner = forms.ChoiceField(label="Owner", required=False)
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, staff: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = staff
        self.fields["owner"].error_messages["invalid_choice"] = "Choose a staff member of this organisation."


class RetrievalNoteForm(forms.Form):
    """The note of an outcome: optional when received, required for nothing held (what the department answered)
    and for a cancellation (why)."""

    note = forms.CharField(label="Note", max_length=1000, required=False)

    def __init__(self, *args: Any, required: bool = False, label: str = "Note", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].required = required
        self.fields["note"].label = label
        self.fields["note"].error_messages["required"] = f"{label}: required."


# action (in the URL and the panel) -> (label of its note, note required)
NOTE_ACTIONS: dict[str, tuple[str, bool]] = {
    "received": ("What came back (optional)", False),
    "nothing-held": ("What the department answered", True),
    "cancel": ("Why it is cancelled", True),
}


def note_form(action: str, *, task_pk: int, data: Any = None) -> RetrievalNoteForm:
    label, required = NOTE_ACTIONS[action]
    return RetrievalNoteForm(data, required=required, label=label, auto_id=f"id_retrieval_{task_pk}_{action}_%s")
