from __future__ import annotations

from typing import Any

from django import forms

from workflow.choices import DenialBasis, RequestState
from workflow.selectors import QUEUE_SORTS


class QueueFilterForm(forms.Form):
    ASSIGNEE_ME = "me"
    ASSIGNEE_NONE = "none"
    OPEN = "open"

    # Staff open the queue to find work to do, so it shows open requests unless asked otherwise.
    state = forms.ChoiceField(
        choices=[(OPEN, "Open (work to do)"), ("", "Any state"), *RequestState.choices], required=False
    )
    assignee = forms.ChoiceField(required=False)
    sort = forms.ChoiceField(
        choices=[
            ("due", "Legal due date, soonest first"),
            ("-due", "Legal due date, latest first"),
            ("received", "Received, oldest first"),
            ("-received", "Received, newest first"),
        ],
        required=False,
    )

    def __init__(self, *args: Any, staff: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            (self.ASSIGNEE_ME, "Assigned to me"),
            (self.ASSIGNEE_NONE, "Unassigned"),
            *[(str(m.user_id), str(m.user)) for m in staff],
        ]

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") if self.cleaned_data.get("sort") in QUEUE_SORTS else "due"


class TransitionForm(forms.Form):
    """What every transition posts: the state the user saw, so a concurrent change is reported, not overwritten."""

    expected_state = forms.ChoiceField(choices=RequestState.choices, widget=forms.HiddenInput)


class ReasonTransitionForm(TransitionForm):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class DeliverForm(TransitionForm):
    evidence = forms.CharField(
        label="Delivery evidence",
        max_length=300,
        help_text="Fax confirmation, mail tracking number, portal link id, or who collected the records and the ID checked.",
    )


class DenyForm(TransitionForm):
    basis = forms.ChoiceField(label="Basis (45 CFR 164.524)", choices=[("", "Choose a basis"), *DenialBasis.choices])
    reason = forms.CharField(
        label="Explanation for the requestor", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


TRANSITION_FORMS: dict[str, type[TransitionForm]] = {
    "validate": TransitionForm,
    "start_fulfillment": TransitionForm,
    "raise_exception": ReasonTransitionForm,
    "resolve": ReasonTransitionForm,
    "deliver": DeliverForm,
    "close": TransitionForm,
    "deny": DenyForm,
    "cancel": ReasonTransitionForm,
}


def transition_form(name: str, *, reason_label: str, data: Any = None, state: str | None = None) -> TransitionForm:
    """The form for one transition, with ids unique on a page that shows every action's form."""
    form = TRANSITION_FORMS[name](data, initial={"expected_state": state}, auto_id=f"id_{name}_%s")
    if "reason" in form.fields:
        form.fields["reason"].label = reason_label
    return form


class AssignForm(forms.Form):
    assignee = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, staff: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Unassigned"), *[(str(m.user_id), str(m.user)) for m in staff]]
