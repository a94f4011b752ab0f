from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

from exceptions.choices import ExceptionReason
from roi import clock
from workflow.choices import RequestState


class ExceptionOpenForm(forms.Form):
    expected_state = forms.ChoiceField(choices=RequestState.choices, widget=forms.HiddenInput)
    reason = forms.ChoiceField(label="Reason", choices=[("", "Choose a reason"), *ExceptionReason.choices])
    detail = forms.CharField(label="What is wrong", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    next_step = forms.CharField(label="Next step", max_length=300)
    next_action_due = forms.DateField(label="Next action due", widget=forms.DateInput(attrs={"type": "date"}))
    owner = forms.ChoiceField(label="Owner", required=False)

    def __init__(self, *args: Any, staff: list[Any], tenant: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_exception_%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "The assignee (or me)"), *[(str(m.user_id), str(m.user)) for m in staff]]
        if not self.is_bound:
            today = clock.now().astimezone(tenant.tzinfo).date()
            self.initial.setdefault("next_action_due", today + timedelta(days=tenant.deficiency_follow_up_days))


class ExceptionResolveForm(forms.Form):
    expected_state = forms.ChoiceField(choices=RequestState.choices, widget=forms.HiddenInput)
    resolution = forms.CharField(label="Resolution note", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_resolve_%s")
        super().__init__(*args, **kwargs)


class NextStepForm(forms.Form):
    next_step = forms.CharField(label="Next step", max_length=300)
    next_action_due = forms.DateField(label="Due", widget=forms.DateInput(attrs={"type": "date"}))
    owner = forms.ChoiceField(label="Owner", required=False)

    def __init__(self, *args: Any, staff: list[Any], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_next_%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Nobody"), *[(str(m.user_id), str(m.user)) for m in staff]]
