"""exceptions' events on the request timeline (workflow/timeline.py): each exception episode opened and resolved,
and each escalation rule that fired. Two SQL statements whatever their number."""

from __future__ import annotations

from exceptions.models import EscalationEvent, ExceptionEpisode
from roi.models import Tenant
from workflow.choices import TimelineCategory
from workflow.extensions import BY_SYSTEM, TimelineEvent, actor_name
from workflow.models import RecordRequest


def exceptions_timeline(*, tenant: Tenant, record_request: RecordRequest) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    episodes = (
        ExceptionEpisode.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("opened_by", "resolved_by")
    )
    for episode in episodes:
        reason = episode.get_reason_display()
        events.append(
            TimelineEvent(
                at=episode.opened_at,
                title=f"Exception opened: {reason}",
                detail=f"{episode.detail} Next step: {episode.next_step}.",
                who=actor_name(episode.opened_by),
                category=TimelineCategory.CHANGE,
            )
        )
        if episode.resolved_at is not None:
            events.append(
                TimelineEvent(
                    at=episode.resolved_at,
                    title=f"Exception resolved: {reason}",
                    detail=episode.resolution,
                    who=actor_name(episode.resolved_by),
                    category=TimelineCategory.CHANGE,
                )
            )
    escalations = EscalationEvent.objects.for_tenant(tenant).filter(request_id=record_request.pk).select_related("rule")
    for escalation in escalations:
        events.append(
            TimelineEvent(
                at=escalation.fired_at,
                title=f"Escalated: {escalation.rule.name} (level {escalation.level})",
                detail=escalation.summary,
                who=BY_SYSTEM,
                category=TimelineCategory.CHANGE,
            )
        )
    return events
