"""The release gate: may this packet go to this recipient now?

Releasing is the act the law regulates, so every way records leave asks here at the moment they leave: delivery
(pages and the API), resends, issuing a download link, and each download of a link (fulfillment.delivery). The gate
re-evaluates, it does not remember:

- the basis is valid today: intake's own rules run again with today as the day of release (intake.rules.evaluate,
  at_release): an authorization or directive revoked, expired by date or by event, naming someone else, signed by a
  representative whose authority is unproven; a court order or subpoena without what it needs; a personal
  representative without a verified authority document; Part 2 records without consent or a subpart E order;
- QC passed for exactly this packet version, and nothing it attested to changed since (release_facts: the documents
  and their excluded pages, the basis, the sensitive categories and consents, a denial's scope, the recipient);
- what the packet holds is allowed: each sensitive category found on its documents covered by the right consent,
  psychotherapy notes only on an authorization of their own and never under the right of access, the 42 CFR 2.32
  notice with Part 2 records;
- for a first delivery, a packet that still matches the documents, a written denial of psychotherapy notes asked for
  under the right of access, and no prepayment hold.

A refusal names each rule with its citation and what would fix it. `release_refused` records it (ReleaseRefusal),
opens or updates the request's exception with an owner (a delivered request cannot enter exception: its owner is
told instead) and raises ReleaseRefused. The request page shows the verdict live (fulfillment.panels), and QC's
computed checks use the same functions, so "every check passed" never sits beside a revoked authorization.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.urls import reverse

from exceptions.choices import ExceptionReason
from exceptions.services import exception_raise_or_update
from fulfillment import denials, invoices, packets
from fulfillment import documents as docs
from fulfillment.choices import QcOutcome, ReleaseAction
from fulfillment.models import Delivery, Denial, QcReview, ReleaseDocument, ReleasePacket, ReleaseRefusal
from intake import rules
from intake.authorizations import review_with_records
from intake.models import IntakeReview
from intake.services import REVIEW_FIELDS, intake_facts
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.notifications import notify
from roi.selectors import supervisors
from roi.tenancy import role_in
from workflow.choices import OPEN_STATES, DeliveryMethod, RequestState, SensitiveCategory, is_psychotherapy_notes
from workflow.deadlines import local_date
from workflow.models import RecordRequest

R = ExceptionReason
QC_POLICY = "45 CFR 164.530(c); quality control before release"

# What QC attests to, compared at release. Labels finish the sentence "changed since QC passed: ...".
COMPONENT_LABELS = {
    "documents": "the documents in the packet or their excluded pages",
    "basis": "the basis (authorization, directive, representative, order or the checklist's answers)",
    "categories": "the sensitive categories or the consents on file",
    "denials": "a denial's scope",
    "recipient": "the recipient or the delivery destination",
}
# A first release of a packet version must match everything QC saw. A download or resend of a version already
# delivered must still be allowed to go out as it is (its pages, its basis, its recipient): records added later or a
# consent recorded since do not stop it, while a page withheld since, a document changed or the basis replaced do.
COMPARED_FIRST = tuple(COMPONENT_LABELS)
COMPARED_AGAIN = ("documents", "basis", "recipient")


@dataclass(frozen=True)
class Refusal:
    """One rule that stops the release: what is wrong, the rule, what would fix it."""

    code: str
    subject: str
    message: str
    citation: str
    fix: str
    reason: str  # the ExceptionReason a refusal opens

    @property
    def labelled(self) -> str:
        """The message with what it is about in front, unless it already starts with it."""
        if not self.subject or self.message.lower().startswith(self.subject.lower()):
            return self.message
        return f"{self.subject}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "subject": self.subject,
            "message": self.message,
            "citation": self.citation,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Verdict:
    action: str
    packet: ReleasePacket | None
    refusals: tuple[Refusal, ...]

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def summary(self) -> str:
        return " ".join(f"{r.message} ({r.citation})" for r in self.refusals)


class ReleaseRefused(ServiceError):
    """The release gate refused: the message lists every rule with its citation and what would fix it."""

    status_code = 409

    def __init__(self, verdict: Verdict, refusal: ReleaseRefusal | None = None) -> None:
        lines = [
            f"{r.subject + ': ' if r.subject else ''}{r.message} ({r.citation}) Fix: {r.fix}" for r in verdict.refusals
        ]
        super().__init__("Release refused. " + " ".join(lines))
        self.verdict = verdict
        self.refusal = refusal
        self.body_extra = {"refusals": [r.as_dict() for r in verdict.refusals]}


# --- What QC attests to -----------------------------------------------------------------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


def packet_documents(*, tenant: Tenant, record_request: RecordRequest, packet: ReleasePacket) -> list[ReleaseDocument]:
    """The packet's documents as they are now, in packet order, with their exclusions."""
    ids = packet.document_ids
    found = {d.pk: d for d in docs.documents_for(tenant=tenant, record_request=record_request).filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def release_facts(
    *,
    tenant: Tenant,
    record_request: RecordRequest,
    packet: ReleasePacket,
    review: IntakeReview | None = None,
    documents: list[ReleaseDocument] | None = None,
) -> dict[str, str]:
    """A digest per component of what QC attests to (COMPONENT_LABELS): stored on a passing review, compared with
    the same digest at the moment of release."""
    if documents is None:
        documents = packet_documents(tenant=tenant, record_request=record_request, packet=packet)
    pages = {int(item["document"]): set(item.get("pages") or []) for item in packet.contents or []}
    review = review if review is not None else review_with_records(tenant=tenant, record_request=record_request)
    auth = review.authorization if review is not None and review.authorization_id else None
    rep = review.representative if review is not None and review.representative_id else None
    auth_rep = auth.representative if auth is not None and auth.representative_id else None
    answers = {name: getattr(review, name) for name in REVIEW_FIELDS if name != "consents_received"} if review else {}
    requestor = record_request.requestor
    denied = Denial.objects.for_tenant(tenant).filter(request_id=record_request.pk).order_by("id")
    return {
        "documents": _digest(
            [
                (
                    d.pk,
                    d.sha256,
                    docs.released_categories(d, pages.get(d.pk, set())),
                    d.record_type,
                    sorted(pages.get(d.pk, set()) - set(docs.included_pages(d))),
                )
                for d in documents
            ]
            + [("missing", sorted(set(pages) - {d.pk for d in documents}))]
        ),
        "basis": _digest(
            {
                "type": record_request.request_type,
                "requestor": [requestor.pk, requestor.kind],
                "answers": answers,
                "authorization": [
                    auth.pk,
                    auth.kind,
                    auth.signed_on,
                    auth.expires_on,
                    auth.expiration_event,
                    auth.expiration_event_occurred_on,
                    auth.recipient,
                    auth.covers_psychotherapy_notes,
                    auth.representative_id,
                    auth.document_id,
                ]
                if auth
                else None,
                "representative": [
                    [r.pk, r.authority_type, r.document_id, r.verified_by_id, r.ends_on] for r in (rep, auth_rep) if r
                ],
            }
        ),
        "categories": _digest(
            [sorted(record_request.sensitive_categories), sorted(review.consents_received if review else [])]
        ),
        "denials": _digest([(d.pk, d.basis, d.partial, d.withheld) for d in denied]),
        "recipient": _digest(
            [
                requestor.name,
                requestor.organization,
                record_request.delivery_method,
                " ".join(record_request.delivery_destination.casefold().split()),
            ]
        ),
    }


# --- The verdict ---------------------------------------------------------------------------------------------------


def _refusal_from(d: rules.Deficiency) -> Refusal:
    return Refusal(d.code, d.subject, d.staff_message, d.citation, d.next_step, d.reason)


def passing_review(*, tenant: Tenant, packet: ReleasePacket) -> QcReview | None:
    """The latest review of this packet version, if it passed (a later failure of the same version undoes it)."""
    review = QcReview.objects.for_tenant(tenant).filter(packet_id=packet.pk).order_by("-reviewed_at", "-id").first()
    return review if review is not None and review.outcome == QcOutcome.PASSED else None


def packet_pages(packet: ReleasePacket) -> dict[int, list[int]]:
    """The pages of each document that the packet carries, by document id."""
    return {int(item["document"]): list(item.get("pages") or []) for item in packet.contents or []}


def leaving_categories(documents: Iterable[ReleaseDocument], packet: ReleasePacket | None) -> dict[int, list[str]]:
    """The sensitive categories of what leaves of each document: the packet's pages of it (its included pages when
    no packet is given), so a tagged page left out takes its category with it."""
    pages = packet_pages(packet) if packet is not None else {}
    return {d.pk: docs.released_categories(d, pages.get(d.pk) if packet is not None else None) for d in documents}


def basis_refusals(
    *,
    tenant: Tenant,
    record_request: RecordRequest,
    documents: Iterable[ReleaseDocument] = (),
    review: IntakeReview | None = None,
    packet: ReleasePacket | None = None,
) -> list[Refusal]:
    """The law at the moment of release: intake's rules on today's facts, then what the documents about to leave
    carry (sensitive categories, psychotherapy notes, Part 2 records), page by page when `packet` says which pages
    leave. QC's basis and sensitive checks show these. `review`: the request's review as review_with_records read
    it, when the caller has it."""
    facts = intake_facts(tenant=tenant, record_request=record_request, review=review, at_release=True)
    basis = rules.basis_for(facts.request_type, facts.requestor_kind)
    found = rules.evaluate(facts, at_release=True)
    documents = list(documents)
    leaving = leaving_categories(documents, packet)
    in_packet = sorted({c for d in documents for c in leaving[d.pk]} - set(facts.sensitive_categories))
    found += rules.sensitive_deficiencies(facts, basis, in_packet)
    if SensitiveCategory.SUD_PART2 in in_packet:
        found += rules.part2_deficiencies(facts, basis, part2_in_release=True)
    seen: set[str] = set()
    refusals = []
    for d in found:
        if d.code not in seen:
            seen.add(d.code)
            refusals.append(_refusal_from(d))
    refusals += _psychotherapy_refusals(facts, basis, documents, leaving)
    return refusals


def _psychotherapy_refusals(
    facts: rules.IntakeFacts, basis: str, documents: list[ReleaseDocument], leaving: dict[int, list[str]]
) -> list[Refusal]:
    def is_notes(d: ReleaseDocument) -> bool:
        return is_psychotherapy_notes([d.record_type], leaving[d.pk])

    notes = [d.original_name for d in documents if is_notes(d)]
    others = [d for d in documents if not is_notes(d)]
    if not notes:
        return []
    where = ", ".join(notes)
    if basis in (rules.INDIVIDUAL, rules.DIRECTIVE):
        return [
            Refusal(
                "PSYCHOTHERAPY_NOTES_UNDER_RIGHT_OF_ACCESS",
                "Psychotherapy notes",
                f"The packet holds psychotherapy notes ({where}): the right of access does not cover them.",
                "45 CFR 164.524(a)(1)(i)",
                "Leave them out of the release (a supervisor denies them in writing) and rebuild the packet.",
                R.OTHER,
            )
        ]
    if basis != rules.AUTHORIZATION:
        return []  # other bases: the consent rule (sensitive_deficiencies) asks for their authorization
    auth = facts.authorization
    if auth is None or not auth.covers_psychotherapy_notes:
        return [
            Refusal(
                "PSYCHOTHERAPY_NOTES_NOT_AUTHORIZED",
                "Authorization",
                f"The packet holds psychotherapy notes ({where}) but the authorization does not cover them.",
                "45 CFR 164.508(a)(2)",
                "Leave them out, or get an authorization for psychotherapy notes alone and release them under it.",
                R.INCOMPLETE_AUTHORIZATION,
            )
        ]
    if others:
        return [
            Refusal(
                "PSYCHOTHERAPY_NOTES_WITH_OTHER_RECORDS",
                "Authorization",
                f"An authorization for psychotherapy notes covers nothing else, but the packet also holds "
                f"{', '.join(d.original_name for d in others)}.",
                "45 CFR 164.508(b)(3)(ii)",
                "Release the other records under an authorization of their own (a separate request).",
                R.INCOMPLETE_AUTHORIZATION,
            )
        ]
    return []


def release_verdict(
    *,
    tenant: Tenant,
    record_request: RecordRequest,
    packet: ReleasePacket | None,
    action: str,
    first_release: bool | None = None,
    review: IntakeReview | None = None,
) -> Verdict:
    """Every rule, evaluated now, on releasing `packet` of the request by `action` (ReleaseAction). Reads only.
    `first_release`: the packet version has not been sent before (a delivery; a resend of a newer version); by
    default, a delivery is and everything else is not."""
    if first_release is None:
        first_release = action == ReleaseAction.DELIVER
    refusals: list[Refusal] = []
    if packet is None:
        return Verdict(
            action,
            None,
            (
                Refusal(
                    "NO_PACKET",
                    "Quality control",
                    "There is no release packet that passed quality control.",
                    QC_POLICY,
                    "Build the packet and have another staff member pass its QC.",
                    R.OTHER,
                ),
            ),
        )
    documents = packet_documents(tenant=tenant, record_request=record_request, packet=packet)
    intake_review = review if review is not None else review_with_records(tenant=tenant, record_request=record_request)
    review = passing_review(tenant=tenant, packet=packet)  # QC's
    if review is None:
        refusals.append(
            Refusal(
                "QC_NOT_PASSED",
                "Quality control",
                f"Packet v{packet.version} has not passed quality control.",
                QC_POLICY,
                "Have another staff member pass QC on this packet version.",
                R.OTHER,
            )
        )
    elif review.release_facts:
        now = release_facts(
            tenant=tenant, record_request=record_request, packet=packet, documents=documents, review=intake_review
        )
        compared = COMPARED_FIRST if first_release else COMPARED_AGAIN
        changed = [COMPONENT_LABELS[key] for key in compared if review.release_facts.get(key) != now.get(key)]
        if changed:
            refusals.append(
                Refusal(
                    "CHANGED_SINCE_QC",
                    "Quality control",
                    f"Changed since QC passed on packet v{packet.version}: {'; '.join(changed)}.",
                    QC_POLICY,
                    "Rebuild the packet and pass QC again.",
                    R.OTHER,
                )
            )
    elif first_release:
        refusals.append(
            Refusal(
                "QC_FACTS_UNKNOWN",
                "Quality control",
                f"The QC of packet v{packet.version} was recorded before the release gate kept what it checked.",
                QC_POLICY,
                "Rebuild the packet and pass QC again.",
                R.OTHER,
            )
        )
    if first_release:
        refusals += _first_release_refusals(tenant=tenant, record_request=record_request, packet=packet)
    leaving = leaving_categories(documents, packet)
    if any(SensitiveCategory.SUD_PART2 in leaving[d.pk] for d in documents) and not packet.includes_part2:
        refusals.append(
            Refusal(
                "PART2_NOTICE_MISSING",
                "Part 2 notice",
                f"Packet v{packet.version} holds Part 2 records without the redisclosure notice.",
                "42 CFR 2.32",
                "Rebuild the packet (the cover sheet then carries the notice) and pass QC again.",
                R.OTHER,
            )
        )
    refusals += basis_refusals(
        tenant=tenant, record_request=record_request, documents=documents, review=intake_review, packet=packet
    )
    refusals += delivery_refusals(record_request)
    return Verdict(action, packet, tuple(refusals))


UNENCRYPTED_CITATION = "45 CFR 164.524(c)(2)(ii), (c)(3); HHS access guidance"


def delivery_refusals(record_request: RecordRequest) -> list[Refusal]:
    """Unencrypted email only for the individual's own copy, and only once the individual, told of the risk, chose
    it (recorded with who explained it): never by a tick on the delivery form."""
    if record_request.delivery_method != DeliveryMethod.UNENCRYPTED_EMAIL:
        return []
    basis = rules.basis_for(record_request.request_type, record_request.requestor.kind)
    if basis != rules.INDIVIDUAL:
        return [
            Refusal(
                "UNENCRYPTED_EMAIL_NOT_THE_INDIVIDUAL",
                "Delivery",
                "Unencrypted email is the individual's own choice for their own copy; this request is not theirs.",
                "45 CFR 164.312(e)(1), 164.530(c)",
                "Choose a secure method (download link, fax, mail or pickup) on the request details.",
                R.OTHER,
            )
        ]
    if record_request.unencrypted_email_accepted_at is None:
        return [
            Refusal(
                "UNENCRYPTED_EMAIL_NOT_CHOSEN",
                "Delivery",
                "No record that the individual was told the risk of unencrypted email and still chose it.",
                UNENCRYPTED_CITATION,
                "Explain the risk to the individual and record their choice in the delivery section, or send a secure "
                "link instead.",
                R.OTHER,
            )
        ]
    return []


def _first_release_refusals(*, tenant: Tenant, record_request: RecordRequest, packet: ReleasePacket) -> list[Refusal]:
    out = []
    contents = docs.release_contents(docs.documents_for(tenant=tenant, record_request=record_request))
    changes = packets.packet_changes(packet, contents, record_request)
    if changes:
        out.append(
            Refusal(
                "PACKET_STALE",
                "Release packet",
                f"Packet v{packet.version} no longer matches the request: {', '.join(changes)} changed since it was "
                "built.",
                QC_POLICY,
                "Rebuild the packet and pass QC again.",
                R.OTHER,
            )
        )
    if rules.psychotherapy_notes_to_deny(record_request) and not denials.psychotherapy_denial_written(
        tenant=tenant, record_request=record_request
    ):
        out.append(
            Refusal(
                "PSYCHOTHERAPY_DENIAL_NOT_WRITTEN",
                "Psychotherapy notes",
                "The request asks for psychotherapy notes, which the right of access excludes, and their written "
                "denial has not been made.",
                "45 CFR 164.524(a)(1)(i), (d)(1)-(2)",
                "A supervisor denies the psychotherapy notes (unreviewable); the rest is then released.",
                R.OTHER,
            )
        )
    problem = invoices.release_fee_problem(tenant=tenant, record_request=record_request)
    if problem:
        out.append(
            Refusal("FEE_PREPAYMENT", "Fee", problem, "Organisation policy (prepayment)", problem, R.PAYMENT_PENDING)
        )
    return out


# --- A refusal -------------------------------------------------------------------------------------------------


REASON_PRIORITY = [
    R.AUTHORIZATION_REVOKED,
    R.EXPIRED_AUTHORIZATION,
    R.LEGAL_REVIEW,
    R.INCOMPLETE_AUTHORIZATION,
    R.IDENTITY_NOT_VERIFIED,
    R.PAYMENT_PENDING,
    R.SCOPE_UNCLEAR,
    R.AWAITING_REQUESTOR,
    R.OTHER,
]


def _lead(refusals: tuple[Refusal, ...]) -> Refusal:
    return min(refusals, key=lambda r: REASON_PRIORITY.index(r.reason) if r.reason in REASON_PRIORITY else 99)


def release_refused(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    verdict: Verdict,
    actor_label: str = "",
    delivery: Delivery | None = None,
) -> ReleaseRefusal:
    """Record a refusal in its own transaction (the refused action has rolled back): the ReleaseRefusal row with an
    owner for what happens next. When a rule of law refuses (the basis, a consent, an order, a hold), the request's
    exception is opened or updated with the weightiest rule's reason, owner and next step; a request already
    delivered cannot enter exception, so its assignee (else its supervisors) is told in the app. A refusal that only
    says the work is not finished (QC not passed, the packet to rebuild) changes no state: its message says the next
    step. Returns the row; callers raise ReleaseRefused(verdict, row)."""
    staff_actor = actor if getattr(actor, "is_authenticated", False) and role_in(actor, tenant) else None
    of_law = tuple(r for r in verdict.refusals if r.reason != R.OTHER)
    lead = _lead(of_law or verdict.refusals)
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
        owner = current.assignee or staff_actor
        episode = None
        action_label = ReleaseAction(verdict.action).label.lower()
        open_state = current.state in OPEN_STATES
        if of_law and open_state:
            void_qc(tenant=tenant, actor=actor, record_request=current)
            episode = exception_raise_or_update(
                tenant=tenant,
                actor=actor,
                record_request=current,
                reason=lead.reason,
                detail=f"Release refused ({action_label}): {verdict.summary()}",
                next_step=lead.fix,
                next_action_due=local_date(clock.now(), tenant) + timedelta(days=tenant.deficiency_follow_up_days),
                owner=owner,
                deficiency_codes=[r.code for r in of_law],
            )
            owner = episode.owner
        row = ReleaseRefusal.objects.create(
            tenant=tenant,
            request=current,
            action=verdict.action,
            packet=verdict.packet,
            delivery=delivery,
            at=clock.now(),
            actor=staff_actor,
            actor_label=actor_label[:200],
            refusals=[r.as_dict() for r in verdict.refusals],
            owner=owner,
            episode=episode,
        )
        if episode is None and not open_state:
            _tell_owner(tenant=tenant, record_request=current, row=row, lead=lead)
    return row


def void_qc(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> None:
    """QC attested to a basis that no longer holds (revoked, expired, refused at release): the request's QC fact is
    cleared, so "QC passed" is not shown beside it and the next release needs a new pass (a rebuilt packet's)."""
    current = RecordRequest.objects.for_tenant(tenant).get(pk=record_request.pk)
    if current.qc_passed_at is None or current.state not in (RequestState.IN_FULFILLMENT, RequestState.EXCEPTION):
        return
    current.qc_passed_at = None
    current.qc_passed_by = None
    history_stamp(current, actor)
    current.save(update_fields=["qc_passed_at", "qc_passed_by", "updated_at"])


def _tell_owner(*, tenant: Tenant, record_request: RecordRequest, row: ReleaseRefusal, lead: Refusal) -> None:
    """A delivered request's refused resend or download: its assignee, else its supervisors, hear of it in the app
    (no email: the reasons may name records)."""
    recipients = [record_request.assignee] if record_request.assignee_id else []
    if not recipients or role_in(recipients[0], tenant) is None:
        recipients = supervisors(tenant=tenant)
    for user in recipients:
        notify(
            tenant=tenant,
            recipient=user,
            kind="release_refused",
            subject=f"Release refused on {record_request.tracking_number}: {lead.subject or lead.code}",
            body=f"{row.get_action_display()} refused: {lead.message} ({lead.citation}). {lead.fix}",
            link=reverse("workflow:detail", args=[record_request.tracking_number]),
            dedupe_key=f"release-refused:{row.pk}:{user.pk}",
        )


def release_check(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    packet: ReleasePacket | None,
    action: str,
    actor_label: str = "",
    delivery: Delivery | None = None,
) -> Verdict:
    """The verdict, for a caller that has not started its transaction yet: refused, the refusal is recorded and
    ReleaseRefused raised; allowed, the verdict is returned."""
    verdict = release_verdict(tenant=tenant, record_request=record_request, packet=packet, action=action)
    if not verdict.allowed:
        row = release_refused(
            tenant=tenant,
            actor=actor,
            record_request=record_request,
            verdict=verdict,
            actor_label=actor_label,
            delivery=delivery,
        )
        raise ReleaseRefused(verdict, row)
    return verdict


def refusals_for(*, tenant: Tenant, record_request: RecordRequest) -> list[ReleaseRefusal]:
    return list(
        ReleaseRefusal.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("actor", "owner", "packet")
        .order_by("-at", "-id")[:10]
    )
