"""Forms of the intake checklist page and the intake panel: the checklist itself (IntakeReview's fields, grouped into
the sections that matter for the request's basis), the extension form and the duplicate-link form.

Each checklist question is written the way a specialist asks it while looking at the document, with the rule it
comes from. Only the sections for the request's basis are on the form, so a save never touches the answers of
another basis (a request whose type is corrected keeps what was confirmed before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms

from intake import bases, rules
from intake.choices import Part2Finding
from intake.models import IntakeReview
from workflow.choices import RequestState, SensitiveCategory


@dataclass(frozen=True)
class Question:
    field: str  # an IntakeReview field, or "consent_<category>" for one entry of consents_received
    label: str  # what the specialist answers, in plain language
    citation: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    citation: str
    questions: tuple[Question, ...]
    intro: str = ""


Q = Question

IDENTITY = Section(
    "identity",
    "Identity & authority",
    "45 CFR 164.514(h), 164.502(g)",
    (
        Q("identity_verified", "Did you verify that the requestor is who they say they are?", "45 CFR 164.514(h)"),
        Q("identity_method", "How did you verify it?", "45 CFR 164.514(h)"),
    ),
)

DIRECTIVE = Section(
    "directive",
    "Patient's directive to a third party",
    "45 CFR 164.524(c)(3)(ii)",
    (
        Q(
            "directive_in_writing_signed",
            "Is the patient's request to send the records to someone else in writing and signed by the patient?",
            "45 CFR 164.524(c)(3)(ii)",
        ),
        Q(
            "directive_names_recipient_and_destination",
            "Does it name who should receive the records and where to send them?",
            "45 CFR 164.524(c)(3)(ii)",
        ),
    ),
)

AUTH_ELEMENTS = Section(
    "auth-elements",
    "Authorization elements",
    "45 CFR 164.508(c)(1)",
    (
        Q(
            "auth_describes_information",
            "Does the form describe, specifically and meaningfully, which information to release?",
            "45 CFR 164.508(c)(1)(i)",
        ),
        Q(
            "auth_names_discloser",
            "Does it name our organisation (or the class of providers) as allowed to release it?",
            "45 CFR 164.508(c)(1)(ii)",
        ),
        Q("auth_names_recipient", "Does it name who may receive the information?", "45 CFR 164.508(c)(1)(iii)"),
        Q(
            "auth_states_purpose",
            'Does it state the purpose of the release? ("At the request of the individual" is enough when the '
            "patient asks.)",
            "45 CFR 164.508(c)(1)(iv)",
        ),
        Q(
            "auth_representative_authority_described",
            "If a representative signed it, does it describe their authority to act for the patient?",
            "45 CFR 164.508(c)(1)(vi)",
        ),
    ),
    intro="Who signed it, when, until when and whom it names are recorded with the authorization itself (above).",
)

AUTH_STATEMENTS = Section(
    "auth-statements",
    "Required statements",
    "45 CFR 164.508(c)(2), (c)(3)",
    (
        Q(
            "auth_right_to_revoke_statement",
            "Does it say the patient may revoke it in writing, and how?",
            "45 CFR 164.508(c)(2)(i)",
        ),
        Q(
            "auth_conditioning_statement",
            "Does it say whether treatment, payment or enrollment may depend on signing it?",
            "45 CFR 164.508(c)(2)(ii)",
        ),
        Q(
            "auth_redisclosure_statement",
            "Does it warn that the recipient may re-disclose the information, which is then no longer protected?",
            "45 CFR 164.508(c)(2)(iii)",
        ),
        Q("auth_plain_language", "Is it written in plain language?", "45 CFR 164.508(c)(3)"),
    ),
)

AUTH_DEFECTS = Section(
    "auth-defects",
    "Defects only a reader of the form can see",
    "45 CFR 164.508(b)(2)(iv)-(v), (b)(3)",
    (
        Q(
            "auth_improperly_combined",
            "Is it combined with another document in a way the rule does not allow?",
            "45 CFR 164.508(b)(2)(iv), (b)(3)",
        ),
        Q("auth_known_false", "Is any material information in it known to be false?", "45 CFR 164.508(b)(2)(v)"),
        Q(
            "auth_conditions_benefits",
            "Does it make treatment, payment, enrollment or eligibility depend on signing it (allowed only for "
            "research-related treatment, a health plan's enrollment decisions, or care given only to produce "
            "information for a third party)?",
            "45 CFR 164.508(b)(2)(iv), (b)(4)",
        ),
    ),
    intro="Tick only what is true: each ticked box here is a defect. A revocation, an expiry and psychotherapy notes "
    "combined with other records are found by the rules from the records, not ticked.",
)

AUTH_PURPOSE = Section(
    "auth-purpose",
    "Marketing, sale of information, research",
    "45 CFR 164.508(a)(3)-(4), (b)(3)-(4)",
    (
        Q("auth_purpose", "Is the authorization for marketing, a sale of health information, or research?",
          "45 CFR 164.508(a)(3), (a)(4), (b)(3)(i)"),
        Q("auth_remuneration_involved",
          "Marketing: does our organisation receive payment from a third party for it?", "45 CFR 164.508(a)(3)(ii)"),
        Q("auth_remuneration_statement",
          "Does the form state that payment is involved (marketing paid for by a third party; for a sale, that the "
          "disclosure will result in payment to us)?", "45 CFR 164.508(a)(3)(ii), (a)(4)(i)"),
    ),
    intro="Leave the first answer empty for an ordinary release. A research authorization may be combined with "
    "another authorization for the same study (164.508(b)(3)(i)).",
)  # fmt: skip

TREATMENT = Section(
    "treatment",
    "Treating relationship",
    "45 CFR 164.506(c)",
    (
        Q(
            "provider_treating_relationship_confirmed",
            "Did you confirm that the requesting provider treats the patient (appointment, referral, or a call to "
            "their office)?",
            "45 CFR 164.506(c)",
        ),
    ),
)

LEGAL = Section(
    "legal",
    "Subpoena / court order",
    "45 CFR 164.512(e)",
    (
        Q("legal_document_type", "What legal document came with the request?", "45 CFR 164.512(e)(1)"),
        Q("court_order_signed_by_judge", "Court order: is it signed by a judge?", "45 CFR 164.512(e)(1)(i)"),
        Q(
            "satisfactory_assurance",
            "Subpoena: is there written assurance that the patient was notified and had time to object?",
            "45 CFR 164.512(e)(1)(ii)(A), (e)(1)(iii)",
        ),
        Q(
            "qualified_protective_order",
            "Subpoena: is there a qualified protective order, or assurance that one was sought?",
            "45 CFR 164.512(e)(1)(ii)(B), (e)(1)(v)",
        ),
    ),
)

BASIS_PREFIX = "basis_"  # a question about a 164.512 basis: "basis_<element key>", one entry of basis_answers


def public_interest_section(b: bases.PublicInterestBasis) -> Section:
    """The elements of a 164.512 basis (intake.bases), in the rule's order: confirmations are ticked, the path is
    chosen, and decisions are recorded met or not met by a supervisor."""
    return Section(
        "basis",
        b.label,
        b.citation,
        tuple(Q(BASIS_PREFIX + e.key, e.question, e.citation) for e in b.elements),
        intro=f"Who may ask: {b.who[:1].upper()}{b.who[1:]}. "
        + (
            "Decisions (met or not met) are recorded by a supervisor, with their name; the checklist never asks "
            "them again. "
            if any(e.kind == bases.DECISION for e in b.elements)
            else ""
        )
        + f"Minimum necessary: {'applies' if b.minimum_necessary else 'does not apply'} "
        f"({b.minimum_necessary_note}).",
    )


SECTIONS_BY_BASIS: dict[str, tuple[Section, ...]] = {
    rules.INDIVIDUAL: (IDENTITY,),
    rules.DIRECTIVE: (DIRECTIVE,),
    rules.AUTHORIZATION: (AUTH_ELEMENTS, AUTH_STATEMENTS, AUTH_PURPOSE, AUTH_DEFECTS),
    rules.TREATMENT: (TREATMENT,),
    rules.LEGAL: (LEGAL,),
    **{code: (public_interest_section(b),) for code, b in bases.BASES.items()},
}


def _basis_formfield(element: bases.Element, elements: dict[str, bases.Element]) -> forms.Field:
    """The form field of one element of a basis; `elements`: that basis's elements by key (a condition names the
    choice it depends on, whose labels say when the question is asked)."""
    notes = [element.citation]
    if element.kind == bases.CONFIRM:
        field: forms.Field = forms.BooleanField(required=False)
    elif element.kind == bases.CHOICE:
        field = forms.ChoiceField(required=False, choices=[("", "Not recorded"), *element.choices])
    else:
        field = forms.ChoiceField(required=False, choices=[("", "Not decided"), *bases.DECISION_CHOICES])
        notes.append("a supervisor's decision")
    if element.when is not None:
        labels = dict(elements[element.when[0]].choices)
        notes.append(
            "asked only for "
            + " or ".join(labels.get(v, v)[:1].lower() + labels.get(v, v)[1:] for v in element.when[1])
        )
    field.label = element.question
    field.help_text = " · ".join(notes)
    return field


PART2_SECTION = Section(
    "part2",
    "Substance use disorder records (42 CFR Part 2)",
    "42 CFR 2.12(d), 2.31, 2.33, 2.61-2.66",
    (
        Q(
            "part2_use_against_patient",
            "Will the records be used in a civil, criminal, administrative or legislative proceeding against the "
            "patient?",
            "42 CFR 2.12(d), 2.33",
        ),
        Q(
            "part2_proceedings_consent",
            "Is the patient's separate written consent to that use on file?",
            "42 CFR 2.31, 2.33",
        ),
        Q("part2_court_order", "Which Part 2 court order comes with the request, if any?", "42 CFR 2.61-2.66"),
        Q(
            "part2_order_findings",
            "Which findings does the order state?",
            "42 CFR 2.64(d)-(e), 2.65(d)-(e), 2.66(c)-(d)",
        ),
        Q("part2_order_scope", "What does the order cover (records, dates, recipients)?", "42 CFR 2.64(e)"),
    ),
    intro="A subpoena alone never releases Part 2 records: the patient's Part 2 consent or a subpart E order with "
    "its findings is needed (42 CFR 2.61).",
)

CONSENT_PREFIX = "consent_"


def _in_sentence(label: str) -> str:
    """A choice label inside a sentence: "Mental health records" -> "mental health records", "HIV/AIDS" kept."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def sensitive_section(*, basis: str, categories: list[str]) -> Section | None:
    """One question per requested sensitive category. For the patient's own records only psychotherapy notes need
    anything more (the right of access excludes them, 164.524(a)(1)(i)); see rules._sensitive."""
    if not categories:
        return None
    if basis in (rules.INDIVIDUAL, rules.DIRECTIVE) and SensitiveCategory.PSYCHOTHERAPY_NOTES in categories:
        psychotherapy_intro = (
            " Psychotherapy notes are not part of the right of access (45 CFR 164.524(a)(1)(i)): a supervisor denies "
            "them in writing (unreviewable) and the rest is released."
        )
    else:
        psychotherapy_intro = ""
    minor = SensitiveCategory.MINOR_CONSENTED
    minor_question = Q(
        CONSENT_PREFIX + minor,
        "Is the patient's own signed authorization on file for the care they consented to as a minor? (Needed only "
        "when a parent asks, or signed, as the patient's representative.)",
        rules.SENSITIVE_RULES[minor],
    )
    if basis == rules.INDIVIDUAL:
        return Section(
            "sensitive",
            "Sensitive categories",
            "45 CFR 164.524(a)(1)",
            (minor_question,) if minor in categories else (),
            intro="The patient's own request covers their sensitive records (Part 2 too, 42 CFR 2.23)."
            + psychotherapy_intro,
        )
    asked = [
        c
        for c in categories
        if not (c == SensitiveCategory.PSYCHOTHERAPY_NOTES and basis in (rules.AUTHORIZATION, rules.DIRECTIVE))
    ]
    return Section(
        "sensitive",
        "Sensitive-category consents",
        "45 CFR 164.508(a)(2), 42 CFR 2.31, state law",
        tuple(
            minor_question
            if category == minor
            else Q(
                CONSENT_PREFIX + category,
                f"Is the patient's specific consent for {_in_sentence(SensitiveCategory(category).label)} on file?",
                rules.SENSITIVE_RULES[SensitiveCategory(category)],
            )
            for category in asked
        ),
        intro=(
            "Psychotherapy notes need an authorization of their own, recorded above (45 CFR 164.508(a)(2))."
            if basis == rules.AUTHORIZATION and SensitiveCategory.PSYCHOTHERAPY_NOTES in categories
            else ""
        )
        + psychotherapy_intro,
    )


def checklist_sections(*, basis: str, requestor_kind: str, categories: list[str]) -> list[Section]:
    sections = list(SECTIONS_BY_BASIS[basis])
    part2_asked = SensitiveCategory.SUD_PART2 in categories and (
        basis == rules.LEGAL or (basis != rules.INDIVIDUAL and requestor_kind in rules.PROCEEDING_REQUESTORS)
    )
    if part2_asked:
        sections.append(PART2_SECTION)
    sensitive = sensitive_section(basis=basis, categories=categories)
    if sensitive is not None:
        sections.append(sensitive)
    return sections


def _review_formfield(name: str, question: Question) -> forms.Field:
    model_field = IntakeReview._meta.get_field(name)
    if name == "part2_order_findings":
        field: forms.Field = forms.MultipleChoiceField(
            required=False, choices=Part2Finding.choices, widget=forms.CheckboxSelectMultiple
        )
        field.label = question.label
        field.help_text = question.citation
        return field
    if isinstance(model_field.formfield(), forms.DateField):
        field = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    else:
        field = model_field.formfield(required=False)
        if isinstance(field, forms.ChoiceField):
            empty = "Neither: an ordinary release" if name == "auth_purpose" else "Not confirmed"
            field.choices = [("", empty), *[c for c in field.choices if c[0]]]
    field.label = question.label
    field.help_text = question.citation
    return field


class ChecklistForm(forms.Form):
    """The checklist for one request. `sections` gives the template (section, [bound fields]) in order."""

    expected_state = forms.ChoiceField(choices=RequestState.choices, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        review: IntakeReview,
        basis: str,
        requestor_kind: str,
        categories: list[str],
        today: date,
        read_only: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", "id_check_%s")
        super().__init__(*args, **kwargs)
        self.review = review
        self.today = today
        self.section_list = checklist_sections(basis=basis, requestor_kind=requestor_kind, categories=categories)
        consents = set(review.consents_received or [])
        answers = dict(review.basis_answers or {})
        elements = {e.key: e for e in bases.BASES[basis].elements} if basis in bases.BASES else {}
        for section in self.section_list:
            for question in section.questions:
                if question.field.startswith(BASIS_PREFIX) and question.field.removeprefix(BASIS_PREFIX) in elements:
                    key = question.field.removeprefix(BASIS_PREFIX)
                    field = _basis_formfield(elements[key], elements)
                    initial = answers.get(key, False if elements[key].kind == bases.CONFIRM else "")
                elif question.field.startswith(CONSENT_PREFIX):
                    field: forms.Field = forms.BooleanField(
                        required=False, label=question.label, help_text=question.citation
                    )
                    initial: Any = question.field.removeprefix(CONSENT_PREFIX) in consents
                else:
                    field = _review_formfield(question.field, question)
                    initial = getattr(review, question.field)
                field.disabled = read_only
                self.fields[question.field] = field
                self.initial.setdefault(question.field, initial)
        self.fields["expected_state"].disabled = read_only

    @property
    def sections(self) -> list[tuple[Section, list[forms.BoundField]]]:
        return [(s, [self[q.field] for q in s.questions]) for s in self.section_list]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("identity_verified") and "identity_method" in self.fields and not data.get("identity_method"):
            self.add_error("identity_method", "Say how you verified the requestor's identity.")
        if (
            data.get("part2_order_findings")
            and "part2_court_order" in self.fields
            and not data.get("part2_court_order")
        ):
            self.add_error("part2_court_order", "Findings belong to an order: say which Part 2 order came.")
        if data.get("part2_order_scope"):
            data["part2_order_scope"] = data["part2_order_scope"].strip()
        return data

    def review_values(self) -> dict[str, Any]:
        """What intake_review_save stores: the answers on this form only, consents folded back into one list."""
        values: dict[str, Any] = {}
        consent_fields = [name for name in self.fields if name.startswith(CONSENT_PREFIX)]
        basis_fields = [name for name in self.fields if name.startswith(BASIS_PREFIX)]
        for name, value in self.cleaned_data.items():
            if name == "expected_state" or name in consent_fields or name in basis_fields:
                continue
            values[name] = value
        if basis_fields:
            # Answers of another basis (a request whose type was corrected) are kept; an empty answer is none.
            answers = dict(self.review.basis_answers or {})
            for name in basis_fields:
                key, value = name.removeprefix(BASIS_PREFIX), self.cleaned_data.get(name)
                if value:
                    answers[key] = value
                else:
                    answers.pop(key, None)
            values["basis_answers"] = answers
        if consent_fields:
            asked = {name.removeprefix(CONSENT_PREFIX) for name in consent_fields}
            # Consents for categories not asked about here (a category since removed from the request) are kept.
            kept = [c for c in (self.review.consents_received or []) if c not in asked]
            given = [name.removeprefix(CONSENT_PREFIX) for name in consent_fields if self.cleaned_data.get(name)]
            values["consents_received"] = kept + given
        return values


class ExtensionForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the delay (printed on the notice)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )
    days = forms.IntegerField(label="Days to add", min_value=1)

    def __init__(self, *args: Any, allowed_days: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_extension_%s")
        super().__init__(*args, **kwargs)
        if allowed_days:
            # The rule that set the due date caps the extension (JurisdictionRule.extension_days).
            self.fields["days"] = forms.IntegerField(
                label=self.fields["days"].label, min_value=1, max_value=allowed_days
            )


class DuplicateLinkForm(forms.Form):
    original = forms.CharField(max_length=20)
