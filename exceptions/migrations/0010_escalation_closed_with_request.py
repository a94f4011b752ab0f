"""Escalations close themselves when their request moves on (exceptions.escalations.escalations_close_with_request).
The ones already stale close here: pending escalations of requests delivered, closed, denied or cancelled (at the
moment the request moved there, the reason in the organisation's calendar), and exception escalations whose episode
was resolved; their unread notices are read. Running it again changes nothing."""

from django.conf import settings
from django.db import migrations, models


FINISHED = "('delivered', 'closed', 'denied', 'cancelled')"

BACKFILL = f"""
WITH stale AS (
    SELECT ev.id, moved.at AS moved_at, 'request ' || r.state AS what, t.timezone
    FROM exceptions_escalationevent ev
    JOIN workflow_recordrequest r ON r.id = ev.request_id
    JOIN roi_tenant t ON t.id = ev.tenant_id
    CROSS JOIN LATERAL (
        SELECT COALESCE(
            (SELECT max(rt.at) FROM workflow_requesttransition rt WHERE rt.request_id = r.id AND rt.to_state = r.state),
            r.updated_at) AS at
    ) moved
    WHERE ev.acknowledged_at IS NULL AND ev.closed_at IS NULL AND r.state IN {FINISHED}
    UNION ALL
    SELECT ev.id, e.resolved_at, 'exception resolved', t.timezone
    FROM exceptions_escalationevent ev
    JOIN exceptions_exceptionepisode e ON e.id = ev.episode_id
    JOIN workflow_recordrequest r ON r.id = ev.request_id
    JOIN roi_tenant t ON t.id = ev.tenant_id
    WHERE ev.acknowledged_at IS NULL AND ev.closed_at IS NULL AND e.resolved_at IS NOT NULL
      AND r.state NOT IN {FINISHED}
)
UPDATE exceptions_escalationevent ev
   SET closed_at = stale.moved_at,
       closed_reason = stale.what || ' on ' || to_char((stale.moved_at AT TIME ZONE stale.timezone)::date, 'Mon FMDD, YYYY')
  FROM stale
 WHERE ev.id = stale.id;

UPDATE roi_notification n
   SET read_at = ev.closed_at
  FROM exceptions_escalationevent ev
 WHERE n.kind = 'escalation' AND n.read_at IS NULL AND n.tenant_id = ev.tenant_id AND ev.closed_at IS NOT NULL
   AND split_part(n.dedupe_key, ':', 2) = ev.id::text;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('exceptions', '0009_authorization_revoked_reason'),
        ('roi', '0018_access_actions_slowed_not_locked'),
        ('workflow', '0017_patient_is_placeholder'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='escalationevent',
            name='closed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='escalationevent',
            name='closed_reason',
            field=models.CharField(blank=True, db_default='', max_length=200),
        ),
        migrations.AddIndex(
            model_name='escalationevent',
            index=models.Index(condition=models.Q(('acknowledged_at__isnull', True), ('closed_at__isnull', True)), fields=['tenant', 'request'], name='escalation_pending_idx'),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
