"""Give every existing tenant the default escalation rules. New tenants get them from
exceptions.escalations.escalation_rules_seed_defaults when they are created.

The definitions are copied here, not imported: a migration must keep doing what it did when it was written, whatever
DEFAULT_RULES becomes later. Idempotent by rule name, so a tenant that already has a rule of that name keeps its own."""

from django.db import migrations

DEFAULT_RULES = [
    {"name": "Legal due within 5 days", "level": 1, "max_days_to_legal_due": 5, "notify": "supervisors",
     "raise_priority": 10},
    {"name": "Exception open 7 days", "level": 1, "states": ["exception"], "min_days_in_exception": 7,
     "notify": "both"},
    {"name": "Legal due date passed", "level": 2, "max_days_to_legal_due": -1, "notify": "supervisors",
     "raise_priority": 30},
    {"name": "Next action overdue on an exception", "level": 1, "next_action_overdue": True, "notify": "owner"},
]  # fmt: skip


def seed_default_rules(apps, schema_editor=None):
    Tenant = apps.get_model("roi", "Tenant")
    EscalationRule = apps.get_model("exceptions", "EscalationRule")
    for tenant in Tenant.objects.all():
        existing = set(EscalationRule.objects.filter(tenant=tenant).values_list("name", flat=True))
        EscalationRule.objects.bulk_create(
            [EscalationRule(tenant=tenant, **rule) for rule in DEFAULT_RULES if rule["name"] not in existing]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("exceptions", "0002_escalation_rules_and_events"),
    ]

    operations = [migrations.RunPython(seed_default_rules, migrations.RunPython.noop)]
