"""A day's request rollup disappears the moment a request that counts on that day changes, so the dashboard never
reads a stale rollup (it computes such a day from the requests until the hourly job rolls it up again).

The trigger fires only on the columns the rollups read, and only does work for days before the organisation's
today (rollups exist for finished days only). It takes a shared advisory lock of the organisation; the rollup job
takes the same lock exclusively, so a job never reads requests while a writer that will invalidate its day is still
uncommitted (reporting/rollups.py).

A change of the organisation's time zone moves every day's boundaries: all its rollups go.
"""

from django.db import migrations

LOCK_KEY = 1380928332  # a constant used by nothing else; reporting/rollups.py uses the same

INVALIDATE = f"""
CREATE OR REPLACE FUNCTION reporting_rollup_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    today date;
    days date[] := '{{}}';
BEGIN
    SELECT timezone INTO tz FROM roi_tenant WHERE id = NEW.tenant_id;
    IF TG_OP = 'INSERT' THEN
        days := ARRAY[(NEW.received_at AT TIME ZONE tz)::date];
        IF NEW.delivered_at IS NOT NULL THEN
            days := days || (NEW.delivered_at AT TIME ZONE tz)::date;
        END IF;
    ELSE
        IF (OLD.received_at, OLD.channel, OLD.request_type)
           IS DISTINCT FROM (NEW.received_at, NEW.channel, NEW.request_type) THEN
            days := days || (OLD.received_at AT TIME ZONE tz)::date || (NEW.received_at AT TIME ZONE tz)::date;
        END IF;
        IF (OLD.delivered_at, OLD.assignee_id, OLD.legal_due_date, OLD.internal_target_date, OLD.received_at,
            OLD.channel, OLD.request_type)
           IS DISTINCT FROM (NEW.delivered_at, NEW.assignee_id, NEW.legal_due_date, NEW.internal_target_date,
            NEW.received_at, NEW.channel, NEW.request_type) THEN
            IF OLD.delivered_at IS NOT NULL THEN
                days := days || (OLD.delivered_at AT TIME ZONE tz)::date;
            END IF;
            IF NEW.delivered_at IS NOT NULL THEN
                days := days || (NEW.delivered_at AT TIME ZONE tz)::date;
            END IF;
        END IF;
    END IF;
    today := (now() AT TIME ZONE tz)::date;
    days := ARRAY(SELECT d FROM unnest(days) d WHERE d < today);
    IF cardinality(days) > 0 THEN
        PERFORM pg_advisory_xact_lock_shared({LOCK_KEY}, (NEW.tenant_id % 2147483647)::int);
        DELETE FROM reporting_requestrollup WHERE tenant_id = NEW.tenant_id AND day = ANY(days);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER reporting_rollup_invalidate
    AFTER INSERT OR UPDATE OF received_at, delivered_at, channel, request_type, assignee_id, legal_due_date,
        internal_target_date
    ON workflow_recordrequest FOR EACH ROW EXECUTE FUNCTION reporting_rollup_invalidate();

CREATE OR REPLACE FUNCTION reporting_rollup_timezone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.timezone IS DISTINCT FROM NEW.timezone THEN
        PERFORM pg_advisory_xact_lock_shared({LOCK_KEY}, (NEW.id % 2147483647)::int);
        DELETE FROM reporting_requestrollup WHERE tenant_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER reporting_rollup_timezone AFTER UPDATE OF timezone ON roi_tenant
    FOR EACH ROW EXECUTE FUNCTION reporting_rollup_timezone();
"""

REMOVE = """
DROP TRIGGER IF EXISTS reporting_rollup_invalidate ON workflow_recordrequest;
DROP TRIGGER IF EXISTS reporting_rollup_timezone ON roi_tenant;
DROP FUNCTION IF EXISTS reporting_rollup_invalidate();
DROP FUNCTION IF EXISTS reporting_rollup_timezone();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0002_request_rollups"),
        ("workflow", "0009_delivered_index"),
    ]

    operations = [migrations.RunSQL(INVALIDATE, REMOVE)]
