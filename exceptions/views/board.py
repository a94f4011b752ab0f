"""Supervisor pages of the exceptions app: the exception board (every open episode of the tenant), the escalations
inbox, and the escalation rules admin (tenant admins). Request-level actions stay on the request detail page."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from exceptions.choices import ExceptionReason
from exceptions.escalations import escalation_acknowledge
from exceptions.forms.rules import CONDITION_FIELDS, EscalationRuleForm, ExceptionBoardFilterForm
from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from roi import clock
from roi.audit import access_record, history_stamp
from roi.choices import SUPERVISING_ROLES, AccessAction, Role
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import TenantViewMixin
from workflow.choices import RequestState, RequestType
from workflow.selectors import tenant_staff

ADMIN_ROLES = frozenset({Role.ADMIN})


def _tenant_today(tenant: Tenant) -> date:
    # Next-action due dates are calendar days of the organisation, not of the server.
    return clock.now().astimezone(tenant.tzinfo).date()


def _duration(seconds: int) -> str:
    days, rest = divmod(max(seconds, 0), 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


# --- Exception board --------------------------------------------------------------------------------------------


def open_episodes_for_board(
    *, tenant: Tenant, reason: str = "", owner_id: int | None = None, unowned: bool = False, overdue_on: date | None
) -> QuerySet[ExceptionEpisode]:
    """Open episodes of the tenant, oldest first, with the request, patient, owner and the number of escalations
    fired during the episode: one query whatever the number of rows."""
    escalations = (
        EscalationEvent.objects.filter(episode=OuterRef("pk"))
        .order_by()
        .values("episode")
        .annotate(n=Count("id"))
        .values("n")
    )
    queryset = (
        ExceptionEpisode.objects.for_tenant(tenant)
        .filter(resolved_at__isnull=True)
        .select_related("request", "request__patient", "owner")
        .annotate(escalation_count=Coalesce(Subquery(escalations, output_field=IntegerField()), 0))
        .order_by("opened_at", "id")
    )
    if reason:
        queryset = queryset.filter(reason=reason)
    if unowned:
        queryset = queryset.filter(owner__isnull=True)
    elif owner_id is not None:
        queryset = queryset.filter(owner_id=owner_id)
    if overdue_on is not None:
        queryset = queryset.filter(next_action_due__lt=overdue_on)
    return queryset


class ExceptionBoardView(TenantViewMixin, View):
    """Where supervisors see what is stuck: every open exception, by reason and owner, oldest first."""

    required_roles = SUPERVISING_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        staff = list(tenant_staff(tenant=self.tenant))
        form = ExceptionBoardFilterForm(request.GET or None, staff=staff, initial={"group": "reason"})
        today = _tenant_today(self.tenant)
        now = clock.now()
        data = form.cleaned_data if form.is_valid() else {}
        owner = data.get("owner", "")
        # Grouped by reason unless the user chose otherwise (the count links only set a filter).
        group = data.get("group", "reason") if "group" in request.GET else "reason"
        rows = list(
            open_episodes_for_board(
                tenant=self.tenant,
                reason=data.get("reason", ""),
                owner_id=int(owner) if owner and owner != form.OWNER_NONE else None,
                unowned=owner == form.OWNER_NONE,
                overdue_on=today if data.get("overdue") else None,
            )
        )
        for episode in rows:
            episode.age_days = (today - episode.opened_at.astimezone(self.tenant.tzinfo).date()).days  # type: ignore[attr-defined]  # an attribute for the template
            episode.is_overdue = episode.next_action_due < today  # type: ignore[attr-defined]  # an attribute for the template
            episode.time_in_exception = _duration(episode.request.time_in_exception_seconds(now))  # type: ignore[attr-defined]  # an attribute for the template
            episode.group_label = (  # type: ignore[attr-defined]  # an attribute for the template
                episode.get_reason_display() if group == "reason" else str(episode.owner or "Nobody")
            )
        if group:
            # Stable sort: oldest first inside each group, groups in the order of their oldest episode.
            first_seen: dict[str, int] = {}
            for index, episode in enumerate(rows):
                first_seen.setdefault(episode.group_label, index)  # type: ignore[attr-defined]  # an attribute for the template
            rows.sort(key=lambda e: first_seen[e.group_label])  # type: ignore[attr-defined]  # an attribute for the template
        by_reason = Counter(e.reason for e in rows)
        by_owner = Counter(str(e.owner or "Nobody") for e in rows)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.LIST_REQUESTS,
            request=request,
            detail=f"exception board, {len(rows)} rows",
        )
        context = {
            "form": form,
            "rows": rows,
            "group": group,
            "today": today,
            "reason_counts": [(ExceptionReason(r).label, r, n) for r, n in by_reason.most_common()],
            "owner_counts": by_owner.most_common(),
            "overdue_count": sum(1 for e in rows if e.is_overdue),  # type: ignore[attr-defined]  # an attribute for the template
        }
        return render(request, "exceptions/board.html", context)


# --- Escalations inbox ------------------------------------------------------------------------------------------


def escalation_events_visible_to(*, tenant: Tenant, user: Any, role: str) -> QuerySet[EscalationEvent]:
    """Supervisors see every escalation of the tenant; a specialist sees those about requests assigned to them or
    whose exception they own (the people the rule's 'owner' notification goes to)."""
    queryset = EscalationEvent.objects.for_tenant(tenant).select_related(
        "rule", "request", "request__patient", "acknowledged_by"
    )
    if role not in SUPERVISING_ROLES:
        queryset = queryset.filter(Q(request__assignee=user) | Q(episode__owner=user))
    return queryset


class EscalationInboxView(TenantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        events = escalation_events_visible_to(
            tenant=self.tenant,
            user=request.user,
            role=request.membership.role,  # type: ignore[attr-defined]  # TenantMiddleware sets it
        )
        pending = list(events.filter(acknowledged_at__isnull=True).order_by("-rule__level", "fired_at", "id"))
        done = list(events.filter(acknowledged_at__isnull=False).order_by("-acknowledged_at", "-id")[:100])
        return render(request, "exceptions/inbox.html", {"pending": pending, "acknowledged": done})


class EscalationAcknowledgeView(TenantViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        events = escalation_events_visible_to(
            tenant=self.tenant,
            user=request.user,
            role=request.membership.role,  # type: ignore[attr-defined]  # TenantMiddleware sets it
        )
        try:
            event = events.get(pk=pk)
        except EscalationEvent.DoesNotExist:
            raise Http404("No such escalation") from None
        if event.acknowledged_at is not None:
            messages.info(request, f"Already acknowledged by {event.acknowledged_by}.")
            return redirect("exceptions:inbox")
        try:
            escalation_acknowledge(tenant=self.tenant, actor=request.user, event=event)
        except ServiceError as error:
            if error.status_code == 404:
                raise Http404(error.message) from None
            # E.g. a specialist who sees the request but was not the one notified: say why, change nothing.
            messages.error(request, error.message)
            return redirect("exceptions:inbox")
        messages.success(request, f"Escalation of {event.request.tracking_number} acknowledged.")
        return redirect("exceptions:inbox")


# --- Escalation rules admin -------------------------------------------------------------------------------------


def describe_conditions(rule: EscalationRule) -> list[str]:
    """The rule's conditions in the words of the rules page."""
    words: list[str] = []
    if rule.states:
        words.append("state is " + " or ".join(RequestState(s).label for s in rule.states if s in RequestState))
    if rule.request_types:
        words.append("type is " + " or ".join(RequestType(t).label for t in rule.request_types if t in RequestType))
    if rule.exception_reasons:
        words.append(
            "exception reason is "
            + " or ".join(ExceptionReason(r).label for r in rule.exception_reasons if r in ExceptionReason)
        )
    if rule.min_age_days is not None:
        words.append(f"received at least {rule.min_age_days} days ago")
    if rule.max_days_to_legal_due is not None:
        days = rule.max_days_to_legal_due
        words.append(
            "legal due date passed" if days < 0 else "legal due today" if days == 0 else f"legal due within {days} days"
        )
    if rule.min_days_in_exception is not None:
        words.append(f"in exception for at least {rule.min_days_in_exception} days")
    if rule.min_days_without_activity is not None:
        words.append(f"no activity for at least {rule.min_days_without_activity} days")
    if rule.next_action_overdue:
        words.append("the exception's next action is overdue")
    if rule.min_days_waiting_on_retrieval is not None:
        days = rule.min_days_waiting_on_retrieval
        words.append(f"a retrieval task open more than {days} day{'' if days == 1 else 's'}")
    return words


def describe_actions(rule: EscalationRule) -> list[str]:
    words: list[str] = []
    if rule.notify != EscalationRule.Notify.NONE:
        words.append(f"notify {rule.get_notify_display().lower()}" + (" by email too" if rule.email else ""))
    if rule.raise_priority:
        words.append(f"raise priority by {rule.raise_priority}")
    if rule.move_to_queue_id:
        words.append(f"move to queue {rule.move_to_queue}")
    if rule.reassign_to_id:
        words.append(f"reassign to {rule.reassign_to}")
    return words or ["record only"]


def _rules(tenant: Tenant) -> QuerySet[EscalationRule]:
    return EscalationRule.objects.for_tenant(tenant).select_related("move_to_queue", "reassign_to")


RULE_FORM_SECTIONS = (
    ("Rule", ("name", "level", "is_active")),
    ("When (all the conditions set must hold)", CONDITION_FIELDS),
    ("Then", ("notify", "email", "raise_priority", "move_to_queue", "reassign_to")),
)


def _render_rule_form(
    request: HttpRequest, form: EscalationRuleForm, rule: EscalationRule | None, status: int = 200
) -> HttpResponse:
    sections = [(legend, [form[name] for name in names]) for legend, names in RULE_FORM_SECTIONS]
    return render(
        request, "exceptions/rule_form.html", {"form": form, "rule": rule, "sections": sections}, status=status
    )


def _save_rule(form: EscalationRuleForm, actor: Any) -> EscalationRule:
    # Configuration, not workflow: the form holds every rule about the fields; the history row names the admin.
    with transaction.atomic():
        rule = form.save(commit=False)
        history_stamp(rule, actor)
        rule.save()
    return rule


class RuleAdminMixin(TenantViewMixin):
    """Tenant admins only. Views that name a rule look it up before checking the role, so that another tenant's
    rule answers 404 to everyone, exactly like one that does not exist (404 before 403: docs/decisions/0002-tenancy.md)."""

    def require_admin(self, request: HttpRequest) -> None:
        if request.membership.role not in ADMIN_ROLES:  # type: ignore[attr-defined]  # TenantMiddleware sets it
            raise PermissionDenied("Only tenant admins manage escalation rules.")

    def get_rule(self, request: HttpRequest, pk: int) -> EscalationRule:
        try:
            rule = _rules(self.tenant).get(pk=pk)
        except EscalationRule.DoesNotExist:
            raise Http404("No such rule") from None
        self.require_admin(request)
        return rule


class EscalationRuleListView(RuleAdminMixin, View):
    required_roles = ADMIN_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        rules = [(rule, describe_conditions(rule), describe_actions(rule)) for rule in _rules(self.tenant)]
        return render(request, "exceptions/rules.html", {"rules": rules})


class EscalationRuleCreateView(RuleAdminMixin, View):
    required_roles = ADMIN_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        form = EscalationRuleForm(tenant=self.tenant, initial={"level": 1})
        return _render_rule_form(request, form, None)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = EscalationRuleForm(request.POST, tenant=self.tenant)
        if not form.is_valid():
            messages.error(request, "The rule was not saved: check the messages below.")
            return _render_rule_form(request, form, None, status=400)
        rule = _save_rule(form, request.user)
        messages.success(request, f"Rule “{rule.name}” created.")
        return redirect("exceptions:rules")


class EscalationRuleEditView(RuleAdminMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = self.get_rule(request, pk)
        form = EscalationRuleForm(instance=rule, tenant=self.tenant)
        return _render_rule_form(request, form, rule)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = self.get_rule(request, pk)
        form = EscalationRuleForm(request.POST, instance=rule, tenant=self.tenant)
        if not form.is_valid():
            messages.error(request, "The rule was not saved: check the messages below.")
            return _render_rule_form(request, form, rule, status=400)
        rule = _save_rule(form, request.user)
        messages.success(request, f"Rule “{rule.name}” saved.")
        return redirect("exceptions:rules")


class EscalationRuleActiveView(RuleAdminMixin, View):
    """Activate or deactivate a rule (rules are never deleted: events point at them)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = self.get_rule(request, pk)
        active = request.POST.get("active") == "1"
        if rule.is_active != active:
            with transaction.atomic():
                rule.is_active = active
                history_stamp(rule, request.user)
                rule.save(update_fields=["is_active"])
        messages.success(request, f"Rule “{rule.name}” {'activated' if active else 'deactivated'}.")
        return redirect("exceptions:rules")
