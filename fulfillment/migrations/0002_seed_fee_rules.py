"""Fees: the fee rule table every tenant starts with. Federal rules are from the regulation's text (verified); the
state rules are the examples of docs/domain.md ("Fees"), marked unverified until someone checks the statute (and its current,
inflation-adjusted amounts) and flips `verified`."""

from django.db import migrations

THIRD_PARTY = ["authorization", "legal", "other"]
ALL: list[str] = []

# jurisdiction, request types, base fee, page tiers, max total, cost based, waived, waiver purpose, description,
# citation, verified
RULES = [
    ("US", ["right_of_access"], 0, [], None, True, False, "",
     "HIPAA right of access: a reasonable, cost-based fee (copying labour, supplies, postage) by the method in the "
     "fulfillment settings; never a search or retrieval fee", "45 CFR 164.524(c)(4)", True),
    ("US", ["accounting"], 0, [], None, False, True, "",
     "Accounting of disclosures: the first in any 12 months is free (a later one may carry a cost-based fee only "
     "after the individual is told in advance; not computed here)", "45 CFR 164.528(c)(2)", True),
    ("CA", THIRD_PARTY, 0, [{"up_to": None, "cents": 25}], None, False, False, "",
     "California: copies at most $0.25 per page (example; verify which requestors the limit covers)",
     "Cal. Health & Safety Code 123110", False),
    ("NY", THIRD_PARTY, 0, [{"up_to": None, "cents": 75}], None, False, False, "",
     "New York: copies at most $0.75 per page (example; verify)", "N.Y. Public Health Law 18(2)(e)", False),
    ("TX", THIRD_PARTY, 3000,
     [{"up_to": 10, "cents": 0}, {"up_to": 60, "cents": 100}, {"up_to": 400, "cents": 50}, {"up_to": None, "cents": 25}],
     None, False, False, "",
     "Texas hospitals: a retrieval and processing fee that covers the first 10 pages, then $1.00 a page to 60, $0.50 "
     "to 400, $0.25 after (statutory base amounts, adjusted yearly for inflation: verify the current ones)",
     "Tex. Health & Safety Code 241.154", False),
    ("GA", ALL, 0, [], None, False, True, "disability_claim",
     "Georgia: no fee for records requested for a disability benefits claim (example; verify)",
     "O.C.G.A. 31-33-3", False),
    ("MD", ALL, 0, [], None, False, True, "disability_claim",
     "Maryland: no fee for records requested for a disability benefits claim (example; verify)",
     "Md. Code, Health-Gen. 4-304(c)", False),
    ("WV", ALL, 0, [], None, False, True, "disability_claim",
     "West Virginia: no fee for records requested for a disability benefits claim (example; verify)",
     "W. Va. Code 16-29-2", False),
]  # fmt: skip


def seed(apps, schema_editor):
    seed_rules(apps.get_model("fulfillment", "FeeRule"))


def seed_rules(rule_model) -> None:  # type: ignore[no-untyped-def]
    """Also used by tests that run after a database flush (transactional tests empty every table)."""
    for (jurisdiction, types, base, tiers, cap, cost_based, waived, purpose, description, citation,
         verified) in RULES:  # fmt: skip
        rule_model.objects.get_or_create(
            jurisdiction=jurisdiction,
            citation=citation,
            waiver_purpose=purpose,
            defaults={
                "request_types": types,
                "base_fee_cents": base,
                "page_tiers": tiers,
                "max_total_cents": cap,
                "cost_based": cost_based,
                "waived": waived,
                "description": description,
                "verified": verified,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
