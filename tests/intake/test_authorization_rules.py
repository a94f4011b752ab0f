"""The intake checklist's rules, table by table: every core element and required statement of 164.508(c), every
defect of 164.508(b)(2)-(3), every requestor kind's basis, the records a request relies on (the authorization or
directive, a representative's authority), psychotherapy notes, Part 2 records, sensitive categories, scope and
delivery. The release gate runs the same rules at the moment of release (tests/fulfillment/test_gate.py)."""

from __future__ import annotations

from dataclasses import replace
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
    "auth_right_to_revoke_statement": True,
    "auth_conditioning_statement": True,
    "auth_redisclosure_statement": True,
    "auth_plain_language": True,
}
# The authorization as recorded from the signed form: signed by the patient, naming the requestor's firm.
SIGNED = rules.AuthorizationFacts(
    kind="authorization", signed_on=date(2026, 6, 1), recipient="Hartley & Moss LLP", expires_on=date(2027, 1, 1)
)
NOT_GIVEN = object()


def facts(
    request_type=RequestType.AUTHORIZATION,
    kind=RequestorKind.ATTORNEY,
    review=None,
    authorization=NOT_GIVEN,
    **overrides,
):
    if authorization is NOT_GIVEN:
        authorization = SIGNED if rules.basis_for(request_type, kind) == rules.AUTHORIZATION else None
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
        "received_on": date(2026, 6, 10),
        "requestor_names": ("Dana Moss", "Hartley & Moss LLP"),
        "authorization": authorization,
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
        ("auth_right_to_revoke_statement", "AUTH_NO_REVOCATION_STATEMENT", "164.508(c)(2)(i)"),
        ("auth_conditioning_statement", "AUTH_NO_CONDITIONING_STATEMENT", "164.508(c)(2)(ii)"),
        ("auth_redisclosure_statement", "AUTH_NO_REDISCLOSURE_STATEMENT", "164.508(c)(2)(iii)"),
        ("auth_plain_language", "AUTH_NOT_PLAIN_LANGUAGE", "164.508(c)(3)"),
    ],
)
def test_164_508_c_each_missing_element_or_statement_is_a_deficiency_with_its_citation(field, code, citation):
    review = {**COMPLETE_AUTHORIZATION, field: False}
    found = rules.evaluate(facts(review=review))
    assert [d.code for d in found] == [code]
    deficiency = found[0]
    assert citation in deficiency.citation
    assert deficiency.reason == "incomplete_authorization"
    assert deficiency.subject == "Authorization"
    assert "authorization" in deficiency.requestor_message.lower()
    assert deficiency.next_step


def test_164_508_c_1_vi_no_authorization_on_file_asks_for_a_signed_and_dated_one():
    found = rules.evaluate(facts(authorization=None))
    assert [d.code for d in found] == ["AUTH_NOT_ON_FILE"]
    assert found[0].citation == "45 CFR 164.508(a)(1), (c)(1)(vi)"
    assert "signed and dated" in found[0].requestor_message


def test_164_508_c_1_v_no_expiration_date_or_event_is_a_deficiency():
    assert codes(facts(authorization=replace(SIGNED, expires_on=None))) == ["AUTH_NO_EXPIRATION"]
    assert codes(facts(authorization=replace(SIGNED, expires_on=None, expiration_event="End of the litigation"))) == []


def test_164_508_b_2_i_an_expired_authorization_is_defective():
    found = rules.evaluate(facts(authorization=replace(SIGNED, expires_on=date(2026, 6, 14))))
    assert [d.code for d in found] == ["AUTH_EXPIRED"]
    assert found[0].reason == "expired_authorization"
    assert "164.508(b)(2)(i)" in found[0].citation
    assert "June 14, 2026" in found[0].requestor_message


def test_164_508_b_2_i_expiry_is_compared_with_the_date_received_as_well_as_today():
    found = rules.evaluate(
        facts(authorization=replace(SIGNED, signed_on=date(2026, 1, 1), expires_on=date(2026, 6, 9)))
    )
    assert [d.code for d in found] == ["AUTH_EXPIRED_WHEN_RECEIVED"]
    assert "before we received it" in found[0].requestor_message


def test_164_508_b_2_i_an_expiration_event_known_to_have_occurred_makes_it_defective():
    by_event = replace(SIGNED, expires_on=None, expiration_event="End of the lawsuit")
    assert codes(facts(authorization=by_event)) == []
    found = rules.evaluate(facts(authorization=replace(by_event, event_occurred_on=date(2026, 6, 12))))
    assert [d.code for d in found] == ["AUTH_EXPIRATION_EVENT_OCCURRED"]
    assert "164.508(b)(2)(i)" in found[0].citation


def test_an_authorization_expiring_today_is_still_valid():
    assert codes(facts(authorization=replace(SIGNED, expires_on=TODAY))) == []


def test_164_508_b_2_iii_a_revoked_authorization_is_defective_with_the_right_citation():
    found = rules.evaluate(facts(authorization=replace(SIGNED, revoked_on=date(2026, 6, 12))))
    assert [(d.code, d.reason) for d in found] == [("AUTH_REVOKED", "authorization_revoked")]
    assert found[0].citation == "45 CFR 164.508(b)(2)(iii), (b)(5)"


@pytest.mark.parametrize(
    ("field", "code", "reason", "citation"),
    [
        ("auth_improperly_combined", "AUTH_IMPROPERLY_COMBINED", "incomplete_authorization", "164.508(b)(2)(iv)"),
        ("auth_known_false", "AUTH_KNOWN_FALSE", "legal_review", "164.508(b)(2)(v)"),
    ],
)
def test_164_508_b_2_each_defect_only_a_reader_sees(field, code, reason, citation):
    found = rules.evaluate(facts(review={**COMPLETE_AUTHORIZATION, field: True}))
    assert [(d.code, d.reason) for d in found] == [(code, reason)]
    assert citation in found[0].citation


def test_164_508_c_1_iii_an_authorization_naming_someone_else_is_refused():
    found = rules.evaluate(facts(authorization=replace(SIGNED, recipient="Acme Insurance")))
    assert [d.code for d in found] == ["AUTH_RECIPIENT_NOT_REQUESTOR"]
    assert "164.508(c)(1)(iii)" in found[0].citation
    # The firm named, the attorney asking: the same recipient.
    assert codes(facts(authorization=replace(SIGNED, recipient="HARTLEY & MOSS, L.L.P."))) == []


def test_164_508_b_3_ii_psychotherapy_notes_asked_for_with_other_records_under_one_authorization_is_defective():
    asked = facts(
        record_types=[RecordType.PSYCHOTHERAPY_NOTES, RecordType.LAB],
        authorization=replace(SIGNED, covers_psychotherapy_notes=True),
    )
    found = rules.evaluate(asked)
    assert [d.code for d in found] == ["AUTH_PSYCHOTHERAPY_COMBINED"]
    assert "164.508(b)(3)(ii)" in found[0].citation
    # Derived from what is asked for, whatever the authorization says of itself.
    assert codes(facts(record_types=[RecordType.PSYCHOTHERAPY_NOTES, RecordType.LAB])) == [
        "AUTH_PSYCHOTHERAPY_COMBINED"
    ]


def test_164_508_a_2_psychotherapy_notes_alone_need_an_authorization_for_them():
    alone = [RecordType.PSYCHOTHERAPY_NOTES]
    assert codes(facts(record_types=alone)) == ["AUTH_PSYCHOTHERAPY_NOT_COVERED"]
    assert codes(facts(record_types=alone, authorization=replace(SIGNED, covers_psychotherapy_notes=True))) == []
    # A psychotherapy-notes authorization covers nothing else.
    assert codes(facts(authorization=replace(SIGNED, covers_psychotherapy_notes=True))) == [
        "AUTH_PSYCHOTHERAPY_COMBINED"
    ]


def test_164_508_c_1_vi_a_representative_signature_needs_a_description_and_proven_authority():
    rep = rules.RepresentativeFacts(name="Ann Lee", authority_type="healthcare_poa", has_document=True, verified=True)
    by_rep = replace(SIGNED, representative=rep)
    assert codes(facts(authorization=by_rep, review={**COMPLETE_AUTHORIZATION})) == [
        "AUTH_REPRESENTATIVE_AUTHORITY_NOT_DESCRIBED"
    ]
    described = {**COMPLETE_AUTHORIZATION, "auth_representative_authority_described": True}
    assert codes(facts(authorization=by_rep, review=described)) == []
    unproven = replace(SIGNED, representative=replace(rep, has_document=False, verified=False))
    assert codes(facts(authorization=unproven, review=described)) == ["REPRESENTATIVE_AUTHORITY_MISSING"]


def test_an_empty_review_lists_every_missing_piece_in_letter_order():
    found = codes(facts(review={}, authorization=None))
    assert found[:5] == [
        "AUTH_NOT_ON_FILE",
        "AUTH_NO_DESCRIPTION",
        "AUTH_NO_DISCLOSER",
        "AUTH_NO_RECIPIENT",
        "AUTH_NO_PURPOSE",
    ]
    assert rules.episode_reason(rules.evaluate(facts(review={}, authorization=None))) == "incomplete_authorization"


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
    ],
)
def test_164_514_h_individuals_need_verified_identity(kind, review, expected):
    assert codes(facts(RequestType.RIGHT_OF_ACCESS, kind, review=review)) == expected


VERIFIED = {"identity_verified": True, "identity_method": "notarized"}
PROVEN = rules.RepresentativeFacts(name="Ann Lee", authority_type="healthcare_poa", has_document=True, verified=True)


@pytest.mark.parametrize(
    ("representative", "documents", "expected"),
    [
        (None, frozenset(), ["REPRESENTATIVE_AUTHORITY_MISSING"]),  # nothing received: the requestor is asked
        (None, frozenset({"authority"}), ["REPRESENTATIVE_AUTHORITY_NOT_RECORDED"]),  # received: staff record it
        (replace(PROVEN, has_document=False, verified=False), frozenset(), ["REPRESENTATIVE_AUTHORITY_MISSING"]),
        (replace(PROVEN, verified=False), frozenset({"authority"}), ["REPRESENTATIVE_AUTHORITY_NOT_VERIFIED"]),
        (replace(PROVEN, ends_on=date(2026, 6, 1)), frozenset({"authority"}), ["REPRESENTATIVE_AUTHORITY_ENDED"]),
        (PROVEN, frozenset({"authority"}), []),
    ],
)
def test_164_502_g_a_representative_is_the_patient_only_with_a_document_a_named_staff_member_checked(
    representative, documents, expected
):
    found = rules.evaluate(
        facts(
            RequestType.RIGHT_OF_ACCESS,
            RequestorKind.PERSONAL_REPRESENTATIVE,
            review=VERIFIED,
            representative=representative,
            document_kinds=documents,
        )
    )
    assert [d.code for d in found] == expected
    assert all("164.502(g)" in d.citation for d in found)
    # Recording and checking the document is staff work: no letter for it.
    assert all(
        d.staff_only == (d.code in ("REPRESENTATIVE_AUTHORITY_NOT_RECORDED", "REPRESENTATIVE_AUTHORITY_NOT_VERIFIED"))
        for d in found
    )


DIRECTIVE = replace(SIGNED, kind="directive", expires_on=None)


def test_164_524_c_3_ii_a_patient_directive_to_a_third_party_must_be_signed_and_name_the_recipient():
    assert codes(facts(RequestType.RIGHT_OF_ACCESS, RequestorKind.ATTORNEY, review={})) == [
        "DIRECTIVE_NOT_ON_FILE",
        "DIRECTIVE_INCOMPLETE",
    ]
    ok = {"directive_in_writing_signed": True, "directive_names_recipient_and_destination": True}
    assert codes(facts(RequestType.RIGHT_OF_ACCESS, RequestorKind.ATTORNEY, review=ok, authorization=DIRECTIVE)) == []
    withdrawn = facts(
        RequestType.RIGHT_OF_ACCESS,
        RequestorKind.ATTORNEY,
        review=ok,
        authorization=replace(DIRECTIVE, revoked_on=date(2026, 6, 12)),
    )
    assert codes(withdrawn) == ["DIRECTIVE_REVOKED"]
    elsewhere = facts(
        RequestType.RIGHT_OF_ACCESS, RequestorKind.ATTORNEY, review=ok, authorization=replace(DIRECTIVE, recipient="X")
    )
    assert codes(elsewhere) == ["DIRECTIVE_RECIPIENT_NOT_REQUESTOR"]


def test_an_authorization_recorded_without_its_document_is_recorded_again_from_the_form():
    """Authorizations carried over from the checklist's old ticks name no document: staff record them again."""
    found = rules.evaluate(facts(authorization=replace(SIGNED, has_document=False)))
    assert [d.code for d in found] == ["BASIS_RECORD_WITHOUT_DOCUMENT"]
    assert found[0].staff_only


def test_a_directive_recorded_where_an_authorization_is_needed_is_staff_work():
    found = rules.evaluate(facts(authorization=DIRECTIVE))
    assert [d.code for d in found] == ["BASIS_RECORD_WRONG_KIND"]
    assert found[0].staff_only


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
        ({"legal_document_type": "administrative"}, ["ADMINISTRATIVE_REQUEST_NOT_A_SUBPOENA"]),
    ],
)
def test_subpoenas_need_assurance_and_court_orders_a_judge(review, expected):
    found = rules.evaluate(facts(RequestType.LEGAL, RequestorKind.ATTORNEY, review=review))
    assert [d.code for d in found] == expected
    assert all(d.reason == "legal_review" for d in found)


# --- Sensitive categories, scope, delivery, duplicates --------------------------------------------------------


# Psychotherapy notes have rules of their own; so does a minor's own care, which needs nothing more on the patient's
# own authorization (the minor is the individual) and is tested with the parents' rules below.
CONSENTED_CATEGORIES = [
    c for c in SensitiveCategory if c not in (SensitiveCategory.PSYCHOTHERAPY_NOTES, SensitiveCategory.MINOR_CONSENTED)
]


@pytest.mark.parametrize("category", CONSENTED_CATEGORIES)
def test_a_third_party_needs_specific_consent_for_each_sensitive_category(category):
    answered = {**COMPLETE_AUTHORIZATION, "part2_use_against_patient": "no"}
    found = codes(facts(review=answered, sensitive_categories=[category]))
    assert found == [f"CONSENT_MISSING_{category.upper()}"]
    review = {**answered, "consents_received": [category]}
    assert codes(facts(review=review, sensitive_categories=[category])) == []


def test_42_cfr_2_31_part_2_records_cite_title_42_and_are_labelled_a_part_2_consent():
    found = {d.code: d for d in rules.evaluate(facts(sensitive_categories=[SensitiveCategory.SUD_PART2]))}
    assert found["CONSENT_MISSING_SUD_PART2"].citation == "42 CFR 2.31"
    assert found["CONSENT_MISSING_SUD_PART2"].subject == "Part 2 consent"
    assert found["PART2_USE_UNKNOWN"].citation == "42 CFR 2.12(d), 2.33"


def test_psychotherapy_notes_for_treatment_need_an_authorization_of_their_own():
    found = rules.evaluate(
        facts(
            RequestType.CONTINUITY_OF_CARE,
            RequestorKind.PROVIDER,
            review={"provider_treating_relationship_confirmed": True},
            sensitive_categories=[SensitiveCategory.PSYCHOTHERAPY_NOTES],
        )
    )
    assert [d.code for d in found] == ["PSYCHOTHERAPY_NOTES_NEED_AUTHORIZATION"]
    assert "164.508(a)(2)" in found[0].citation


def test_164_524_a_1_i_a_patient_gets_their_own_sensitive_records_and_psychotherapy_notes_are_denied_not_lettered():
    verified = {"identity_verified": True, "identity_method": "photo_id_in_person"}
    own = facts(
        RequestType.RIGHT_OF_ACCESS, RequestorKind.PATIENT, review=verified, sensitive_categories=["hiv", "sud_part2"]
    )
    assert codes(own) == []
    # Psychotherapy notes are not part of the right of access: no deficiency letter asking for an authorization;
    # a supervisor denies them (unreviewable) and the rest is released (the release gate holds the release until
    # the denial is written: tests/fulfillment/test_gate.py).
    notes = facts(
        RequestType.RIGHT_OF_ACCESS,
        RequestorKind.PATIENT,
        review=verified,
        record_types=[RecordType.PSYCHOTHERAPY_NOTES, RecordType.LAB],
    )
    assert codes(notes) == []


# --- 42 CFR Part 2 records asked for by a court, an attorney or an agency --------------------------------------

LEGAL_OK = {"legal_document_type": "subpoena", "satisfactory_assurance": True}


def part2(review, kind=RequestorKind.ATTORNEY):
    return codes(facts(RequestType.LEGAL, kind, review=review, sensitive_categories=[SensitiveCategory.SUD_PART2]))


def test_42_cfr_2_12_d_whether_part2_records_would_be_used_against_the_patient_must_be_known():
    assert "PART2_USE_UNKNOWN" in part2({**LEGAL_OK, "consents_received": ["sud_part2"]})
    assert part2({**LEGAL_OK, "consents_received": ["sud_part2"], "part2_use_against_patient": "no"}) == []


def test_42_cfr_2_61_a_subpoena_alone_never_releases_part2_records():
    found = part2({**LEGAL_OK, "part2_use_against_patient": "no"})
    assert found == ["PART2_NO_CONSENT_OR_ORDER"]


@pytest.mark.parametrize(
    ("order", "findings", "missing"),
    [
        ("2.64", ["other_means", "outweighs_harm", "limited"], False),
        ("2.64", ["other_means", "outweighs_harm"], True),
        (
            "2.65",
            ["serious_crime", "substantial_value", "other_means", "outweighs_harm", "holder_counsel", "limited"],
            False,
        ),
        ("2.65", ["other_means", "outweighs_harm", "limited"], True),
        ("2.66", ["other_means", "outweighs_harm", "limited", "not_against_patients"], False),
    ],
)
def test_42_cfr_2_64_to_2_66_a_court_order_must_state_its_findings(order, findings, missing):
    review = {
        **LEGAL_OK,
        "part2_use_against_patient": "no",
        "part2_court_order": order,
        "part2_order_findings": findings,
    }
    found = part2(review)
    assert found == (["PART2_ORDER_FINDINGS_MISSING"] if missing else [])


def test_42_cfr_2_33_use_against_the_patient_needs_a_2_64_or_2_65_order_or_the_patients_consent_to_that_use():
    against = {**LEGAL_OK, "consents_received": ["sud_part2"], "part2_use_against_patient": "yes"}
    assert part2(against) == ["PART2_USE_AGAINST_PATIENT"]
    assert part2({**against, "part2_proceedings_consent": True}) == []
    order = {
        **against,
        "part2_court_order": "2.65",
        "part2_order_findings": [
            "serious_crime",
            "substantial_value",
            "other_means",
            "outweighs_harm",
            "holder_counsel",
            "limited",
        ],
    }
    assert part2(order) == []
    program = {
        **against,
        "part2_court_order": "2.66",
        "part2_order_findings": ["other_means", "outweighs_harm", "limited", "not_against_patients"],
    }
    assert part2(program) == ["PART2_PROGRAM_ORDER_AGAINST_PATIENT"]


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
            authorization=replace(SIGNED, revoked_on=date(2026, 6, 12)),
            record_types=[],
            scope_date_from=None,
            scope_date_to=None,
        )
    )
    assert {d.code for d in found} == {"AUTH_REVOKED", "SCOPE_UNCLEAR"}
    assert rules.episode_reason(found) == "authorization_revoked"


def test_every_deficiency_has_a_code_citation_and_next_step():
    worst = facts(
        review={},
        authorization=None,
        record_types=[RecordType.OTHER],
        sensitive_categories=list(SensitiveCategory),
        delivery_gaps=["Delivery: x"],
        open_duplicates=1,
    )
    for deficiency in rules.evaluate(worst):
        assert deficiency.subject
        assert deficiency.code.isupper()
        assert deficiency.citation
        assert deficiency.next_step
        assert deficiency.staff_only or deficiency.requestor_message


# --- Marketing, sale of health information, conditioning (164.508(a)(3)-(4), (b)(4)) ------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"auth_purpose": "marketing"}, []),  # marketing nobody pays us for: no statement needed
        ({"auth_purpose": "marketing", "auth_remuneration_involved": True}, ["AUTH_MARKETING_NO_REMUNERATION_STATEMENT"]),
        ({"auth_purpose": "marketing", "auth_remuneration_involved": True, "auth_remuneration_statement": True}, []),
        ({"auth_purpose": "sale"}, ["AUTH_SALE_NO_REMUNERATION_STATEMENT"]),
        ({"auth_purpose": "sale", "auth_remuneration_statement": True}, []),
        ({"auth_purpose": "research"}, []),
    ],
)  # fmt: skip
def test_164_508_a_3_and_a_4_marketing_paid_by_a_third_party_and_a_sale_need_the_remuneration_statement(
    answers, expected
):
    found = rules.evaluate(facts(kind=RequestorKind.OTHER, review={**COMPLETE_AUTHORIZATION, **answers}))
    assert [d.code for d in found] == expected
    citations = {"AUTH_MARKETING_NO_REMUNERATION_STATEMENT": "45 CFR 164.508(a)(3)(ii)",
                 "AUTH_SALE_NO_REMUNERATION_STATEMENT": "45 CFR 164.508(a)(4)(i)"}  # fmt: skip
    assert [d.citation for d in found] == [citations[code] for code in expected]
    assert all(d.requestor_message for d in found)  # the drug company is told what to send


def test_164_508_b_4_an_authorization_conditioning_treatment_on_signing_is_defective():
    found = rules.evaluate(facts(review={**COMPLETE_AUTHORIZATION, "auth_conditions_benefits": True}))
    assert [(d.code, d.citation) for d in found] == [("AUTH_CONDITIONS_BENEFITS", "45 CFR 164.508(b)(2)(iv), (b)(4)")]


# --- A minor's own care (164.502(g)(3)) --------------------------------------------------------------------------

PARENT = rules.RepresentativeFacts(name="Lee Park", authority_type="parent_of_minor", has_document=True, verified=True)
MINOR = [SensitiveCategory.MINOR_CONSENTED]


def test_164_502_g_3_a_parent_asking_as_representative_is_not_given_the_minors_own_care():
    f = facts(RequestType.RIGHT_OF_ACCESS, RequestorKind.PERSONAL_REPRESENTATIVE, representative=PARENT,
              review={"identity_verified": True, "identity_method": "photo_id_copy"}, sensitive_categories=MINOR)  # fmt: skip
    assert codes(f) == ["MINOR_CONSENTED_CARE_TO_PARENT"]
    # The patient's own authorization for it, recorded as the category's consent, lets it go to the parent.
    consented = replace(f, review={**f.review, "consents_received": MINOR})
    assert codes(consented) == []
    # Another kind of representative (a guardian appointed by a court) is not the rule's parent.
    guardian = replace(f, representative=replace(PARENT, authority_type="guardian"))
    assert codes(guardian) == []


def test_164_502_g_3_an_authorization_signed_by_the_parent_does_not_cover_the_minors_own_care():
    signed_by_parent = replace(SIGNED, representative=PARENT)
    review = {**COMPLETE_AUTHORIZATION, "auth_representative_authority_described": True}
    f = facts(authorization=signed_by_parent, review=review, sensitive_categories=MINOR)
    assert codes(f) == ["MINOR_CONSENTED_CARE_TO_PARENT"]
    # Signed by the patient: nothing more is needed for that category.
    assert codes(facts(sensitive_categories=MINOR)) == []


# --- Decedents and parents: the authority must fit the patient (164.502(g)(3)-(4)) -------------------------------

EXECUTOR = replace(PROVEN, authority_type="executor")


def test_164_502_g_4_an_executor_acts_only_for_a_patient_recorded_as_deceased():
    alive = facts(RequestType.RIGHT_OF_ACCESS, RequestorKind.PERSONAL_REPRESENTATIVE, review=VERIFIED,
                  representative=EXECUTOR, document_kinds=frozenset({"authority"}))  # fmt: skip
    found = rules.evaluate(alive)
    assert [(d.code, d.citation, d.staff_only) for d in found] == [
        ("REPRESENTATIVE_EXECUTOR_PATIENT_NOT_DECEASED", "45 CFR 164.502(g)(4)", True)
    ]
    assert codes(replace(alive, patient_died_on=date(2025, 11, 2))) == []


@pytest.mark.parametrize(
    ("born", "age_of_majority", "expected"),
    [
        (date(2010, 3, 1), 18, []),  # 16: a minor
        (date(2008, 6, 16), 18, []),  # 18 tomorrow
        (date(2008, 6, 15), 18, ["REPRESENTATIVE_PARENT_OF_ADULT"]),  # 18 today
        (date(2008, 6, 15), 19, []),  # 18 in Alabama or Nebraska: still a minor
    ],
)
def test_164_502_g_3_a_parent_acts_as_parent_only_for_a_minor(born, age_of_majority, expected):
    parent = replace(PROVEN, authority_type="parent_of_minor")
    f = facts(RequestType.RIGHT_OF_ACCESS, RequestorKind.PERSONAL_REPRESENTATIVE, review=VERIFIED,
              representative=parent, document_kinds=frozenset({"authority"}), patient_born_on=born,
              age_of_majority=age_of_majority)  # fmt: skip
    found = rules.evaluate(f)
    assert [d.code for d in found] == expected
    assert all(d.requestor_message and d.citation == "45 CFR 164.502(g)(2)-(3)" for d in found)
