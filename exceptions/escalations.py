"""Escalation rules to escalation events: when supervisors (and owners) are alerted about a request.

`escalations_evaluate()` runs every five minutes from beat (exceptions.tasks.evaluate_escalations). For each active
rule it runs one INSERT ... SELECT ... ON CONFLICT DO NOTHING into escalation events; the unique constraint
(request, rule, level, episode) NULLS NOT DISTINCT decides what is new, so however often or concurrently the job
runs, each combination fires once, and only the rows that INSERT returned get the rule's actions (priority,
queue, assignee) and notifications, in the same transaction. The number of statements depends on the number of
rules, never on the number of requests.

A rule with an exception condition (exception reasons, days in exception, next action overdue, or states limited
to `exception`) matches only requests in exception, and its event carries the open episode, so a later episode of
the same request fires again; every other rule fires once per request for good.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction

from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from roi import clock
from roi.choices import SUPERVISING_ROLES
from roi.errors import NotPermitted, ServiceError
from roi.models import Membership, Notification, Tenant, User
from roi.notifications import notifications_schedule_send
from roi.tenancy import has_role, role_in
from workflow.choices import FINISHED_STATES, OPEN_STATES, RequestState
from workflow.extensions import closed_with_request_reason
from workflow.models import RecordRequest, WorkQueue


class EscalationNotFound(ServiceError):
    """No such escalation in this tenant (also what another tenant's escalation answers)."""

    status_code = 404


# Seeded for every tenant (exceptions/migrations/0003 for existing ones, escalation_rules_seed_defaults for new
# ones); admins may change or deactivate them. The migration keeps its own frozen copy of this list.
DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "Legal due within 5 days",
        "level": 1,
        "max_days_to_legal_due": 5,
        "notify": EscalationRule.Notify.SUPERVISORS,
        "raise_priority": 10,
    },
    {
        "name": "Exception open 7 days",
        "level": 1,
        "states": [RequestState.EXCEPTION.value],
        "min_days_in_exception": 7,
        "notify": EscalationRule.Notify.BOTH,
    },
    {
        "name": "Legal due date passed",
        "level": 2,
        "max_days_to_legal_due": -1,
        "notify": EscalationRule.Notify.SUPERVISORS,
        "raise_priority": 30,
    },
    {
        "name": "Next action overdue on an exception",
        "level": 1,
        "next_action_overdue": True,
        "notify": EscalationRule.Notify.OWNER,
    },
    {
        "name": "Retrieval waiting over 5 days",
        "level": 1,
        "min_days_waiting_on_retrieval": 5,
        "notify": EscalationRule.Notify.SUPERVISORS,
    },
]


def escalation_rules_seed_defaults(tenant: Tenant) -> list[EscalationRule]:
    """Create the default rules the tenant does not have yet (by name) and return the ones created. Called when a
    tenant is created; running it again creates nothing."""
    existing = set(EscalationRule.objects.for_tenant(tenant).values_list("name", flat=True))
    created = []
    with transaction.atomic():
        for definition in DEFAULT_RULES:
            if definition["name"] not in existing:
                created.append(EscalationRule.objects.create(tenant=tenant, **definition))
    return created


# --- Evaluation --------------------------------------------------------------------------------------------------

_REQUEST = RecordRequest._meta.db_table
_EPISODE = ExceptionEpisode._meta.db_table
_EVENT = EscalationEvent._meta.db_table
_NOTIFICATION = Notification._meta.db_table
_MEMBERSHIP = Membership._meta.db_table
_USER = User._meta.db_table
_TENANT = Tenant._meta.db_table
_QUEUE = WorkQueue._meta.db_table

# Expressions over the request `r`, its tenant `t`, its open episode `e` (may be NULL) and `d.today`, the tenant's
# local date at %(now)s. Days are calendar days in the tenant's time zone, as deadlines are (workflow/deadlines.py).
_DAYS_TO_DUE = "(r.legal_due_date - d.today)"
_AGE_DAYS = "(d.today - (r.received_at AT TIME ZONE t.timezone)::date)"
_EXCEPTION_SECONDS = (
    "(r.exception_seconds_before + COALESCE(GREATEST("
    "FLOOR(EXTRACT(EPOCH FROM (%(now)s::timestamptz - r.exception_since)))::bigint, 0), 0))"
)
_IDLE_DAYS = "FLOOR(EXTRACT(EPOCH FROM (%(now)s::timestamptz - r.last_activity_at)) / 86400)::integer"
# Since the oldest open retrieval task was requested (fulfillment records it on the request; NULL: none open), in the
# same tenant calendar days as the retrieval panel's "requested N days ago" and its overdue badge.
_RETRIEVAL_DAYS = "(d.today - (r.retrieval_waiting_since AT TIME ZONE t.timezone)::date)"


def _days(count: str) -> str:
    return f"({count})::text || ' day' || (CASE WHEN ({count}) = 1 THEN '' ELSE 's' END)"


def _is_exception_rule(rule: EscalationRule) -> bool:
    return bool(
        rule.exception_reasons
        or rule.min_days_in_exception is not None
        or rule.next_action_overdue
        or (rule.states and set(rule.states) == {RequestState.EXCEPTION})
    )


def _conditions(rule: EscalationRule) -> tuple[str, dict[str, Any]]:
    """The WHERE clauses for the conditions the rule sets; only those, so the planner can use the indexes."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if rule.states:
        clauses.append("r.state = ANY(%(states)s)")
        params["states"] = list(rule.states)
    if rule.request_types:
        clauses.append("r.request_type = ANY(%(request_types)s)")
        params["request_types"] = list(rule.request_types)
    if rule.exception_reasons:
        clauses.append("r.exception_reason = ANY(%(exception_reasons)s)")
        params["exception_reasons"] = list(rule.exception_reasons)
    if rule.min_age_days is not None:
        clauses.append(f"{_AGE_DAYS} >= %(min_age_days)s")
        params["min_age_days"] = rule.min_age_days
    if rule.max_days_to_legal_due is not None:
        # Spelled as a date comparison so the (tenant, state, legal_due_date) index serves it.
        clauses.append("r.legal_due_date <= d.today + %(max_days_to_legal_due)s::integer")
        params["max_days_to_legal_due"] = rule.max_days_to_legal_due
    if rule.min_days_in_exception is not None:
        clauses.append(f"{_EXCEPTION_SECONDS} >= 86400 * %(min_days_in_exception)s::bigint")
        params["min_days_in_exception"] = rule.min_days_in_exception
    if rule.min_days_without_activity is not None:
        clauses.append("r.last_activity_at <= %(now)s::timestamptz - make_interval(days => %(idle_days)s::integer)")
        params["idle_days"] = rule.min_days_without_activity
    if rule.next_action_overdue:
        clauses.append("e.next_action_due < d.today")
    if rule.min_days_waiting_on_retrieval is not None:
        # "Open more than N days", like the retrieval panel's overdue badge (older than the tenant's overdue days).
        clauses.append(f"{_RETRIEVAL_DAYS} > %(retrieval_days)s::integer")
        params["retrieval_days"] = rule.min_days_waiting_on_retrieval
    if _is_exception_rule(rule):
        clauses.append(f"r.state = '{RequestState.EXCEPTION.value}'")
    return "".join(f"\n  AND {clause}" for clause in clauses), params


def _summary(rule: EscalationRule) -> str:
    """What the event says, e.g. 'legal due in 2 days': the rule's most telling condition, no PHI."""
    if rule.max_days_to_legal_due is not None:
        return f"""(CASE WHEN {_DAYS_TO_DUE} < 0 THEN 'legal due date passed ' || {_days(f"-{_DAYS_TO_DUE}")} || ' ago'
            WHEN {_DAYS_TO_DUE} = 0 THEN 'legal due today'
            WHEN {_DAYS_TO_DUE} = 1 THEN 'legal due tomorrow'
            ELSE 'legal due in ' || {_days(_DAYS_TO_DUE)} END)"""
    if rule.min_days_in_exception is not None:
        return f"'in exception ' || {_days(f'{_EXCEPTION_SECONDS} / 86400')}"
    if rule.next_action_overdue:
        return f"'next action on the exception overdue by ' || {_days('d.today - e.next_action_due')}"
    if rule.min_days_waiting_on_retrieval is not None:
        return f"'waiting on retrieval for ' || {_days(_RETRIEVAL_DAYS)}"
    if rule.min_days_without_activity is not None:
        return f"'no activity for ' || {_days(_IDLE_DAYS)}"
    if rule.min_age_days is not None:
        return f"'received ' || {_days(_AGE_DAYS)} || ' ago'"
    return "%(rule_name)s"


_FIRE_SQL = f"""
INSERT INTO {_EVENT} (tenant_id, rule_id, request_id, level, episode_id, fired_at, summary, acknowledged_at,
                      acknowledged_by_id)
SELECT r.tenant_id, %(rule_id)s, r.id, %(level)s, {{episode}}, %(now)s, LEFT({{summary}}, 300), NULL, NULL
FROM {_REQUEST} r
JOIN {_TENANT} t ON t.id = r.tenant_id
CROSS JOIN LATERAL (SELECT (%(now)s::timestamptz AT TIME ZONE t.timezone)::date AS today) d
LEFT JOIN {_EPISODE} e ON e.request_id = r.id AND e.tenant_id = r.tenant_id AND e.resolved_at IS NULL
WHERE r.tenant_id = %(tenant_id)s AND t.is_active AND r.state = ANY(%(open_states)s){{conditions}}
ORDER BY r.id
ON CONFLICT DO NOTHING
RETURNING id, request_id, episode_id
"""  # noqa: S608 - table names come from model metadata; every value is a query parameter
# ORDER BY r.id: two concurrent runs insert in the same order, so one waits for the other's row instead of each
# holding a row the other needs (a deadlock).

# Only the rule's own tenant's queue and active staff are accepted, whatever the rule row says.
_ACT_SQL = f"""
UPDATE {_REQUEST} r
SET priority_boost = r.priority_boost + %(boost)s,
    priority_score = r.priority_score + %(boost)s,
    queue_id = COALESCE((SELECT q.id FROM {_QUEUE} q WHERE q.id = %(queue_id)s::bigint AND q.tenant_id = r.tenant_id),
                        r.queue_id),
    assignee_id = COALESCE((SELECT m.user_id FROM {_MEMBERSHIP} m WHERE m.user_id = %(assignee_id)s::bigint
                            AND m.tenant_id = r.tenant_id AND m.is_active), r.assignee_id),
    updated_at = %(now)s
WHERE r.id = ANY(%(request_ids)s) AND r.tenant_id = %(tenant_id)s
"""  # noqa: S608 - table names come from model metadata; every value is a query parameter
# priority_score gets the boost at once so the queue shows it now; the aging job (workflow/urgency.py) recomputes
# score and reasons from priority_boost at its next run.

_EPISODE_LEVEL_SQL = f"""
UPDATE {_EPISODE} SET escalation_level = GREATEST(escalation_level, %(level)s)
WHERE id = ANY(%(episode_ids)s) AND tenant_id = %(tenant_id)s AND escalation_level < %(level)s
"""  # noqa: S608 - table names come from model metadata; every value is a query parameter

# Recipients: supervisors are active supervisor and admin memberships of the request's tenant; the owner is the
# open episode's owner, else the assignee, if still an active member. One row per (event, user), whatever the mix.
_NOTIFY_SQL = f"""
INSERT INTO {_NOTIFICATION} (tenant_id, recipient_id, email_to, kind, subject, body, link, dedupe_key, created_at,
                             read_at, email_claimed_at, emailed_at, attempts, last_error)
SELECT ev.tenant_id, u.id, CASE WHEN %(email)s THEN u.email ELSE '' END, 'escalation',
       LEFT('Escalation: ' || r.tracking_number || ' ' || ev.summary, 200),
       'Escalation rule: ' || %(rule_name)s || ' (level ' || ev.level || ').' || chr(10)
         || r.tracking_number || ': ' || ev.summary || '.',
       '/requests/' || r.tracking_number || '/',
       'escalation:' || ev.id || ':' || u.id,
       %(now)s, NULL, NULL, NULL, 0, ''
FROM {_EVENT} ev
JOIN {_REQUEST} r ON r.id = ev.request_id
LEFT JOIN {_EPISODE} e ON e.request_id = r.id AND e.tenant_id = r.tenant_id AND e.resolved_at IS NULL
JOIN {_MEMBERSHIP} m ON m.tenant_id = ev.tenant_id AND m.is_active
JOIN {_USER} u ON u.id = m.user_id AND u.is_active
WHERE ev.id = ANY(%(event_ids)s) AND ev.tenant_id = %(tenant_id)s
  AND ((%(to_supervisors)s AND m.role = ANY(%(supervising_roles)s))
       OR (%(to_owner)s AND m.user_id = COALESCE(e.owner_id, r.assignee_id)))
ORDER BY ev.id, u.id
ON CONFLICT DO NOTHING
"""  # noqa: S608 - table names come from model metadata; every value is a query parameter


def _fire_rule(rule: EscalationRule, now: datetime, request_id: int | None = None) -> list[int]:
    conditions, params = _conditions(rule)
    if request_id is not None:
        conditions += "\n  AND r.id = %(request_id)s"
        params["request_id"] = request_id
    params.update(
        rule_id=rule.pk,
        rule_name=rule.name,
        level=rule.level,
        tenant_id=rule.tenant_id,
        now=now,
        open_states=[str(state) for state in OPEN_STATES],
    )
    sql = _FIRE_SQL.format(
        episode="e.id" if _is_exception_rule(rule) else "NULL::bigint", summary=_summary(rule), conditions=conditions
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        fired = cursor.fetchall()
        if not fired:
            return []
        event_ids = [row[0] for row in fired]
        common = {"tenant_id": rule.tenant_id, "now": now, "level": rule.level}
        if rule.raise_priority or rule.move_to_queue_id or rule.reassign_to_id:
            cursor.execute(
                _ACT_SQL,
                {
                    **common,
                    "boost": rule.raise_priority,
                    "queue_id": rule.move_to_queue_id,
                    "assignee_id": rule.reassign_to_id,
                    "request_ids": [row[1] for row in fired],
                },
            )
        episode_ids = [row[2] for row in fired if row[2] is not None]
        if episode_ids:
            cursor.execute(_EPISODE_LEVEL_SQL, {**common, "episode_ids": episode_ids})
        if rule.notify != EscalationRule.Notify.NONE:
            cursor.execute(
                _NOTIFY_SQL,
                {
                    **common,
                    "event_ids": event_ids,
                    "rule_name": rule.name,
                    "email": rule.email,
                    "to_supervisors": rule.notify in (EscalationRule.Notify.SUPERVISORS, EscalationRule.Notify.BOTH),
                    "to_owner": rule.notify in (EscalationRule.Notify.OWNER, EscalationRule.Notify.BOTH),
                    "supervising_roles": [str(role) for role in SUPERVISING_ROLES],
                },
            )
            if cursor.rowcount and rule.email:
                notifications_schedule_send()
    return event_ids


def escalations_evaluate(
    *, tenant_id: int | None = None, now: datetime | None = None, request_id: int | None = None
) -> list[int]:
    """Fire every active rule (of one tenant, or of all active tenants) and return the ids of the events fired by
    this run. One query for the rules, then per rule one INSERT, and for the events it created at most one UPDATE
    of requests, one of episodes and one INSERT of notifications, in one transaction per rule: an event never
    exists without its actions and notifications, and a failing rule does not undo the others."""
    now = now or clock.now()
    rules = EscalationRule.objects.filter(is_active=True, tenant__is_active=True).order_by("tenant_id", "level", "id")
    if tenant_id is not None:
        rules = rules.filter(tenant_id=tenant_id)
    fired: list[int] = []
    for rule in rules:
        # One request (`request_id`, with its tenant): what the rules had fired about it by `now` (the demo data).
        fired.extend(_fire_rule(rule, now, request_id))
    return fired


# --- Acknowledging -------------------------------------------------------------------------------------------------


def escalation_acknowledge(*, tenant: Tenant, actor: Any, event: EscalationEvent) -> EscalationEvent:
    """Record who acknowledged the escalation and when; the first acknowledgement stands, later calls change
    nothing. Supervisors and admins may acknowledge any escalation of their tenant, other staff only one they were
    notified of (the owner). Another tenant's escalation answers like a missing one."""
    role = role_in(actor, tenant)
    current = EscalationEvent.objects.for_tenant(tenant).filter(pk=getattr(event, "pk", None)).first()
    if role is None or current is None:
        raise EscalationNotFound("This escalation does not exist.")
    dedupe_key = f"escalation:{current.pk}:{actor.pk}"
    if role not in SUPERVISING_ROLES and not (
        Notification.objects.for_tenant(tenant).filter(dedupe_key=dedupe_key, recipient_id=actor.pk).exists()
    ):
        raise NotPermitted("Only a supervisor or the person notified can acknowledge this escalation.")
    now = clock.now()
    with transaction.atomic():
        changed = (
            EscalationEvent.objects.for_tenant(tenant)
            .filter(pk=current.pk, acknowledged_at__isnull=True, closed_at__isnull=True)
            .update(acknowledged_at=now, acknowledged_by=actor)
        )
        if changed:
            # The acknowledger's own notice of it is dealt with too.
            Notification.objects.for_tenant(tenant).filter(
                dedupe_key=dedupe_key, recipient_id=actor.pk, read_at__isnull=True
            ).update(read_at=now)
    current.refresh_from_db()
    return current


# Locked in id order (the order every bulk action takes, so two supervisors acknowledging overlapping lists cannot
# deadlock), acknowledged, and the acknowledger's own notices of them read: one statement.
_ACKNOWLEDGE_SQL = f"""
WITH locked AS (
    SELECT id FROM {_EVENT}
    WHERE tenant_id = %(tenant_id)s AND id = ANY(%(event_ids)s) AND acknowledged_at IS NULL AND closed_at IS NULL
    ORDER BY id
    FOR UPDATE
), acknowledged AS (
    UPDATE {_EVENT} ev SET acknowledged_at = %(now)s, acknowledged_by_id = %(actor_id)s
    FROM locked WHERE ev.id = locked.id AND ev.acknowledged_at IS NULL AND ev.closed_at IS NULL
    RETURNING ev.id
), seen AS (
    UPDATE {_NOTIFICATION} n SET read_at = %(now)s
    FROM acknowledged a
    WHERE n.tenant_id = %(tenant_id)s AND n.dedupe_key = 'escalation:' || a.id || ':' || %(actor_id)s::bigint
      AND n.read_at IS NULL
)
SELECT id FROM acknowledged ORDER BY id
"""  # noqa: S608 - table names come from model metadata; every value is a query parameter


def escalations_acknowledge(*, tenant: Tenant, actor: Any, event_ids: list[int]) -> list[int]:
    """Acknowledge several escalations at once (the inbox's "acknowledge all N shown" and ticked rows): a supervisor's
    action. Each escalation records who acknowledged it and when, as one acknowledged alone does; those acknowledged
    or closed meanwhile are left as they are. An id that is not an escalation of this tenant (another tenant's
    included) refuses the whole list, like a missing one, and changes nothing. Returns the ids acknowledged now.
    Two statements whatever the number of ids."""
    if not has_role(actor, tenant, SUPERVISING_ROLES):
        raise NotPermitted("Only a supervisor or admin can acknowledge escalations in bulk.")
    wanted = sorted({int(pk) for pk in event_ids})
    if not wanted:
        raise ServiceError("Tick at least one escalation to acknowledge.", field="event")
    with transaction.atomic():
        found = EscalationEvent.objects.for_tenant(tenant).filter(pk__in=wanted).count()
        if found != len(wanted):
            raise EscalationNotFound("Some of these escalations do not exist. Reload the inbox and try again.")
        with connection.cursor() as cursor:
            cursor.execute(
                _ACKNOWLEDGE_SQL,
                {"tenant_id": tenant.pk, "event_ids": wanted, "now": clock.now(), "actor_id": actor.pk},
            )
            return [row[0] for row in cursor.fetchall()]


# --- Closing with the request --------------------------------------------------------------------------------------

# The request's pending escalations (all of them, or those fired during an exception episode) close with the reason,
# and every unread notice of them is read: nobody needs to act on them any more. One statement. The notices are
# found by their dedupe keys ('escalation:<event>:<user>', _NOTIFY_SQL) over the tenant's members, so the unique
# (tenant, dedupe_key) index finds each one.
_CLOSE_SQL = f"""
WITH closed AS (
    UPDATE {_EVENT} SET closed_at = %(now)s, closed_reason = %(reason)s
    WHERE tenant_id = %(tenant_id)s AND request_id = %(request_id)s AND acknowledged_at IS NULL
      AND closed_at IS NULL {{episode_only}}
    RETURNING id
)
UPDATE {_NOTIFICATION} n SET read_at = %(now)s
FROM closed c, {_MEMBERSHIP} m
WHERE m.tenant_id = %(tenant_id)s AND n.tenant_id = %(tenant_id)s
  AND n.dedupe_key = 'escalation:' || c.id || ':' || m.user_id AND n.read_at IS NULL
"""  # noqa: S608 - table names come from model metadata; every value is a query parameter


def escalations_close_with_request(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, from_state: str, to_state: str, reason: str
) -> None:
    """workflow's transition hook (registered in ExceptionsConfig.ready): escalations about a request that moved
    past what they were about close in the transition's transaction. Delivered, denied, cancelled or closed: all of
    its pending escalations; an exception resolved: those fired during the exception (they carry its episode).
    Running it again closes nothing more. Acknowledged escalations keep their acknowledgement."""
    if to_state in FINISHED_STATES:
        episode_only = ""
    elif from_state == RequestState.EXCEPTION and to_state in OPEN_STATES:
        episode_only = "AND episode_id IS NOT NULL"
    else:
        return
    now = clock.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLOSE_SQL.format(episode_only=episode_only),
            {
                "tenant_id": tenant.pk,
                "request_id": record_request.pk,
                "now": now,
                "reason": closed_with_request_reason(tenant=tenant, to_state=to_state, at=now),
            },
        )
