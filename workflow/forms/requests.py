"""The request page's forms: transitions, assignment, status calls, internal notes, breaking the glass."""

from __future__ import annotations

from typing import Any

from django import forms

from workflow.break_glass import BREAK_GLASS_REASON_MIN_LENGTH
from workflow.choices import DenialBasis, RequestState
from workflow.forms.queue import choice_field
from workflow.models import NOTE_MAX_LENGTH, StatusCall
from workflow.notes import note_text_problem


class StatusCallForm(forms.Form):
    """Two clicks: the defaults are the commonest call (the requestor asks, staff give the status)."""

    caller = forms.ChoiceField(choices=StatusCall.Caller.choices, initial=StatusCall.Caller.REQUESTOR)
    outcome = forms.ChoiceField(choices=StatusCall.Outcome.choices, initial=StatusCall.Outcome.STATUS_GIVEN)


class NoteForm(forms.Form):
    """An internal note, new or a new version of one (`replaces`: the note's id, for the page to put the form with its
    errors back under that note). The service checks the text again."""

    note = forms.CharField(
        label="Internal note",
        help_text=f"Staff only: never shown to the requestor. Up to {NOTE_MAX_LENGTH:,} characters.",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX_LENGTH}),
        error_messages={"required": note_text_problem("")},
    )

    def __init__(self, *args: Any, replaces: int | None = None, **kwargs: Any) -> None:
        self.replaces = replaces
        kwargs.setdefault("auto_id", f"id_note_{replaces}_%s" if replaces else "id_note_%s")
        super().__init__(*args, **kwargs)
        if replaces:
            self.fields["note"].label = "New version of the note"

    def clean_note(self) -> str:
        text: str = self.cleaned_data["note"].replace("\r\n", "\n")  # a browser's line breaks count once
        problem = note_text_problem(text)
        if problem:
            raise forms.ValidationError(problem)
        return text


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
        choice_field(self, "assignee").choices = [("", "Unassigned"), *[(str(m.user_id), str(m.user)) for m in staff]]


class BreakGlassForm(forms.Form):
    """The restricted-request page's form (workflow/views/restricted.py): why a supervisor needs a request outside
    their assignment, and that they know the access is recorded. The service checks the reason's length again."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need this request now, for the privacy review (at least 20 characters).",
        error_messages={"required": "Give the reason you need this request now (at least 20 characters)."},
    )
    confirm = forms.BooleanField(
        label="I understand that this access is recorded and reviewed by the privacy officer.",
        error_messages={
            "required": "Tick the box to confirm that you understand this access is recorded and reviewed."
        },
    )

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if len(reason) < BREAK_GLASS_REASON_MIN_LENGTH:
            raise forms.ValidationError(
                f"The reason is too short ({len(reason)} characters): say in at least "
                f"{BREAK_GLASS_REASON_MIN_LENGTH} characters why you need this request now."
            )
        return reason
