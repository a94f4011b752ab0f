# Search's candidate lookups as SECURITY DEFINER functions (workflow/search.py, docs/security.md "Search under the
# wall").
#
# Under row-level security PostgreSQL evaluates a condition inside an index scan only when every function in it is
# leakproof, so that a condition cannot see a row before the tenant policy has passed it. replace(), upper(),
# regexp_replace() and pg_trgm's `%` are not, so the expression and trigram indexes of 0018 went unused and each
# search read the tenant's every request (344 ms at 155,874 requests). These functions run as their owner, whom the
# platform policy lets see every row, so their conditions use the indexes; each names the tenant of the caller's
# signed scope itself (roi_current_tenant(), NULL without a valid scope: then nothing matches), and each returns ids
# and scores only. ROWS: what a call returns at most as a rule (PostgreSQL would assume 1,000 and join a requestor's
# candidates by reading every request of the tenant). The SQL is frozen here: a change is a new migration.

from django.db import migrations, models

FUNCTIONS = {
    "workflow_search_requests_by_tracking": """
CREATE OR REPLACE FUNCTION {schema}.workflow_search_requests_by_tracking(compact text)
RETURNS TABLE (request_id bigint)
ROWS 1 LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
  RETURN QUERY SELECT r.id FROM workflow_recordrequest r
  WHERE r.tenant_id = roi_current_tenant() AND replace(r.tracking_number, '-', '') = compact;
END
$$""",
    "workflow_search_patients_by_mrn": """
CREATE OR REPLACE FUNCTION {schema}.workflow_search_patients_by_mrn(typed text)
RETURNS TABLE (patient_id bigint)
ROWS 1 LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
  RETURN QUERY SELECT p.id FROM workflow_patient p
  WHERE p.tenant_id = roi_current_tenant() AND NOT p.is_placeholder AND upper(p.mrn) = typed;
END
$$""",
    # `%` is similarity >= pg_trgm.similarity_threshold (0.3 by default), which the trigram index answers; the most
    # similar `candidates` only, since a common surname matches thousands. The planner prices `%` like `=` (pg_trgm
    # declares it cheap) and would rather read the tenant's every patient through the tenant index and test each:
    # 150 ms at 77,937 patients, against 22 ms through the trigram index. The function's own settings leave it the
    # trigram index (a bitmap scan); they last for the call only.
    "workflow_search_patients_by_name": """
CREATE OR REPLACE FUNCTION {schema}.workflow_search_patients_by_name(term text, candidates integer)
RETURNS TABLE (patient_id bigint, score real)
ROWS 50 LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp
SET enable_seqscan = off SET enable_indexscan = off AS $$
DECLARE
  tenant bigint := roi_current_tenant();
BEGIN
  RETURN QUERY SELECT p.id, similarity(p.first_name || ' ' || p.last_name, term) AS s FROM workflow_patient p
  WHERE p.tenant_id = tenant AND NOT p.is_placeholder
    AND (p.first_name || ' ' || p.last_name) % term
  ORDER BY s DESC, p.id LIMIT candidates;
END
$$""",
    "workflow_search_requestors_by_phone": """
CREATE OR REPLACE FUNCTION {schema}.workflow_search_requestors_by_phone(phones text[])
RETURNS TABLE (requestor_id bigint)
ROWS 5 LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
BEGIN
  RETURN QUERY SELECT q.id FROM workflow_requestor q
  WHERE q.tenant_id = roi_current_tenant() AND regexp_replace(q.phone, '[^0-9]', '', 'g') = ANY(phones);
END
$$""",
    # Each requestor close to the term by name, organisation or email, with the three similarities and whether the
    # email is the term itself; the caller names the kind. One trigram index scan per column (an OR of the three
    # would be planned as a read of every requestor of the tenant), the same settings as for patients' names.
    "workflow_search_requestors_by_text": """
CREATE OR REPLACE FUNCTION {schema}.workflow_search_requestors_by_text(term text, candidates integer)
RETURNS TABLE (requestor_id bigint, name_score real, organization_score real, email_score real, email_exact boolean)
ROWS 20 LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp
SET enable_seqscan = off SET enable_indexscan = off AS $$
DECLARE
  tenant bigint := roi_current_tenant();
BEGIN
  RETURN QUERY SELECT q.id, similarity(q.name, term), similarity(q.organization, term), similarity(q.email, term),
                      lower(q.email) = lower(term)
  FROM workflow_requestor q WHERE q.id IN (
    SELECT n.id FROM workflow_requestor n WHERE n.tenant_id = tenant AND n.name % term
    UNION SELECT o.id FROM workflow_requestor o WHERE o.tenant_id = tenant AND o.organization % term
    UNION SELECT e.id FROM workflow_requestor e WHERE e.tenant_id = tenant AND e.email % term
  )
  ORDER BY CASE WHEN lower(q.email) = lower(term) THEN 1
                ELSE greatest(similarity(q.name, term), similarity(q.organization, term), similarity(q.email, term))
           END DESC, q.id
  LIMIT candidates;
END
$$""",
    # The most recent requests of each requestor found (an insurer may have sent thousands), through the index on
    # (tenant, requestor, received_at): under the policy, whose lookup clause (a tracking number) is OR-ed with the
    # tenant's, each requestor's requests would be read whole and sorted.
    "workflow_search_recent_requests": """
CREATE OR REPLACE FUNCTION {schema}.workflow_search_recent_requests(requestors bigint[], per_requestor integer)
RETURNS TABLE (requestor_id bigint, request_id bigint, received_at timestamptz)
ROWS 100 LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
  tenant bigint := roi_current_tenant();
BEGIN
  RETURN QUERY SELECT q.id, r.id, r.received_at FROM unnest(requestors) AS q(id) CROSS JOIN LATERAL (
    SELECT x.id, x.received_at FROM workflow_recordrequest x
    WHERE x.tenant_id = tenant AND x.requestor_id = q.id ORDER BY x.received_at DESC LIMIT per_requestor
  ) r;
END
$$""",
}
SIGNATURES = {
    "workflow_search_requests_by_tracking": "text",
    "workflow_search_patients_by_mrn": "text",
    "workflow_search_patients_by_name": "text, integer",
    "workflow_search_requestors_by_phone": "text[]",
    "workflow_search_requestors_by_text": "text, integer",
    "workflow_search_recent_requests": "bigint[], integer",
}


def _schema(schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return schema_editor.connection.ops.quote_name(cursor.fetchone()[0])


def create(apps, schema_editor):
    schema = _schema(schema_editor)
    for sql in FUNCTIONS.values():
        schema_editor.execute(sql.format(schema=schema), params=None)


def drop(apps, schema_editor):
    schema = _schema(schema_editor)
    for name, arguments in SIGNATURES.items():
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {schema}.{name}({arguments})", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0020_queue_sorts_and_saved_views"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="recordrequest",
            index=models.Index(
                fields=["tenant", "requestor", "-received_at"], include=["id"], name="request_requestor_recent_idx"
            ),
        ),
        migrations.RunPython(create, drop),
    ]
