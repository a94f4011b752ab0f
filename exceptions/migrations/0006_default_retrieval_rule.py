"""Give every existing tenant the default rule for records a department has not sent: supervisors hear of a
retrieval task open more than 5 days. New tenants get it from exceptions.escalations.escalation_rules_seed_defaults.

Copied, not imported, like 0003's rules; idempotent by name, so a tenant with its own rule of that name keeps it."""

from django.db import migrations

DEFAULT_RULES = [
    {"name": "Retrieval waiting over 5 days", "level": 1, "min_days_waiting_on_retrieval": 5, "notify": "supervisors"},
]


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
        ("exceptions", "0005_escalation_waiting_on_retrieval"),
    ]

    operations = [migrations.RunPython(seed_default_rules, migrations.RunPython.noop)]
