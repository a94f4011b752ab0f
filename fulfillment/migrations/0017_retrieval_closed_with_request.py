"""Retrieval tasks close with their request (fulfillment.retrieval.retrieval_tasks_close_with_request). The ones still
open on a request already delivered, closed, denied or cancelled close here, at the moment the request moved there,
each with its history row, and those requests stop waiting on retrieval. Running it again changes nothing."""

from django.db import migrations, models


FINISHED = "('delivered', 'closed', 'denied', 'cancelled')"


def close_stale_tasks(apps, schema_editor):
    history = apps.get_model("fulfillment", "HistoricalRetrievalTask")
    shared = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    columns = ", ".join(f'"{column}"' for column in shared)
    schema_editor.execute(f"""
WITH stale AS (
    SELECT task.id, moved.at AS moved_at, r.state, t.timezone
    FROM fulfillment_retrievaltask task
    JOIN workflow_recordrequest r ON r.id = task.request_id
    JOIN roi_tenant t ON t.id = task.tenant_id
    CROSS JOIN LATERAL (
        SELECT COALESCE(
            (SELECT max(rt.at) FROM workflow_requesttransition rt WHERE rt.request_id = r.id AND rt.to_state = r.state),
            r.updated_at) AS at
    ) moved
    WHERE task.status = 'requested' AND r.state IN {FINISHED}
), closed AS (
    UPDATE fulfillment_retrievaltask task
       SET status = 'closed_with_request', closed_at = stale.moved_at,
           outcome_note = 'Closed: request ' || stale.state || ' on '
                          || to_char((stale.moved_at AT TIME ZONE stale.timezone)::date, 'Mon FMDD, YYYY') || '.'
      FROM stale
     WHERE task.id = stale.id
    RETURNING task.*
), history AS (
    INSERT INTO fulfillment_historicalretrievaltask ({columns}, history_date, history_change_reason, history_type,
                                                     history_user_id)
    SELECT {columns}, now(), 'Closed with the request', '~', NULL FROM closed
)
UPDATE workflow_recordrequest SET retrieval_waiting_since = NULL
 WHERE retrieval_waiting_since IS NOT NULL AND state IN {FINISHED}
""")


class Migration(migrations.Migration):

    dependencies = [
        ('fulfillment', '0016_disclosure_corrections'),
        ('workflow', '0017_patient_is_placeholder'),
    ]

    operations = [
        migrations.AlterField(
            model_name='historicalretrievaltask',
            name='status',
            field=models.CharField(choices=[('requested', 'Requested'), ('received', 'Received'), ('not_available', 'Nothing held'), ('cancelled', 'Cancelled'), ('closed_with_request', 'Closed with the request')], default='requested', max_length=20),
        ),
        migrations.AlterField(
            model_name='retrievaltask',
            name='status',
            field=models.CharField(choices=[('requested', 'Requested'), ('received', 'Received'), ('not_available', 'Nothing held'), ('cancelled', 'Cancelled'), ('closed_with_request', 'Closed with the request')], default='requested', max_length=20),
        ),
        migrations.RunPython(close_stale_tasks, migrations.RunPython.noop),
    ]
