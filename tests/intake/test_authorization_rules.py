"""The intake checklist's rules, table by table: every core element and required statement of 164.508(c), every
defect of 164.508(b)(2)-(3), every requestor kind's basis, sensitive categories, scope and delivery."""

from __future__ import annotations

from datetime import date

import pytest

from intake import rules
from workflow.choices import RecordType, RequestorKind, RequestType, SensitiveCategory

TODAY = date(2026, 6, 15)

COMPLETE_AUTHORIZATION = {
    "auth_describes_information": True,
    "auth_names_discloser": True,
    "auth_names_recipient": True,
    "auth_states_purpose": True,
    "auth_expiration_date": date(2027, 1, 1),
    "auth_signed": True,
    "auth_signature_date": date(2026, 6, 1),
    "auth_right_to_revoke_statement": True,
    "auth_conditioning_statement": True,
    "auth_redisclosure_statement": True,
    "auth_plain_language": True,
}


def facts(request_type=RequestType.AUTHORIZATION, kind=RequestorKind.ATTORNEY, review=None, **overrides):
    values = {
        "request_type": request_type,
        "requestor_kind": kind,
        "record_types": [RecordType.DISCHARGE_SUMMARY],
        "scope_date_from": date(2025, 1, 1),
        "scope_date_to": date(2026, 1, 1),
        "scope_notes": "",
        "sensitive_categories": [],
        "delivery_gaps": [],
        "needs_intake_completion": False,
        "open_duplicates": 0,
        "review": dict(COMPLETE_AUTHORIZATION if review is None else review),
        "today": TODAY,
    }
    values.update(overrides)
    return rules.IntakeFacts(**values)


def codes(f):
    return [d.code for d in rules.evaluate(f)]


def test_a_complete_authorization_has_no_deficiency():
    assert codes(facts()) == []


@pytest.mark.parametrize(
    ("field", "code", "citation"),
    [
        ("auth_describes_information", "AUTH_NO_DESCRIPTION", "164.508(c)(1)(i)"),
        ("auth_names_discloser", "AUTH_NO_DISCLOSER", "164.508(c)(1)(ii)"),
        ("auth_names_recipient", "AUTH_NO_RECIPIENT", "164.508(c)(1)(iii)"),
        ("auth_states_purpose", "AUTH_NO_PURPOSE", "164.508(c)(1)(iv)"),
        ("auth_signed", "AUTH_NO_SIGNATURE", "164.508(c)(1)(vi)"),
        ("auth_right_to_revoke_statement", "AUTH_NO_REVOCATION_STATEMENT", "164.508(c)(2)(i)"),
        ("auth_conditioning_statement", "AUTH_NO_CONDITIONING_STATEMENT", "164.508(c)(2)(ii)"),
        ("auth_redisclosure_statement", "AUTH_NO_REDISCLOSURE_STATEMENT", "164.508(c)(2)(iii)"),
        ("auth_plain_language", "AUTH_NOT_PLAIN_LANGUAGE", "164.508(c)(3)"),
    ],
)
def test_each_missing_element_or_statement_is_a_deficiency_with_its_citation(field, code, citation):
    review = {**COMPLETE_AUTHORIZATION, field: False}
    found = rules.evaluate(facts(review=review))
    assert [d.code for d in found] == [code]
    deficiency = found[0]
    assert citation in deficiency.citation
    assert deficiency.reason == "incomplete_authorization"
    assert "authorization" in deficiency.requestor_message.lower()
    assert deficiency.next_step


def test_no_expiration_date_or_event_is_a_deficiency():
    review = {**COMPLETE_AUTHORIZATION, "auth_expiration_date": None}
    assert codes(facts(review=review)) == ["AUTH_NO_EXPIRATION"]
    review["auth_expiration_event"] = "End of the litigation"
    assert codes(facts(review=review)) == []


def test_an_expired_authorization_is_defective():
    review = {**COMPLETE_AUTHORIZATION, "auth_expiration_date": date(2026, 6, 14)}
    found = rules.evaluate(facts(review=review))
    assert [d.code for d in found] == ["AUTH_EXPIRED"]
    assert found[0].reason == "expired_authorization"
    assert "164.508(b)(2)(i)" in found[0].citation
    assert "June 14, 2026" in found[0].requestor_message


def test_an_authorization_expiring_today_is_still_valid():
    review = {**COMPLETE_AUTHORIZATION, "auth_expiration_date": TODAY}
    assert codes(facts(review=review)) == []


@pytest.mark.parametrize(
    ("field", "code", "reason"),
    [
        ("auth_revoked", "AUTH_REVOKED", "expired_authorization"),
        ("auth_improperly_combined", "AUTH_IMPROPERLY_COMBINED", "incomplete_authorization"),
        ("auth_known_false", "AUTH_KNOWN_FALSE", "legal_review"),
    ],
)
def test_each_defect_of_164_508_b_2(field, code, reason):
    found = rules.evaluate(facts(review={**COMPLETE_AUTHORIZATION, field: True}))
    assert [(d.code, d.reason) for d in found] == [(code, reason)]


def test_psychotherapy_notes_combined_with_another_authorization_is_defective():
    review = {
        **COMPLETE_AUTHORIZATION,
        "auth_covers_psychotherapy_notes": True,
        "auth_psychotherapy_combined_with_other": True,
    }
    assert codes(facts(review=review, sensitive_categories=[SensitiveCategory.PSYCHOTHERAPY_NOTES])) == [
        "AUTH_PSYCHOTHERAPY_COMBINED"
    ]


def test_a_representative_signature_needs_a_description_of_authority():
    review = {**COMPLETE_AUTHORIZATION, "auth_signed_by_representative": True}
    assert codes(facts(review=review)) == ["AUTH_REPRESENTATIVE_AUTHORITY_NOT_DESCRIBED"]
    review["auth_representative_authority_described"] = True
    assert codes(facts(review=review)) == []


def test_an_empty_review_lists_every_missing_piece_in_letter_order():
    found = codes(facts(review={}))
    assert found[:5] == [
        "AUTH_NO_DESCRIPTION",
        "AUTH_NO_DISCLOSER",
        "AUTH_NO_RECIPIENT",
        "AUTH_NO_PURPOSE",
        "AUTH_NO_SIGNATURE",
    ]
    assert "AUTH_NO_EXPIRATION" in found
    assert rules.episode_reason(rules.evaluate(facts(review={}))) == "incomplete_authorization"


# --- Requestor kinds and bases -------------------------------------------------------------------------------

BASES = [
    (RequestType.RIGHT_OF_ACCESS, RequestorKind.PATIENT, rules.INDIVIDUAL),
    (RequestType.RIGHT_OF_ACCESS, RequestorKind.PERSONAL_REPRESENTATIVE, rules.INDIVIDUAL),
    (RequestType.RIGHT_OF_ACCESS, RequestorKind.ATTORNEY, rules.DIRECTIVE),
    (RequestType.RIGHT_OF_ACCESS, RequestorKind.INSURER, rules.DIRECTIVE),
    (RequestType.ACCOUNTING, RequestorKind.PATIENT, rules.INDIVIDUAL),
    (RequestType.AUTHORIZATION, RequestorKind.ATTORNEY, rules.AUTHORIZATION),
    (RequestType.AUTHORIZATION, RequestorKind.INSURER, rules.AUTHORIZATION),
    (RequestType.AUTHORIZATION, RequestorKind.OTHER, rules.AUTHORIZATION),
    (RequestType.CONTINUITY_OF_CARE, RequestorKind.PROVIDER, rules.TREATMENT),
    (RequestType.CONTINUITY_OF_CARE, RequestorKind.ATTORNEY, rules.AUTHORIZATION),
    (RequestType.LEGAL, RequestorKind.GOVERNMENT, rules.LEGAL),
    (RequestType.LEGAL, RequestorKind.ATTORNEY, rules.LEGAL),
    (RequestType.OTHER, RequestorKind.PATIENT, rules.INDIVIDUAL),
    (RequestType.OTHER, RequestorKind.GOVERNMENT, rules.AUTHORIZATION),
]


@pytest.mark.parametrize(("request_type", "kind", "basis"), BASES)
def test_the_basis_follows_request_type_and_requestor_kind(request_type, kind, basis):
    assert rules.basis_for(request_type, kind) == basis


@pytest.mark.parametrize(
    ("kind", "review", "expected"),
    [
        (RequestorKind.PATIENT, {}, ["IDENTITY_NOT_VERIFIED"]),
        (RequestorKind.PATIENT, {"identity_verified": True}, ["IDENTITY_NOT_VERIFIED"]),  # how it was verified, too
        (RequestorKind.PATIENT, {"identity_verified": True, "identity_method": "photo_id_copy"}, []),
        (
            RequestorKind.PERSONAL_REPRESENTATIVE,
            {"identity_verified": True, "identity_method": "notarized"},
            ["REPRESENTATIVE_AUTHORITY_MISSING"],
        ),
        (
            RequestorKind.PERSONAL_REPRESENTATIVE,
            {"identity_verified": True, "identity_method": "notarized", "authority_type": "healthcare_poa"},
            ["REPRESENTATIVE_AUTHORITY_MISSING"],
        ),
        (
            RequestorKind.PERSONAL_REPRESENTATIVE,
            {
                "identity_verified": True,
                "identity_method": "notarized",
                "authority_type": "executor",
                "authority_document_received": True,
            },
            [],
        ),
    ],
)
def test_individuals_need_identity_and_representatives_their_authority(kind, review, expected):
    assert codes(facts(RequestType.RIGHT_OF_ACCESS, kind, review=review)) == expected


def test_a_patient_directive_to_a_third_party_must_be_signed_and_name_the_recipient():
    assert codes(facts(RequestType.RIGHT_OF_ACCESS, RequestorKind.ATTORNEY, review={})) == ["DIRECTIVE_INCOMPLETE"]
    ok = {"directive_in_writing_signed": True, "directive_names_recipient_and_destination": True}
    assert codes(facts(RequestType.RIGHT_OF_ACCESS, RequestorKind.ATTORNEY, review=ok)) == []


def test_continuity_of_care_needs_a_confirmed_treating_provider():
    assert codes(facts(RequestType.CONTINUITY_OF_CARE, RequestorKind.PROVIDER, review={})) == ["PROVIDER_NOT_CONFIRMED"]
    ok = {"provider_treating_relationship_confirmed": True}
    assert codes(facts(RequestType.CONTINUITY_OF_CARE, RequestorKind.PROVIDER, review=ok)) == []


@pytest.mark.parametrize(
    ("review", "expected"),
    [
        ({}, ["LEGAL_DOCUMENT_MISSING"]),
        ({"legal_document_type": "subpoena"}, ["SUBPOENA_NO_ASSURANCE"]),
        ({"legal_document_type": "subpoena", "satisfactory_assurance": True}, []),
        ({"legal_document_type": "subpoena", "qualified_protective_order": True}, []),
        ({"legal_document_type": "court_order"}, ["COURT_ORDER_NOT_SIGNED"]),
        ({"legal_document_type": "court_order", "court_order_signed_by_judge": True}, []),
        ({"legal_document_type": "administrative"}, ["ADMINISTRATIVE_REQUEST_REVIEW"]),
    ],
)
def test_subpoenas_need_assurance_and_court_orders_a_judge(review, expected):
    found = rules.evaluate(facts(RequestType.LEGAL, RequestorKind.ATTORNEY, review=review))
    assert [d.code for d in found] == expected
    assert all(d.reason == "legal_review" for d in found)


# --- Sensitive categories, scope, delivery, duplicates --------------------------------------------------------


@pytest.mark.parametrize("category", [c for c in SensitiveCategory if c != SensitiveCategory.PSYCHOTHERAPY_NOTES])
def test_a_third_party_needs_specific_consent_for_each_sensitive_category(category):
    found = codes(facts(sensitive_categories=[category]))
    assert found == [f"CONSENT_MISSING_{category.upper()}"]
    review = {**COMPLETE_AUTHORIZATION, "consents_received": [category]}
    assert codes(facts(review=review, sensitive_categories=[category])) == []


def test_part_2_records_cite_42_cfr_part_2():
    found = rules.evaluate(facts(sensitive_categories=[SensitiveCategory.SUD_PART2]))
    assert found[0].citation == "42 CFR 2.31"


def test_psychotherapy_notes_need_their_own_authorization_for_a_third_party():
    assert codes(facts(sensitive_categories=[SensitiveCategory.PSYCHOTHERAPY_NOTES])) == [
        "CONSENT_MISSING_PSYCHOTHERAPY_NOTES"
    ]
    review = {**COMPLETE_AUTHORIZATION, "auth_covers_psychotherapy_notes": True}
    assert codes(facts(review=review, sensitive_categories=[SensitiveCategory.PSYCHOTHERAPY_NOTES])) == []


def test_a_patient_gets_their_own_sensitive_records_but_not_psychotherapy_notes():
    verified = {"identity_verified": True, "identity_method": "photo_id_in_person"}
    own = facts(
        RequestType.RIGHT_OF_ACCESS, RequestorKind.PATIENT, review=verified, sensitive_categories=["hiv", "sud_part2"]
    )
    assert codes(own) == []
    notes = facts(
        RequestType.RIGHT_OF_ACCESS,
        RequestorKind.PATIENT,
        review=verified,
        sensitive_categories=["psychotherapy_notes"],
    )
    found = rules.evaluate(notes)
    assert [d.code for d in found] == ["PSYCHOTHERAPY_NOTES_NEED_AUTHORIZATION"]
    assert "164.524(a)(1)(i)" in found[0].citation


def test_scope_needs_record_types_or_dates_and_other_needs_a_description():
    assert codes(facts(record_types=[], scope_date_from=None, scope_date_to=None)) == ["SCOPE_UNCLEAR"]
    assert codes(facts(record_types=[], scope_date_from=date(2025, 1, 1), scope_date_to=None)) == []
    assert codes(facts(record_types=[RecordType.OTHER])) == ["SCOPE_OTHER_UNDESCRIBED"]
    assert codes(facts(record_types=[RecordType.OTHER], scope_notes="Physical therapy notes")) == []


def test_delivery_gaps_become_one_deficiency_for_the_requestor():
    found = rules.evaluate(facts(delivery_gaps=["Delivery: choose how the records will be delivered."]))
    assert [d.code for d in found] == ["DELIVERY_INCOMPLETE"]
    assert found[0].reason == "awaiting_requestor"


def test_a_possible_duplicate_is_settled_by_staff_without_a_letter():
    found = rules.evaluate(facts(open_duplicates=2))
    assert [d.code for d in found] == ["POSSIBLE_DUPLICATE"]
    assert found[0].staff_only
    assert found[0].requestor_message == ""


def test_the_episode_reason_is_the_weightiest_deficiency():
    found = rules.evaluate(
        facts(
            review={**COMPLETE_AUTHORIZATION, "auth_revoked": True},
            record_types=[],
            scope_date_from=None,
            scope_date_to=None,
        )
    )
    assert {d.code for d in found} == {"AUTH_REVOKED", "SCOPE_UNCLEAR"}
    assert rules.episode_reason(found) == "expired_authorization"


def test_every_deficiency_has_a_code_citation_and_next_step():
    worst = facts(
        review={},
        record_types=[RecordType.OTHER],
        sensitive_categories=list(SensitiveCategory),
        delivery_gaps=["Delivery: x"],
        open_duplicates=1,
    )
    for deficiency in rules.evaluate(worst):
        assert deficiency.code.isupper()
        assert deficiency.citation
        assert deficiency.next_step
        assert deficiency.staff_only or deficiency.requestor_message
