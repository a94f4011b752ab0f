"""The database itself refuses to change or remove an access event, whatever the application does."""

from django.db import migrations

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION roi_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("roi", "0001_initial")]

    operations = [
        migrations.RunSQL(REFUSE_FUNCTION, "DROP FUNCTION IF EXISTS roi_refuse_change();"),
        migrations.RunSQL(
            "CREATE TRIGGER roi_accessevent_append_only BEFORE UPDATE OR DELETE ON roi_accessevent "
            "FOR EACH ROW EXECUTE FUNCTION roi_refuse_change();",
            "DROP TRIGGER IF EXISTS roi_accessevent_append_only ON roi_accessevent;",
        ),
    ]
