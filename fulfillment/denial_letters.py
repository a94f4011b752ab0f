"""Fulfillment: the letters of a denial of access, as PDFs kept with the request (intake Letter), each with the
requestor's email that it exists (intake.notices: no PHI). Written by fulfillment.denials in the transaction of the
decision they report:

- the denial letter (45 CFR 164.524(d)(2)): what is withheld, the basis in plain language, the review rights where the
  basis allows a review, how to complain to us and to HHS, where the records are when we do not hold them;
- the review decision letter (164.524(d)(4)): the reviewing official's determination in plain language and what
  happens next: the records released, or, for an upheld denial, the right to complain to us and to HHS.

BASIS_PLAIN and OCR are also what the requestor portal's status page says about a denial (portal/status.py).
"""

from __future__ import annotations

from typing import Any

from fulfillment.choices import DenialReviewOutcome
from fulfillment.models import Denial
from intake import notices
from intake.choices import LetterKind
from intake.letters import LETTER_DATE_FORMAT, letter_store, status_url
from intake.models import Letter
from roi import clock
from roi.models import Tenant
from roi.pdf import render_pdf
from workflow.choices import REVIEWABLE_DENIALS, DenialBasis
from workflow.deadlines import local_date
from workflow.models import RecordRequest

LETTER_TEMPLATE = "fulfillment/denials/letter.html"
REVIEW_LETTER_TEMPLATE = "fulfillment/denials/review_letter.html"

B = DenialBasis
# What the letter says about the basis, in plain language (164.524(d)(2)(i)), with the rule behind it.
BASIS_PLAIN: dict[str, tuple[str, str]] = {
    B.PSYCHOTHERAPY_NOTES: (
        "The records are psychotherapy notes: a therapist's separate notes of counselling sessions. The law does "
        "not give a right of access to them.",
        "45 CFR 164.524(a)(1)(i)",
    ),
    B.LITIGATION: (
        "The information was compiled in reasonable anticipation of, or for use in, a legal proceeding.",
        "45 CFR 164.524(a)(1)(ii)",
    ),
    B.INMATE: (
        "We are acting under the direction of a correctional institution, and giving a copy would put at risk the "
        "health or safety of people in the institution or those responsible for transporting inmates.",
        "45 CFR 164.524(a)(2)(ii)",
    ),
    B.RESEARCH: (
        "The information was created during research that includes treatment, and you agreed to suspend access "
        "while the research is in progress. Access will be restored when the research ends.",
        "45 CFR 164.524(a)(2)(iii)",
    ),
    B.PRIVACY_ACT: (
        "The records are covered by the federal Privacy Act, which allows access to be denied in this case.",
        "45 CFR 164.524(a)(2)(iv)",
    ),
    B.CONFIDENTIAL_SOURCE: (
        "The information was given to us by someone other than a health care provider under a promise of "
        "confidentiality, and access would likely reveal who that person is.",
        "45 CFR 164.524(a)(2)(v)",
    ),
    B.ENDANGER_LIFE: (
        "A licensed health care professional has decided that access is reasonably likely to endanger the life "
        "or physical safety of the patient or another person.",
        "45 CFR 164.524(a)(3)(i)",
    ),
    B.HARM_OTHER_PERSON: (
        "The records refer to another person, and a licensed health care professional has decided that access is "
        "reasonably likely to cause substantial harm to that person.",
        "45 CFR 164.524(a)(3)(ii)",
    ),
    B.HARM_VIA_REPRESENTATIVE: (
        "A licensed health care professional has decided that access by you, as the patient's personal "
        "representative, is reasonably likely to cause substantial harm to the patient or another person.",
        "45 CFR 164.524(a)(3)(iii)",
    ),
    B.NOT_HELD: (
        "We do not hold the records you asked for.",
        "45 CFR 164.524(d)(3)",
    ),
    B.INVALID_REQUEST: (
        "The request does not come with a valid authorization or proof of the authority to receive the records, "
        "so we cannot release them to you.",
        "45 CFR 164.508, 164.514(h)",
    ),
}

OCR = (
    "U.S. Department of Health and Human Services, Office for Civil Rights, 200 Independence Avenue, S.W., "
    "Washington, D.C. 20201; phone 1-800-368-1019; online at www.hhs.gov/ocr/complaints"
)


# --- The letter ------------------------------------------------------------------------------------------------


def letter_context(*, tenant: Tenant, record_request: RecordRequest, denial: Denial) -> dict[str, Any]:
    plain, citation = BASIS_PLAIN[denial.basis]
    return {
        "tenant": tenant,
        "request": record_request,
        "patient": record_request.patient,
        "requestor": record_request.requestor,
        "today": local_date(clock.now(), tenant),
        "received_on": local_date(record_request.received_at, tenant),
        "status_url": status_url(record_request),
        "date_format": LETTER_DATE_FORMAT,
        "denial": denial,
        "basis_plain": plain,
        "basis_citation": citation,
        "reviewable": denial.basis in REVIEWABLE_DENIALS,
        "not_held": denial.basis == DenialBasis.NOT_HELD,
        "ocr": OCR,
    }


def _letter_keep(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    kind: str,
    template: str,
    context: dict[str, Any],
    summary: dict[str, Any],
    facts: dict[str, Any],
    occurrence: str,
) -> Letter:
    """Render the letter to PDF, keep it with the request, and write the requestor's email that it exists."""
    pdf = render_pdf(template, context)
    letter = letter_store(
        tenant=tenant, actor=actor, record_request=record_request, kind=kind, pdf=pdf, summary=summary
    )
    notices.letter_notify(tenant=tenant, letter=letter, facts=facts, occurrence=occurrence)
    return letter


def denial_letter_generate(*, tenant: Tenant, actor: Any, record_request: RecordRequest, denial: Denial) -> Letter:
    context = letter_context(tenant=tenant, record_request=record_request, denial=denial)
    return _letter_keep(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        kind=LetterKind.DENIAL,
        template=LETTER_TEMPLATE,
        context=context,
        # No basis or explanation here: the summary is what the timeline and the portal may show.
        summary={"denial": denial.pk, "partial": denial.partial, "reviewable": context["reviewable"]},
        facts={"partial": denial.partial, "decided_on": local_date(denial.decided_at, tenant)},
        occurrence=f"denial-{denial.pk}",
    )


def review_letter_generate(*, tenant: Tenant, actor: Any, record_request: RecordRequest, denial: Denial) -> Letter:
    """164.524(d)(4): the written notice of the reviewing official's determination. Neither the letter nor the email
    names the reviewer or repeats the reviewer's reasons, which are the office's record: the letter gives the outcome,
    the basis in plain language and what happens next."""
    upheld = denial.review_outcome == DenialReviewOutcome.UPHELD
    context = {
        **letter_context(tenant=tenant, record_request=record_request, denial=denial),
        "upheld": upheld,
        "denied_on": local_date(denial.decided_at, tenant),
        "reviewed_on": local_date(denial.reviewed_at, tenant),
    }
    return _letter_keep(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        kind=LetterKind.DENIAL_REVIEW,
        template=REVIEW_LETTER_TEMPLATE,
        context=context,
        summary={"denial": denial.pk, "partial": denial.partial, "outcome": denial.review_outcome},
        facts={"upheld": upheld, "partial": denial.partial, "reviewed_on": context["reviewed_on"]},
        occurrence=f"denial-review-{denial.pk}",
    )
