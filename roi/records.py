"""Records of fact: rows that say what happened (who looked at what, which transition, which QC answer, what was
delivered, disclosed, denied or written to the requestor, and every row of change history). Nobody rewrites them:

- the app role may read and add them, never delete them, and may update only the *write-once* columns of a few
  tables (a later step of the same fact, filled in once: a denial's review, a disclosure marked entered in error,
  the outbox row a letter went out through); a correction is a new row that points at what it corrects;
- a trigger on each table refuses the same for every role, the owner included, and refuses TRUNCATE, so that a
  slip at a psql prompt does not erase the audit trail either. (An owner can drop a trigger; the audit chain's
  anchors outside the database, roi/anchors.py, are what detects that.)

Installed after every migrate with the tenant policies (roi/rls.py `policies_install`). A data migration that must
change such rows says so explicitly (`ALTER TABLE ... DISABLE TRIGGER roi_record_of_fact`) and is reviewed as such.
"""

from __future__ import annotations

from typing import Any

# Table: the columns a later step fills in once (from NULL, '', [], {} or false) after the row was written;
# "column<other" may change until `other` is filled in (a denial's reviewer, until the review's outcome).
RECORDS_OF_FACT: dict[str, tuple[str, ...]] = {
    "roi_accessevent": (),
    "roi_platformaccess": (),
    "workflow_requesttransition": (),
    "workflow_requestnote": (),  # an edit is a new version that replaces the old one (workflow/notes.py)
    "fulfillment_qcreview": (),
    "fulfillment_delivery": (),
    "fulfillment_disclosure": ("entered_in_error_at", "entered_in_error_reason"),
    "fulfillment_denial": (
        "withheld",
        "letter_id",
        "review_requested_at",
        "reviewer_id<review_outcome",
        "review_outcome",
        "review_note",
        "reviewer_attested_licensed<review_outcome",
        "reviewed_at",
        "review_letter_id",
    ),
    "intake_letter": ("notification_id", "emailed_to", "emailed_at"),
}
# Every change-history table (django-simple-history) is a record of fact too, whatever its app.
HISTORY_TABLE_PATTERN = r"^[a-z0-9]+_historical[a-z0-9_]+$"
# Set only by the test suite's flush between transactional tests (tests/conftest.py): the one TRUNCATE allowed.
SETTING_ERASE = "roi.erase_records_of_fact"

TRIGGER = "roi_record_of_fact"

_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.roi_record_of_fact() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  later text[] := coalesce(TG_ARGV, '{{}}'::text[]);
  names text[];
  before jsonb;
  after jsonb;
  item text;
  col text;
  settled_by text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    IF coalesce(current_setting('{erase}', true), '') = 'test suite' THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is a record of fact: it is never truncated', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION '% is a record of fact: its rows are never deleted', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege', HINT = 'Record a correction as a new row.';
  END IF;
  before := to_jsonb(OLD);
  after := to_jsonb(NEW);
  names := ARRAY(SELECT split_part(entry, '<', 1) FROM unnest(later) AS entry);
  IF (before - names) IS DISTINCT FROM (after - names) THEN
    RAISE EXCEPTION '% is a record of fact: its rows are never changed', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege', HINT = 'Record a correction as a new row.';
  END IF;
  FOREACH item IN ARRAY later LOOP
    col := split_part(item, '<', 1);
    settled_by := nullif(split_part(item, '<', 2), '');
    CONTINUE WHEN before -> col IS NOT DISTINCT FROM after -> col;
    IF settled_by IS NOT NULL THEN
      IF coalesce(before -> settled_by, 'null') NOT IN ('null', '""', '[]', '{{}}', 'false') THEN
        RAISE EXCEPTION '%.% is settled once % is filled in', TG_TABLE_NAME, col, settled_by
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    ELSIF coalesce(before -> col, 'null') NOT IN ('null', '""', '[]', '{{}}', 'false') THEN
      RAISE EXCEPTION '%.% was already filled in: it is written once', TG_TABLE_NAME, col
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END LOOP;
  RETURN NEW;
END
$$;
"""


def tables(cursor: Any) -> list[tuple[str, tuple[str, ...]]]:
    """The records of fact that exist in the database: (table, write-once columns)."""
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'r' AND (c.relname = ANY(%s) OR c.relname ~ %s)
        ORDER BY c.relname
        """,
        [list(RECORDS_OF_FACT), HISTORY_TABLE_PATTERN],
    )
    return [(name, RECORDS_OF_FACT.get(name, ())) for (name,) in cursor.fetchall()]


def append_only_install(connection: Any) -> list[str]:
    """The trigger on every record of fact (and the function it runs). Quiet when each table has it already."""
    quote = connection.ops.quote_name
    changed = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        cursor.execute(_FUNCTION.format(schema=schema, erase=SETTING_ERASE))
        cursor.execute(
            """
            SELECT c.relname, t.tgname, t.tgargs
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname IN (%s, %s)
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
            """,
            [TRIGGER, TRIGGER + "_truncate"],
        )
        present: dict[str, dict[str, tuple[str, ...]]] = {}
        for table, name, raw in cursor.fetchall():
            present.setdefault(table, {})[name] = tuple(part.decode() for part in bytes(raw).split(b"\0")[:-1])
        for table, write_once in tables(cursor):
            quoted = quote(table)
            arguments = ", ".join(quote_literal(cursor, column) for column in write_once)
            existing = present.get(table, {})
            statements = []
            if existing.get(TRIGGER) != write_once:
                if TRIGGER in existing:  # its columns changed with a release
                    statements.append(f"DROP TRIGGER {TRIGGER} ON {quoted}")
                statements.append(
                    f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {quoted} "
                    f"FOR EACH ROW EXECUTE FUNCTION {schema}.roi_record_of_fact({arguments})"
                )
            if TRIGGER + "_truncate" not in existing:
                statements.append(
                    f"CREATE TRIGGER {TRIGGER}_truncate BEFORE TRUNCATE ON {quoted} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.roi_record_of_fact()"
                )
            for statement in statements:
                cursor.execute(statement)
            if statements:
                changed.append(table)
    return changed


def quote_literal(cursor: Any, value: str) -> str:
    cursor.execute("SELECT quote_literal(%s)", [value])
    quoted: str = cursor.fetchone()[0]
    return quoted


def rewritable_by(cursor: Any, role: str) -> list[str]:
    """Records of fact the role could change or remove: a privilege it should not have, or a trigger missing."""
    found = []
    for table, write_once in tables(cursor):
        cursor.execute(
            """
            SELECT has_table_privilege(%s, %s, 'DELETE'), has_table_privilege(%s, %s, 'TRUNCATE'),
                   has_table_privilege(%s, %s, 'UPDATE'),
                   (SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname IN (%s, %s) AND tgenabled <> 'D')
            """,
            [role, table, role, table, role, table, table, TRIGGER, TRIGGER + "_truncate"],
        )
        delete, truncate, update, triggers = cursor.fetchone()
        if delete or truncate or (update and not write_once) or triggers < 2:
            found.append(table)
    return found
