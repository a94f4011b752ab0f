"""Forms of the exception board and of the escalation rules admin (tenant admins configure when supervisors are
alerted; the pages are in exceptions/board.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from exceptions.choices import ExceptionReason
from exceptions.models import EscalationRule
from roi.models import Tenant, User
from workflow.choices import OPEN_STATES, RequestState, RequestType
from workflow.models import WorkQueue

# Conditions a rule may set; a rule with none of them would fire for every open request of the tenant.
CONDITION_FIELDS = (
    "states",
    "request_types",
    "exception_reasons",
    "min_age_days",
    "max_days_to_legal_due",
    "min_days_in_exception",
    "min_days_without_activity",
    "next_action_overdue",
    "min_days_waiting_on_retrieval",
)


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj)


class EscalationRuleForm(forms.ModelForm):
    """Every field of EscalationRule. The queue and the user to reassign to come from this tenant only, so an id of
    another tenant's queue or staff member is refused like an unknown one."""

    level = forms.IntegerField(
        label="Level",
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        error_messages={"required": "Give the escalation level: 1, 2 or 3."},
        help_text="1, 2 or 3: the same request escalates again at a higher level.",
    )
    states = forms.MultipleChoiceField(
        label="Request states",
        choices=[(s.value, s.label) for s in RequestState if s in OPEN_STATES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: any open state.",
    )
    request_types = forms.MultipleChoiceField(
        label="Request types",
        choices=RequestType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: any type.",
    )
    exception_reasons = forms.MultipleChoiceField(
        label="Exception reasons",
        choices=ExceptionReason.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: whatever the reason (or no exception).",
    )
    move_to_queue = forms.ModelChoiceField(
        label="Move to queue",
        queryset=WorkQueue.objects.none(),
        required=False,
        empty_label="Leave it where it is",
        error_messages={"invalid_choice": "Choose one of this organisation's work queues."},
    )
    reassign_to = StaffChoiceField(
        label="Reassign to",
        queryset=User.objects.none(),
        required=False,
        empty_label="Leave the assignee",
        error_messages={"invalid_choice": "Choose an active staff member of this organisation."},
    )

    class Meta:
        model = EscalationRule
        fields = [
            "name",
            "is_active",
            "level",
            *CONDITION_FIELDS,
            "notify",
            "email",
            "raise_priority",
            "move_to_queue",
            "reassign_to",
        ]
        labels = {
            "is_active": "Active",
            "min_age_days": "At least this many days since receipt",
            "max_days_to_legal_due": "Legal due in at most this many days",
            "min_days_in_exception": "At least this many days in exception",
            "min_days_without_activity": "At least this many days without activity",
            "next_action_overdue": "The exception's next action is overdue",
            "min_days_waiting_on_retrieval": "A retrieval task open more than this many days",
            "notify": "Notify",
            "email": "Email as well",
            "raise_priority": "Raise priority by (points)",
        }
        error_messages = {"name": {"required": "Give the rule a name staff will recognise in their inbox."}}

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["move_to_queue"].queryset = WorkQueue.objects.for_tenant(tenant).filter(is_active=True)
        self.fields["reassign_to"].queryset = User.objects.filter(
            memberships__tenant=tenant, memberships__is_active=True
        ).order_by("last_name", "first_name", "username")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(name) not in (None, [], False, "") for name in CONDITION_FIELDS):
            raise forms.ValidationError(
                "Set at least one condition (for example a state, an age or days in exception): "
                "a rule without conditions would escalate every open request."
            )
        return data

    def save(self, commit: bool = True) -> EscalationRule:
        self.instance.tenant = self.tenant
        return super().save(commit=commit)


class ExceptionBoardFilterForm(forms.Form):
    OWNER_NONE = "none"
    GROUPS = (("reason", "Reason"), ("owner", "Owner"), ("", "No grouping"))

    reason = forms.ChoiceField(label="Reason", required=False)
    owner = forms.ChoiceField(label="Owner", required=False)
    overdue = forms.BooleanField(label="Next action overdue only", required=False)
    group = forms.ChoiceField(label="Group by", choices=GROUPS, required=False)

    def __init__(self, *args: Any, staff: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "Any reason"), *ExceptionReason.choices]
        self.fields["owner"].choices = [
            ("", "Anyone"),
            (self.OWNER_NONE, "Nobody"),
            *[(str(m.user_id), str(m.user)) for m in staff],
        ]
