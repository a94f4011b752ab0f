"""Access events form a hash chain per tenant, computed by the database on every INSERT.

Why in a trigger: every writer (access_record, raw SQL, a future bulk load) is covered and the application still
does one INSERT. Why per tenant: a tenant's rows must be able to move (export, restore elsewhere) as a unit.

Ordering: inserts of one tenant are serialised by a transaction-level advisory lock, and the row takes its id from
the sequence only after the lock is held. The lock is released at commit, so the next writer of the tenant sees the
committed row (each statement of a plpgsql function takes a fresh snapshot under READ COMMITTED) and gets a larger
id: a tenant's chain order is its id order, which is what `manage.py verify_audit_chain` walks. Under REPEATABLE READ
or SERIALIZABLE the snapshot could miss the previous row and fork the chain, so the trigger refuses those.

Canonical text (reproduced in Python by roi.audit.access_event_canonical, keep the two in step): 'v1', then each
field as `<UTF-8 byte length>:<text>`, or `~` for NULL, joined by '|'; length prefixes make the text unambiguous
without escaping. Fields in this order: id, tenant_id, at (UTC, microseconds), actor_id, actor_label, action,
object_type, object_id, request_id, patient_id, detail, host(ip_address), user_agent.
row_hash = sha256_hex(prev_hash || '|' || canonical); the first row of a tenant has prev_hash = 64 zeros.
"""

from django.db import migrations, models

FIELD_FUNCTION = """
CREATE OR REPLACE FUNCTION roi_chain_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN '~' ELSE octet_length(value)::text || ':' || value END
$$;
"""

CANONICAL_FUNCTION = """
CREATE OR REPLACE FUNCTION roi_accessevent_canonical(e roi_accessevent) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT concat_ws('|', 'v1',
        roi_chain_field(e.id::text),
        roi_chain_field(e.tenant_id::text),
        roi_chain_field(to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        roi_chain_field(e.actor_id::text),
        roi_chain_field(e.actor_label),
        roi_chain_field(e.action),
        roi_chain_field(e.object_type),
        roi_chain_field(e.object_id),
        roi_chain_field(e.request_id::text),
        roi_chain_field(e.patient_id::text),
        roi_chain_field(e.detail),
        roi_chain_field(host(e.ip_address)),
        roi_chain_field(e.user_agent))
$$;
"""

HASH_FUNCTION = """
CREATE OR REPLACE FUNCTION roi_accessevent_hash(prev_hash text, e roi_accessevent) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(prev_hash || '|' || roi_accessevent_canonical(e), 'UTF8')), 'hex')
$$;
"""

# The advisory lock's keys: a constant used by nothing else ('ROIA'), and the tenant id folded into int4 (two
# tenants sharing a key only wait for each other).
CHAIN_FUNCTION = """
CREATE OR REPLACE FUNCTION roi_accessevent_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'roi_accessevent: access events are written under READ COMMITTED only'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The hash chain must see the previous committed row of the tenant.';
    END IF;
    PERFORM pg_advisory_xact_lock(1380927809, (NEW.tenant_id % 2147483647)::int);
    NEW.id := nextval(pg_get_serial_sequence('roi_accessevent', 'id'));
    SELECT row_hash INTO previous FROM roi_accessevent
        WHERE tenant_id = NEW.tenant_id ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(previous, repeat('0', 64));
    NEW.row_hash := roi_accessevent_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END;
$$;
"""

# Rows written before the chain existed, chained in (tenant, id) order. The append-only trigger is off only for
# this statement's transaction (migrations run in one), and back on before the migration commits.
BACKFILL = """
ALTER TABLE roi_accessevent DISABLE TRIGGER roi_accessevent_append_only;
DO $$
DECLARE
    e roi_accessevent;
    last_tenant bigint := NULL;
    previous text;
BEGIN
    FOR e IN SELECT * FROM roi_accessevent ORDER BY tenant_id, id LOOP
        IF last_tenant IS DISTINCT FROM e.tenant_id THEN
            previous := repeat('0', 64);
            last_tenant := e.tenant_id;
        END IF;
        UPDATE roi_accessevent SET prev_hash = previous, row_hash = roi_accessevent_hash(previous, e)
            WHERE id = e.id RETURNING row_hash INTO previous;
    END LOOP;
END;
$$;
ALTER TABLE roi_accessevent ENABLE TRIGGER roi_accessevent_append_only;
"""

# Reversed, the rows keep their (now unchecked) hashes until RemoveField drops the columns.
UNDO_BACKFILL = "SELECT 1;"

INSTALL_TRIGGER = (
    "CREATE TRIGGER roi_accessevent_chain BEFORE INSERT ON roi_accessevent "
    "FOR EACH ROW EXECUTE FUNCTION roi_accessevent_chain();"
)
DROP_TRIGGER = "DROP TRIGGER IF EXISTS roi_accessevent_chain ON roi_accessevent;"
DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS roi_accessevent_chain();
DROP FUNCTION IF EXISTS roi_accessevent_hash(text, roi_accessevent);
DROP FUNCTION IF EXISTS roi_accessevent_canonical(roi_accessevent);
DROP FUNCTION IF EXISTS roi_chain_field(text);
"""


class Migration(migrations.Migration):
    dependencies = [("roi", "0008_access_action_index")]

    operations = [
        migrations.AddField(
            model_name="accessevent",
            name="prev_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="accessevent",
            name="row_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="accessevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("view_request", "Viewed request"),
                    ("list_requests", "Listed requests"),
                    ("download_document", "Downloaded document"),
                    ("export", "Exported data"),
                    ("search_patients", "Searched patients"),
                    ("view_patient", "Viewed patient"),
                    ("view_audit", "Viewed audit trail"),
                    ("portal_lookup", "Portal: verified status lookup"),
                    ("portal_status_view", "Portal: viewed status"),
                    ("portal_lockout", "Portal: lookups locked after failures"),
                    ("portal_upload", "Portal: uploaded a document"),
                ],
                max_length=40,
            ),
        ),
        migrations.AddIndex(
            model_name="accessevent",
            index=models.Index(fields=["tenant", "id"], name="access_chain_idx"),
        ),
        migrations.RunSQL(
            FIELD_FUNCTION + CANONICAL_FUNCTION + HASH_FUNCTION + CHAIN_FUNCTION,
            DROP_FUNCTIONS,
        ),
        migrations.RunSQL(BACKFILL, UNDO_BACKFILL),
        migrations.RunSQL(INSTALL_TRIGGER, DROP_TRIGGER),
    ]
