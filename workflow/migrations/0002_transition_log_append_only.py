"""The transition log is evidence: the database refuses UPDATE and DELETE on it (function from roi 0002)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("workflow", "0001_initial"), ("roi", "0002_access_event_append_only")]

    operations = [
        migrations.RunSQL(
            "CREATE TRIGGER workflow_requesttransition_append_only BEFORE UPDATE OR DELETE "
            "ON workflow_requesttransition FOR EACH ROW EXECUTE FUNCTION roi_refuse_change();",
            "DROP TRIGGER IF EXISTS workflow_requesttransition_append_only ON workflow_requesttransition;",
        ),
    ]
