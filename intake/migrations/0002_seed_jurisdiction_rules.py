"""The deadline rules every tenant starts with. Federal rules are from the regulation's text; the state rules are
examples (docs/domain.md, "Deadlines and state rules"), marked unverified until someone checks the statute and flips `verified`."""

from django.db import migrations

RULES = [
    # jurisdiction, request type, days, day kind, extension days, description, citation, verified
    ("US", "right_of_access", 30, "calendar", 30, "HIPAA right of access: act on the request",
     "45 CFR 164.524(b)(2)", True),
    ("US", "accounting", 60, "calendar", 30, "HIPAA accounting of disclosures", "45 CFR 164.528(c)(1)", True),
    ("CA", "right_of_access", 15, "calendar", 0, "California: copies of records (inspection within 5 working days)",
     "Cal. Health & Safety Code 123110(b)", False),
    ("TX", "right_of_access", 15, "business", 0, "Texas: electronic health records on request",
     "Tex. Health & Safety Code 181.102", False),
    ("NY", "right_of_access", 10, "calendar", 0, "New York: inspection within 10 days (copies within a reasonable "
     "time); treated as the clock for copies to stay on the safe side", "N.Y. Public Health Law 18(2)", False),
    ("MT", "right_of_access", 10, "calendar", 11, "Montana: within 10 days, extendable to 21",
     "Mont. Code Ann. 50-16-541", False),
]  # fmt: skip


def seed(apps, schema_editor):
    seed_rules(apps.get_model("intake", "JurisdictionRule"))


def seed_rules(rule_model) -> None:  # type: ignore[no-untyped-def]
    """Also used by tests that run after a database flush (transactional tests empty every table)."""
    for jurisdiction, request_type, days, day_kind, extension, description, citation, verified in RULES:
        rule_model.objects.get_or_create(
            jurisdiction=jurisdiction,
            request_type=request_type,
            days=days,
            defaults={
                "day_kind": day_kind,
                "extension_days": extension,
                "description": description,
                "citation": citation,
                "verified": verified,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
