"""The disclosures 45 CFR 164.512 permits without the patient's authorization, each a basis of its own.

A request of one of these types (workflow.choices.RequestType) rests on its basis alone: who may ask, the elements the
rule requires (each a checklist question with its citation), whether minimum necessary applies, whether the release
is accountable (164.528) and with which purpose, its clock and its fee. The table is the one place the rule is
written; the checklist (intake.forms.checklist), the rules (intake.rules.evaluate, run at intake and again by the
release gate), the packet's cover sheet, the fee quote and the accounting read it.

Three kinds of element:
- a **confirmation** the specialist ticks while reading the request ("the requestor is a public health authority");
  missing, it is asked of the requestor in the deficiency letter;
- a **choice** recording which path of the rule the request takes (a warrant, a grand jury subpoena or an
  administrative request);
- a **decision** only a supervisor (the privacy officer's delegate) records, met or not met, with their name and the
  date ("the information is relevant and material to a legitimate law enforcement inquiry"). Undecided, the request
  waits in an exception owned by its assignee, with no letter; decided, the checklist respects the decision and never
  asks again; not met, the requestor is told what would be needed instead.

Subpoenas and court orders (164.512(e)) keep their own section (intake.rules._legal); the individual's access,
directives, authorizations and treatment are in intake.rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_noop

from workflow.choices import RequestorKind, RequestType

K = RequestorKind
T = RequestType

CONFIRM = "confirm"
CHOICE = "choice"
DECISION = "decision"

MET = "met"
NOT_MET = "not_met"
DECISION_CHOICES = ((MET, "Met"), (NOT_MET, "Not met"))


@dataclass(frozen=True)
class Element:
    """One thing the rule requires, asked on the checklist."""

    key: str  # its key in IntakeReview.basis_answers
    question: str  # what staff answer, in plain language
    citation: str
    kind: str = CONFIRM
    # What the requestor is asked for when it is not confirmed (a confirmation), or told when it is decided not met
    # (a decision). Empty: staff work, no letter.
    requestor_message: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # a choice's options
    # Asked only when another answer has one of these values: (key, values).
    when: tuple[str, tuple[str, ...]] | None = None

    def applies(self, answers: dict[str, Any]) -> bool:
        return self.when is None or answers.get(self.when[0]) in self.when[1]


@dataclass(frozen=True)
class Accounting:
    """Whether a release on the basis is listed in the patient's accounting of disclosures (164.528), and with which
    purpose (fulfillment.choices.DisclosurePurpose); `when` narrows it to an answer of the basis's choice."""

    accountable: bool
    citation: str
    reason: str
    purpose: str = ""
    when: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class PublicInterestBasis:
    request_type: str
    label: str  # how the basis is named on the checklist, the cover sheet and the accounting
    citation: str
    who: str  # who may ask, as the rule says it, to follow "only to" in a sentence (translated in letters)
    requestor_kinds: frozenset[str]
    elements: tuple[Element, ...]
    accounting: tuple[Accounting, ...]  # first matching row wins; the last row has no `when`
    minimum_necessary: bool = True
    minimum_necessary_note: str = "45 CFR 164.502(b), 164.514(d)"
    fee: str = "No fee is charged to a government agency acting under the rule (organisation default)."
    subject: str = ""  # how its findings are labelled ("Law enforcement request")

    def elements_for(self, answers: dict[str, Any]) -> list[Element]:
        return [e for e in self.elements if e.applies(answers)]


GOVERNMENT = frozenset({K.GOVERNMENT})
CLOCK = (
    "No federal deadline: the organisation's policy clock applies unless a deadline rule for this type is added for "
    "the organisation's state."
)


def _accountable(purpose: str, citation: str, reason: str) -> tuple[Accounting, ...]:
    return (Accounting(True, citation, reason, purpose),)


# Disclosure purposes (fulfillment.choices.DisclosurePurpose values), named here to keep intake free of fulfillment.
PUBLIC_HEALTH = "public_health"
LAW_ENFORCEMENT = "law_enforcement"
HEALTH_OVERSIGHT = "health_oversight"
WORKERS_COMP = "workers_comp"
RESEARCH = "research"
REQUIRED_BY_LAW = "other_required_by_law"
ABUSE_NEGLECT = "abuse_neglect"
DECEDENT = "decedent"
ORGAN_DONATION = "organ_donation"
SERIOUS_THREAT = "serious_threat"
GOVERNMENT_FUNCTION = "government_function"

LE_WARRANT = "warrant"
LE_GRAND_JURY = "grand_jury"
LE_ADMINISTRATIVE = "administrative"
LE_REPORTING_LAW = "reporting_law"
LE_IDENTIFICATION = "identification"
LE_VICTIM = "victim"
LE_DEATH = "death"
LE_PREMISES = "premises"

PH_AUTHORITY = "authority"
PH_CHILD_ABUSE = "child_abuse"
PH_FDA = "fda"
PH_EXPOSURE = "exposure"
PH_EMPLOYER = "employer"

RS_WAIVER = "waiver"
RS_DECEDENTS = "decedents"

GOV_MILITARY = "military"
GOV_VETERANS = "veterans"
GOV_NATIONAL_SECURITY = "national_security"
GOV_PROTECTIVE = "protective_services"
GOV_STATE_DEPARTMENT = "state_department"
GOV_CORRECTIONAL = "correctional"
GOV_BENEFITS = "public_benefits"

BASES: dict[str, PublicInterestBasis] = {
    b.request_type: b
    for b in (
        PublicInterestBasis(
            T.REQUIRED_BY_LAW,
            "Required by law",
            "45 CFR 164.512(a)",
            gettext_noop(
                "whoever a statute, regulation or court rule entitles to the information"
            ),
            frozenset({K.GOVERNMENT, K.ATTORNEY, K.OTHER, K.INSURER, K.PROVIDER}),
            (
                Element(
                    "law_cited",
                    "Does the request name the law (statute, regulation or court rule) that requires the disclosure?",
                    "45 CFR 164.512(a)(1), 164.103",
                    requestor_message=gettext_noop(
                        "Please tell us which law (statute, regulation or court rule) requires us to disclose these "
                        "records."
                    ),
                ),
                Element(
                    "limited_to_law",
                    "Is what is asked limited to what that law requires?",
                    "45 CFR 164.512(a)(1)",
                    requestor_message=gettext_noop(
                        "Please limit your request to the records the law you rely on requires us to disclose."
                    ),
                ),
            ),
            _accountable(REQUIRED_BY_LAW, "45 CFR 164.512(a), 164.528", "Disclosure required by law."),
            minimum_necessary=False,
            minimum_necessary_note="Does not apply to a disclosure required by law, 45 CFR 164.502(b)(2)(v)",
            subject="Disclosure required by law",
        ),
        PublicInterestBasis(
            T.PUBLIC_HEALTH,
            "Public health activity",
            "45 CFR 164.512(b)",
            gettext_noop(
                "a public health authority; an authority receiving child abuse reports; a person subject to the FDA about "
                "a product; a person at risk of a communicable disease, where the law allows; an employer, for workplace "
                "medical surveillance"
            ),
            frozenset({K.GOVERNMENT, K.OTHER, K.PROVIDER, K.INSURER}),
            (
                Element(
                    "path",
                    "Which public health disclosure is it?",
                    "45 CFR 164.512(b)(1)",
                    kind=CHOICE,
                    choices=(
                        (PH_AUTHORITY, "To a public health authority authorized by law to collect it"),
                        (PH_CHILD_ABUSE, "A report of child abuse or neglect to an authority authorized to receive it"),
                        (PH_FDA, "To a person subject to the FDA, about an FDA-regulated product or activity"),
                        (PH_EXPOSURE, "To a person exposed to, or at risk of, a communicable disease"),
                        (PH_EMPLOYER, "To an employer, about workplace medical surveillance or a work-related injury"),
                    ),
                ),
                Element(
                    "public_health_authority",
                    "Is the requestor a public health authority authorized by law to collect the information (to "
                    "prevent or control disease, injury or disability; vital events; surveillance, investigations "
                    "and interventions)?",
                    "45 CFR 164.512(b)(1)(i), 164.501",
                    when=("path", (PH_AUTHORITY,)),
                    requestor_message=gettext_noop(
                        "Please show that your agency is a public health authority authorized by law to collect this "
                        "information (the law or the official mandate you act under)."
                    ),
                ),
                Element(
                    "child_abuse_authority",
                    "Is the recipient a public health authority or other government authority authorized by law to "
                    "receive reports of child abuse or neglect?",
                    "45 CFR 164.512(b)(1)(ii)",
                    when=("path", (PH_CHILD_ABUSE,)),
                ),
                Element(
                    "fda_product",
                    "Is the recipient subject to the FDA's jurisdiction, and the information about the quality, "
                    "safety or effectiveness of a product or activity the FDA regulates (adverse events, recalls, "
                    "tracking, post-marketing surveillance)?",
                    "45 CFR 164.512(b)(1)(iii)",
                    when=("path", (PH_FDA,)),
                    requestor_message=gettext_noop(
                        "Please tell us which product regulated by the FDA the request concerns and why you need the "
                        "records (adverse event, recall, tracking or surveillance)."
                    ),
                ),
                Element(
                    "exposure_law",
                    "Does a law authorize notifying this person, who may have been exposed to or be at risk of "
                    "contracting or spreading the disease, as part of a public health intervention?",
                    "45 CFR 164.512(b)(1)(iv)",
                    when=("path", (PH_EXPOSURE,)),
                ),
                Element(
                    "employer_conditions",
                    "Was the care given at the employer's request, for workplace medical surveillance or a "
                    "work-related illness or injury; does the employer need the findings to meet OSHA or a similar "
                    "law; and was the patient told in writing that they would go to the employer?",
                    "45 CFR 164.512(b)(1)(v)",
                    when=("path", (PH_EMPLOYER,)),
                    requestor_message=gettext_noop(
                        "Please tell us which workplace health law requires the findings, and for which evaluation "
                        "you asked us to see the employee."
                    ),
                ),
            ),
            _accountable(PUBLIC_HEALTH, "45 CFR 164.512(b), 164.528", "Disclosure to a public health authority."),
            subject="Public health request",
        ),
        PublicInterestBasis(
            T.ABUSE_NEGLECT,
            "Report of abuse, neglect or domestic violence",
            "45 CFR 164.512(c)",
            gettext_noop(
                "a government authority authorized by law to receive such reports (social or protective services)"
            ),
            GOVERNMENT,
            (
                Element(
                    "authority_receives_reports",
                    "Is the recipient a government authority (social services, protective services) authorized by "
                    "law to receive reports of abuse, neglect or domestic violence?",
                    "45 CFR 164.512(c)(1)",
                    requestor_message=gettext_noop(
                        "Please show that your agency is authorized by law to receive reports of abuse, neglect or "
                        "domestic violence."
                    ),
                ),
                Element(
                    "abuse_disclosure_permitted",
                    "Is the disclosure required by law, agreed to by the patient, or (where a law permits it) "
                    "necessary in professional judgment to prevent serious harm to the patient or others?",
                    "45 CFR 164.512(c)(1)(i)-(iii)",
                    kind=DECISION,
                    requestor_message=gettext_noop(
                        "We cannot disclose the records on this basis: the disclosure is not required by law, the "
                        "patient has not agreed, and no law permits it to prevent serious harm. The patient's "
                        "authorization or a court order would be needed."
                    ),
                ),
                Element(
                    "patient_informed",
                    "Will the patient (or their representative) be told of the report promptly, unless telling them "
                    "would place them at risk of serious harm?",
                    "45 CFR 164.512(c)(2)",
                ),
            ),
            _accountable(ABUSE_NEGLECT, "45 CFR 164.512(c), 164.528", "Report of abuse, neglect or domestic violence."),
            subject="Abuse or neglect report",
        ),
        PublicInterestBasis(
            T.HEALTH_OVERSIGHT,
            "Health oversight activity",
            "45 CFR 164.512(d)",
            gettext_noop(
                "a health oversight agency (licensing board, CMS, an inspector general, a state survey agency)"
            ),
            GOVERNMENT,
            (
                Element(
                    "oversight_agency",
                    "Is the requestor a health oversight agency carrying out oversight authorized by law (audits, "
                    "investigations, inspections, licensure or disciplinary actions)?",
                    "45 CFR 164.512(d)(1), 164.501",
                    requestor_message=gettext_noop(
                        "Please show that your agency carries out health oversight authorized by law (the audit, "
                        "investigation, inspection or licensure matter and the law it is under)."
                    ),
                ),
                Element(
                    "oversight_not_about_patient_claim",
                    "Is the investigation about the health care system or a program, not about the patient alone "
                    "(unless it arises from their claim for benefits or the receipt of health care)?",
                    "45 CFR 164.512(d)(2)",
                    requestor_message=gettext_noop(
                        "An investigation of the patient alone is not health oversight. Please tell us which program "
                        "or health care matter the investigation concerns, or send the patient's authorization."
                    ),
                ),
            ),
            _accountable(HEALTH_OVERSIGHT, "45 CFR 164.512(d), 164.528", "Disclosure to a health oversight agency."),
            subject="Health oversight request",
        ),
        PublicInterestBasis(
            T.LAW_ENFORCEMENT,
            "Law enforcement purpose",
            "45 CFR 164.512(f)",
            gettext_noop(
                "a law enforcement official, with legal process or an administrative request"
            ),
            GOVERNMENT,
            (
                Element(
                    "process",
                    "What does the request come with?",
                    "45 CFR 164.512(f)(1)",
                    kind=CHOICE,
                    choices=(
                        (LE_WARRANT, "A court-ordered warrant, or a subpoena or summons issued by a judicial officer"),
                        (LE_GRAND_JURY, "A grand jury subpoena"),
                        (
                            LE_ADMINISTRATIVE,
                            "An administrative request (administrative subpoena or summons, civil or investigative "
                            "demand)",
                        ),
                        (LE_REPORTING_LAW, "A law that requires reporting (wounds, injuries)"),
                        (LE_IDENTIFICATION, "Identifying or locating a suspect, fugitive, material witness or missing "
                         "person"),
                        (LE_VICTIM, "About a victim of a crime"),
                        (LE_DEATH, "About a death that may have resulted from criminal conduct"),
                        (LE_PREMISES, "Evidence of a crime on our premises"),
                    ),
                ),
                Element(
                    "identification_limited",
                    "Is only what the rule lists released (name and address, date and place of birth, social security "
                    "number, blood type and rh factor, type of injury, date and time of treatment or death, "
                    "distinguishing physical characteristics), with no DNA, dental records or typing of body fluids "
                    "or tissue?",
                    "45 CFR 164.512(f)(2)(i)-(ii)",
                    when=("process", (LE_IDENTIFICATION,)),
                ),
                Element(
                    "victim_agrees_or_cannot",
                    "The victim agrees; or, unable to agree, the official says the information is needed, not to be "
                    "used against the victim, and waiting would hurt the enforcement, and the disclosure is in the "
                    "victim's best interest.",
                    "45 CFR 164.512(f)(3)(i)-(ii)",
                    kind=DECISION,
                    when=("process", (LE_VICTIM,)),
                    requestor_message=gettext_noop(
                        "We can release information about a victim of a crime only with their agreement, or when they "
                        "cannot agree and the conditions of the law are met. Please send the victim's signed "
                        "authorization."
                    ),
                ),
                Element(
                    "death_suspected_criminal",
                    "The organisation suspects the death may have resulted from criminal conduct.",
                    "45 CFR 164.512(f)(4)",
                    kind=DECISION,
                    when=("process", (LE_DEATH,)),
                    requestor_message=gettext_noop(
                        "We cannot release the records on this basis. A court-ordered warrant, a subpoena or summons "
                        "issued by a judicial officer, or the authorization of the estate's representative would be "
                        "needed."
                    ),
                ),
                Element(
                    "premises_crime",
                    "The organisation believes in good faith that the information is evidence of a crime that "
                    "occurred on its premises.",
                    "45 CFR 164.512(f)(5)",
                    kind=DECISION,
                    when=("process", (LE_PREMISES,)),
                    requestor_message=gettext_noop(
                        "We cannot release the records on this basis. A court-ordered warrant or a subpoena or summons "
                        "issued by a judicial officer would be needed."
                    ),
                ),
                Element(
                    "process_on_file",
                    "Is the warrant, subpoena or summons on file, issued by a judicial officer or grand jury, and in "
                    "order (our organisation, this patient, current)?",
                    "45 CFR 164.512(f)(1)(ii)(A)-(B)",
                    when=("process", (LE_WARRANT, LE_GRAND_JURY)),
                    requestor_message=gettext_noop(
                        "Please send the warrant, subpoena or summons you rely on, as issued by the court or grand "
                        "jury."
                    ),
                ),
                Element(
                    "reporting_law_cited",
                    "Does the request name the reporting law, and is what is asked limited to what it requires?",
                    "45 CFR 164.512(f)(1)(i)",
                    when=("process", (LE_REPORTING_LAW,)),
                    requestor_message=gettext_noop(
                        "Please tell us which law requires the report, and limit your request to what it requires."
                    ),
                ),
                Element(
                    "relevant_and_material",
                    "The information sought is relevant and material to a legitimate law enforcement inquiry.",
                    "45 CFR 164.512(f)(1)(ii)(C)(1)",
                    kind=DECISION,
                    when=("process", (LE_ADMINISTRATIVE,)),
                    requestor_message=gettext_noop(
                        "Your administrative request does not show that the records are relevant and material to a "
                        "legitimate law enforcement inquiry. We need a court-ordered warrant, a subpoena or summons "
                        "issued by a judicial officer, a grand jury subpoena, or the patient's authorization."
                    ),
                ),
                Element(
                    "specific_and_limited",
                    "The request is specific and limited in scope as far as is reasonably practicable for its "
                    "purpose.",
                    "45 CFR 164.512(f)(1)(ii)(C)(2)",
                    kind=DECISION,
                    when=("process", (LE_ADMINISTRATIVE,)),
                    requestor_message=gettext_noop(
                        "Your administrative request is broader than its purpose needs. Please send a request limited "
                        "to the records (kinds and dates) the inquiry needs."
                    ),
                ),
                Element(
                    "deidentified_insufficient",
                    "De-identified information could not reasonably be used.",
                    "45 CFR 164.512(f)(1)(ii)(C)(3)",
                    kind=DECISION,
                    when=("process", (LE_ADMINISTRATIVE,)),
                    requestor_message=gettext_noop(
                        "Your administrative request does not show why information that does not identify the patient "
                        "would not serve its purpose. Please explain, or ask for de-identified information."
                    ),
                ),
            ),
            _accountable(LAW_ENFORCEMENT, "45 CFR 164.512(f), 164.528", "Disclosure for a law enforcement purpose."),
            subject="Law enforcement request",
        ),
        PublicInterestBasis(
            T.DECEDENT,
            "Coroner, medical examiner or funeral director",
            "45 CFR 164.512(g)",
            gettext_noop(
                "a coroner or medical examiner; a funeral director, as needed for their duties about the deceased"
            ),
            frozenset({K.GOVERNMENT, K.OTHER}),
            (
                Element(
                    "decedent_role",
                    "Is the requestor a coroner or medical examiner identifying the deceased or determining the cause "
                    "of death, or a funeral director needing the records for their duties about the deceased?",
                    "45 CFR 164.512(g)(1)-(2)",
                    requestor_message=gettext_noop(
                        "Please tell us your role (coroner, medical examiner or funeral director) and why you need "
                        "the records of the deceased."
                    ),
                ),
            ),
            _accountable(DECEDENT, "45 CFR 164.512(g), 164.528", "Disclosure about a deceased patient."),
            subject="Decedent request",
        ),
        PublicInterestBasis(
            T.ORGAN_DONATION,
            "Organ, eye or tissue donation",
            "45 CFR 164.512(h)",
            gettext_noop(
                "an organ procurement organisation, or an entity procuring, banking or transplanting organs, eyes or tissue"
            ),
            frozenset({K.OTHER, K.PROVIDER}),
            (
                Element(
                    "procurement_organisation",
                    "Is the requestor an organ procurement organisation or an entity procuring, banking or "
                    "transplanting cadaveric organs, eyes or tissue, asking to facilitate donation and transplant?",
                    "45 CFR 164.512(h)",
                    requestor_message=gettext_noop(
                        "Please confirm that your organisation procures, banks or transplants organs, eyes or tissue, "
                        "and that the records are needed for a donation."
                    ),
                ),
            ),
            _accountable(ORGAN_DONATION, "45 CFR 164.512(h), 164.528", "Disclosure to facilitate organ donation."),
            subject="Organ donation request",
        ),
        PublicInterestBasis(
            T.RESEARCH,
            "Research without an authorization",
            "45 CFR 164.512(i)",
            gettext_noop(
                "a researcher with an IRB's or privacy board's documented waiver of authorization, or with the "
                "representations the rule requires for research on decedents"
            ),
            frozenset({K.OTHER, K.PROVIDER}),
            (
                Element(
                    "path",
                    "On what does the researcher rely?",
                    "45 CFR 164.512(i)(1)",
                    kind=CHOICE,
                    choices=(
                        (RS_WAIVER, "An IRB's or privacy board's waiver of authorization"),
                        (RS_DECEDENTS, "Research on decedents' information"),
                    ),
                ),
                Element(
                    "decedent_representations",
                    "Does the researcher represent in writing that the use is solely for research on decedents' "
                    "information and necessary for it, with documentation of the deaths if we ask?",
                    "45 CFR 164.512(i)(1)(iii)(A)-(C)",
                    when=("path", (RS_DECEDENTS,)),
                    requestor_message=gettext_noop(
                        "Please send your written representation that the information is used solely for research on "
                        "deceased persons and is necessary for it, and documentation of their deaths."
                    ),
                ),
                Element(
                    "waiver_documented",
                    "Is the IRB's or privacy board's waiver on file, naming the board, dated, and signed by its chair "
                    "or a designee?",
                    "45 CFR 164.512(i)(1)(i), (i)(2)(i), (i)(2)(v)",
                    when=("path", (RS_WAIVER,)),
                    requestor_message=gettext_noop(
                        "Please send the IRB's or privacy board's written waiver of authorization, dated and signed "
                        "by its chair or a designee."
                    ),
                ),
                Element(
                    "waiver_criteria_and_scope",
                    "Does the waiver state that the criteria of 164.512(i)(2)(ii) were met (minimal risk, "
                    "impracticable without the waiver and the information) and describe the information needed, "
                    "and is the request within that description?",
                    "45 CFR 164.512(i)(2)(ii)-(iv)",
                    when=("path", (RS_WAIVER,)),
                    requestor_message=gettext_noop(
                        "The waiver must state that the board found the criteria of 45 CFR 164.512(i)(2)(ii) met and "
                        "describe the information approved; your request must stay within it."
                    ),
                ),
            ),
            _accountable(RESEARCH, "45 CFR 164.512(i), 164.528", "Disclosure for research under a waiver."),
            minimum_necessary_note="45 CFR 164.502(b), 164.514(d)(3)(iii)(D) (the waiver's description may be relied on)",
            fee="The organisation's research fee, if it has added one for this type; otherwise no fee.",
            subject="Research request",
        ),
        PublicInterestBasis(
            T.SERIOUS_THREAT,
            "Averting a serious threat to health or safety",
            "45 CFR 164.512(j)",
            gettext_noop(
                "a person reasonably able to prevent or lessen the threat (the target included), or law enforcement"
            ),
            frozenset({K.GOVERNMENT, K.PROVIDER, K.OTHER}),
            (
                Element(
                    "threat_serious_and_imminent",
                    "The organisation believes in good faith that the disclosure is necessary to prevent or lessen a "
                    "serious and imminent threat to the health or safety of a person or the public.",
                    "45 CFR 164.512(j)(1)(i)(A), (j)(4)",
                    kind=DECISION,
                    requestor_message=gettext_noop(
                        "We cannot disclose the records on this basis: we have not found a serious and imminent "
                        "threat that the disclosure would prevent or lessen."
                    ),
                ),
                Element(
                    "recipient_able_to_prevent",
                    "Is the recipient reasonably able to prevent or lessen the threat (the target of the threat "
                    "included)?",
                    "45 CFR 164.512(j)(1)(i)(B)",
                ),
            ),
            _accountable(SERIOUS_THREAT, "45 CFR 164.512(j), 164.528", "Disclosure to avert a serious threat."),
            subject="Serious threat",
        ),
        PublicInterestBasis(
            T.GOVERNMENT_FUNCTIONS,
            "Specialized government function",
            "45 CFR 164.512(k)",
            gettext_noop(
                "military command authorities, national security officials, protective services, the State Department, "
                "a correctional institution, or a government benefits program"
            ),
            GOVERNMENT,
            (
                Element(
                    "function",
                    "Which function does the request serve?",
                    "45 CFR 164.512(k)",
                    kind=CHOICE,
                    choices=(
                        (GOV_MILITARY, "Armed forces mission (appropriate military command authority)"),
                        (GOV_VETERANS, "Veterans' eligibility for benefits (Department of Veterans Affairs)"),
                        (GOV_NATIONAL_SECURITY, "National security and intelligence activities"),
                        (GOV_PROTECTIVE, "Protective services for the President and others"),
                        (GOV_STATE_DEPARTMENT, "State Department medical suitability determination"),
                        (GOV_CORRECTIONAL, "Correctional institution or law enforcement custody of the patient"),
                        (GOV_BENEFITS, "Government program providing public benefits"),
                    ),
                ),
                Element(
                    "official_authorized",
                    "Is the requestor an official of that function with the authority the rule requires (for "
                    "armed forces, a command authority the Federal Register notice names; for custody, the "
                    "institution holding the patient)?",
                    "45 CFR 164.512(k)(1)-(6)",
                    requestor_message=gettext_noop(
                        "Please show the authority under which you request these records (your office and the "
                        "function it serves)."
                    ),
                ),
            ),
            (
                Accounting(
                    False, "45 CFR 164.528(a)(1)(vi)", "National security or intelligence purposes (164.512(k)(2)).",
                    when=("function", (GOV_NATIONAL_SECURITY,)),
                ),
                Accounting(
                    False, "45 CFR 164.528(a)(1)(vii)",
                    "To a correctional institution or law enforcement having custody (164.512(k)(5)).",
                    when=("function", (GOV_CORRECTIONAL,)),
                ),
                Accounting(
                    True, "45 CFR 164.512(k), 164.528", "Disclosure for a specialized government function.",
                    GOVERNMENT_FUNCTION,
                ),
            ),
            subject="Government function",
        ),
        PublicInterestBasis(
            T.WORKERS_COMP,
            "Workers' compensation",
            "45 CFR 164.512(l)",
            gettext_noop(
                "the employer, its workers' compensation carrier, or the state board, about a claim for a work-related "
                "injury or illness"
            ),
            frozenset({K.INSURER, K.GOVERNMENT, K.OTHER, K.ATTORNEY}),
            (
                Element(
                    "claim_identified",
                    "Does the request identify the workers' compensation claim (claim number, date of injury) it is "
                    "about?",
                    "45 CFR 164.512(l)",
                    requestor_message=gettext_noop(
                        "Please tell us the workers' compensation claim number and the date of the work-related "
                        "injury or illness."
                    ),
                ),
                Element(
                    "state_law_authorizes",
                    "Does the state's workers' compensation law authorize the disclosure, and is the request limited "
                    "to the records about the work-related injury or illness?",
                    "45 CFR 164.512(l)",
                    requestor_message=gettext_noop(
                        "Please limit your request to the records about the work-related injury or illness of the "
                        "claim."
                    ),
                ),
            ),
            _accountable(WORKERS_COMP, "45 CFR 164.512(l), 164.528", "Disclosure for workers' compensation."),
            fee="The state's workers' compensation fee schedule, where the organisation has added it as a fee rule "
            "for this type; otherwise no fee.",
            subject="Workers' compensation request",
        ),
    )
}  # fmt: skip


def basis(request_type: str) -> PublicInterestBasis | None:
    return BASES.get(request_type)


def answer_label(element: Element, value: Any) -> str:
    if element.kind == CONFIRM:
        return "Yes" if value else "Not confirmed"
    options = dict(element.choices if element.kind == CHOICE else DECISION_CHOICES)
    return options.get(value, "Not answered")


def decision_keys(request_type: str) -> frozenset[str]:
    b = basis(request_type)
    return frozenset(e.key for e in b.elements if e.kind == DECISION) if b else frozenset()


def release_lines(b: PublicInterestBasis, answers: dict[str, Any]) -> list[str]:
    """The basis as the packet's cover sheet states it: the rule, the path taken, what was decided."""
    lines = [f"{b.label}, without the patient's authorization ({b.citation})."]
    for element in b.elements_for(answers):
        value = answers.get(element.key)
        if element.kind == CHOICE and value:
            lines.append(f"{element.question} {answer_label(element, value)} ({element.citation}).")
        elif element.kind == DECISION and value == MET:
            lines.append(
                f"Decided: {element.question[:1].lower()}{element.question[1:].rstrip('.')} ({element.citation})."
            )
    return lines
