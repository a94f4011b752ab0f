"""A state's consent rule for a sensitive category (intake.models.ConsentRule): the bases on which its law lets HIV,
mental health, genetic or reproductive records go without the patient's specific consent, cited by the checklist and
the release gate. Without an active rule every basis but the individual's own request needs the consent."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from intake import rules, services
from intake.models import ConsentRule
from tests import factories
from workflow.choices import RequestorKind, RequestType

HIV = "hiv"


def _codes_and_citations(rr):
    found = rules.evaluate(services.intake_facts(tenant=rr.tenant, record_request=rr))
    return [(d.code, d.citation) for d in found]


def _provider_request(tenant, **fields):
    rr = factories.RecordRequestFactory(
        tenant=tenant, request_type=RequestType.CONTINUITY_OF_CARE, requestor__kind=RequestorKind.PROVIDER,
        sensitive_categories=[HIV], **fields,
    )  # fmt: skip
    factories.complete_review(rr, consents_received=[])
    return rr


@pytest.mark.django_db
def test_without_an_active_rule_a_provider_needs_the_hiv_consent(tenant_a):
    rr = _provider_request(tenant_a)
    assert _codes_and_citations(rr) == [("CONSENT_MISSING_HIV", "State law (organisation policy)")]


@pytest.mark.django_db
def test_the_seeded_state_rules_are_inactive_examples_until_someone_checks_them():
    seeded = ConsentRule.objects.all()
    assert seeded.count() >= 4
    assert not seeded.filter(is_active=True).exists()
    assert not seeded.filter(verified=True).exists()


@pytest.mark.django_db
def test_a_state_rule_lets_a_category_go_on_the_bases_it_names_and_is_cited_on_the_others(tenant_a):
    ConsentRule.objects.filter(jurisdiction="CA", category=HIV).update(is_active=True)
    rr = _provider_request(tenant_a)
    assert _codes_and_citations(rr) == []  # treatment: the state's law needs no specific consent

    third_party = factories.RecordRequestFactory(
        tenant=tenant_a, requestor__kind=RequestorKind.ATTORNEY, sensitive_categories=[HIV]
    )
    factories.complete_review(third_party, consents_received=[])
    assert _codes_and_citations(third_party) == [
        ("CONSENT_MISSING_HIV", "Cal. Health & Safety Code 120985, 121022 (example rule, unverified)")
    ]
    ConsentRule.objects.filter(jurisdiction="CA", category=HIV).update(verified=True)
    assert _codes_and_citations(third_party)[0][1] == "Cal. Health & Safety Code 120985, 121022"


@pytest.mark.django_db
def test_a_request_without_a_state_category_reads_no_rule(tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__kind=RequestorKind.ATTORNEY)
    factories.complete_review(rr)
    facts = services.intake_facts(tenant=tenant_a, record_request=rr)
    with CaptureQueriesContext(connection) as queries:
        rules.evaluate(facts)
    assert not [q for q in queries.captured_queries if "consentrule" in q["sql"]]
