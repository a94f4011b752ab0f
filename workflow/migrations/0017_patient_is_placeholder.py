"""Placeholder patients become a fact of the row (Patient.is_placeholder) rather than a convention of the MRN. Until
now ingestion (email, fax) and the portal made them with MRN "UNIDENTIFIED-..." (intake/patients.py): those rows are
marked. The column's database default lets plain SQL inserts (benchmarks/dataset.py) leave it out."""

from django.db import migrations, models

MARK_EXISTING = "UPDATE workflow_patient SET is_placeholder = true WHERE mrn LIKE 'UNIDENTIFIED-%'"


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0016_research_label"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalpatient",
            name="is_placeholder",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        migrations.AddField(
            model_name="patient",
            name="is_placeholder",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        # Runs as the owner with the tenant wall lifted (roi/management/commands/migrate.py): every tenant's rows.
        migrations.RunSQL(MARK_EXISTING, reverse_sql=migrations.RunSQL.noop),
    ]
