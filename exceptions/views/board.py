"""Supervisor pages of the exceptions app: the exception board (every open episode of the tenant), the escalations
inbox, and the escalation rules admin (tenant admins). Request-level actions stay on the request detail page."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View

from exceptions.choices import ExceptionReason
from exceptions.escalations import escalation_acknowledge, escalations_acknowledge
from exceptions.forms.inbox import EscalationInboxFilterForm
from exceptions.forms.rules import CONDITION_FIELDS, EscalationRuleForm, ExceptionBoardFilterForm
from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from exceptions.selectors import INBOX_LIMIT, escalations_done, escalations_pending, escalations_visible_to
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

# The filters a bulk acknowledgement carries back to the inbox.
INBOX_FILTERS = ("rule", "age", "state", "assignee")


def _inbox_url(params: Any) -> str:
    kept = urlencode([(name, params.get(name)) for name in INBOX_FILTERS if params.get(name)])
    return reverse("exceptions:inbox") + (f"?{kept}" if kept else "")


class EscalationInboxView(TenantViewMixin, View):
    """What is waiting to be acknowledged (the highest level first, at most INBOX_LIMIT rows, filtered by rule, age,
    request state and assignee) and what was dealt with lately. Supervisors acknowledge all the rows shown, or the
    ticked ones, at once."""

    def get(self, request: HttpRequest) -> HttpResponse:
        role = request.membership.role  # type: ignore[attr-defined]  # TenantMiddleware sets it
        is_supervisor = role in SUPERVISING_ROLES
        form = EscalationInboxFilterForm(
            request.GET or None,
            rules=list(EscalationRule.objects.for_tenant(self.tenant).order_by("level", "name")),
            staff=list(tenant_staff(tenant=self.tenant)),
        )
        pending = escalations_pending(
            tenant=self.tenant, user=request.user, role=role, filters=form.filters(), now=clock.now()
        )
        shown = list(pending[:INBOX_LIMIT])
        total = len(shown) if len(shown) < INBOX_LIMIT else pending.count()
        done = list(escalations_done(tenant=self.tenant, user=request.user, role=role))
        # The rows name patients: a listing of PHI, like the exception board.
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.LIST_REQUESTS,
            request=request,
            detail=f"escalations inbox, {len(shown)} to acknowledge",
        )
        context = {
            "form": form,
            "pending": shown,
            "pending_total": total,
            "acknowledged": done,
            "is_supervisor": is_supervisor,
            "filter_items": [(name, request.GET[name]) for name in INBOX_FILTERS if request.GET.get(name)],
            "filtered": any(request.GET.get(name) for name in INBOX_FILTERS),
        }
        return render(request, "exceptions/inbox.html", context)


class EscalationAcknowledgeView(TenantViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        events = escalations_visible_to(
            tenant=self.tenant,
            user=request.user,
            role=request.membership.role,  # type: ignore[attr-defined]  # TenantMiddleware sets it
        )
        back = _inbox_url(request.POST)
        try:
            event = events.get(pk=pk)
        except EscalationEvent.DoesNotExist:
            raise Http404("No such escalation") from None
        if event.acknowledged_at is not None:
            messages.info(request, f"Already acknowledged by {event.acknowledged_by}.")
            return redirect(back)
        if event.closed_at is not None:
            messages.info(request, f"This escalation closed itself: {event.closed_reason}.")
            return redirect(back)
        try:
            escalation_acknowledge(tenant=self.tenant, actor=request.user, event=event)
        except ServiceError as error:
            if error.status_code == 404:
                raise Http404(error.message) from None
            # E.g. a specialist who sees the request but was not the one notified: say why, change nothing.
            messages.error(request, error.message)
            return redirect(back)
        messages.success(request, f"Escalation of {event.request.tracking_number} acknowledged.")
        return redirect(back)


class EscalationBulkAcknowledgeView(TenantViewMixin, View):
    """Acknowledge every escalation the inbox showed (`scope=shown`: the `shown` ids the page was drawn with, never
    one that fired since) or the ticked ones (`scope=ticked`: the `event` ids). Supervisors only (others: 403); an
    id that is not this tenant's escalation answers 404 and nothing changes."""

    http_method_names = ["post"]
    required_roles = SUPERVISING_ROLES

    def post(self, request: HttpRequest) -> HttpResponse:
        back = _inbox_url(request.POST)
        scope = request.POST.get("scope", "")
        raw = request.POST.getlist("shown" if scope == "shown" else "event")
        if scope not in ("shown", "ticked"):
            messages.error(request, "Choose “Acknowledge all shown” or tick rows and choose “Acknowledge ticked”.")
            return redirect(back)
        if not all(value.isdigit() for value in raw):
            raise Http404("No such escalation")
        try:
            acknowledged = escalations_acknowledge(
                tenant=self.tenant, actor=request.user, event_ids=[int(value) for value in raw]
            )
        except ServiceError as error:
            if error.status_code == 404:
                raise Http404(error.message) from None
            if error.status_code == 403:
                raise PermissionDenied(error.message) from None
            messages.error(request, error.message)
            return redirect(back)
        skipped = len(set(raw)) - len(acknowledged)
        note = f" {skipped} had been dealt with already." if skipped else ""
        count = len(acknowledged)
        messages.success(request, f"{count} escalation{'' if count == 1 else 's'} acknowledged.{note}")
        return redirect(back)


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
