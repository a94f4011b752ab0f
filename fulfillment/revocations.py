"""A patient's written revocation of an authorization or directive (45 CFR 164.508(b)(5)).

A revocation is effective when received, except for action already taken in reliance on the authorization. So it
is recorded once, against the authorization, with the written revocation attached (a document of kind "written
revocation" on the request it came with), and at once:

- every open request of the organisation relying on that authorization gets an exception "Authorization revoked"
  with an owner (its assignee, else whoever recorded the revocation) and the next step; a request already in
  exception has its episode say so;
- download links already issued under it stop working (revoked now; the release gate refuses them anyway);
- disclosures made before it stand, and stay in the accounting where they are accountable.

The requests' timelines and audit trails show the revocation as an event, with its document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from exceptions.choices import ExceptionReason
from exceptions.services import exception_raise_or_update
from fulfillment.gate import void_qc
from fulfillment.models import DownloadLink
from intake.authorizations import requests_relying_on
from intake.choices import AuthorizationKind, DocumentKind, DocumentSource
from intake.documents import document_attach
from intake.models import Authorization, Revocation
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff
from workflow.choices import OPEN_STATES, RequestState
from workflow.deadlines import local_date
from workflow.models import RecordRequest


@dataclass
class RevocationOutcome:
    revocation: Revocation
    stopped: list[RecordRequest] = field(default_factory=list)  # open requests now in exception
    links_revoked: int = 0
    delivered: list[RecordRequest] = field(default_factory=list)  # released before: those disclosures stand


def revocation_record(
    *,
    tenant: Tenant,
    actor: Any,
    authorization: Authorization,
    received_on: date,
    uploaded_file: Any,
    record_request: RecordRequest | None = None,
    note: str = "",
) -> RevocationOutcome:
    """Record the written revocation of `authorization`, received on `received_on`, and stop every release under it
    (module docstring). The written revocation is kept as a document of `record_request` (the request it came
    with), or of the request whose document holds the authorization."""
    require_staff(actor, tenant)
    if uploaded_file is None:
        raise ServiceError(
            "Attach the written revocation: a revocation must be in writing (45 CFR 164.508(b)(5)).", field="file"
        )
    today = local_date(clock.now(), tenant)
    if received_on > today:
        raise ServiceError("The revocation cannot have been received in the future.", field="received_on")
    with transaction.atomic():
        try:
            auth = (
                Authorization.objects.for_tenant(tenant)
                .select_for_update(of=("self",))
                .select_related("document", "patient")
                .get(pk=authorization.pk)
            )
        except Authorization.DoesNotExist:
            raise ServiceError("That authorization does not exist.") from None
        if Revocation.objects.for_tenant(tenant).filter(authorization=auth).exists():
            raise ServiceError("This authorization was already revoked.")
        if received_on < auth.signed_on:
            raise ServiceError(
                f"The revocation cannot predate the authorization (signed {auth.signed_on:%b %-d, %Y}).",
                field="received_on",
            )
        relying = list(
            requests_relying_on(tenant=tenant, authorization=auth).select_for_update(of=("self",)).order_by("pk")
        )
        home = _home_request(tenant, auth, record_request, relying)
        document = document_attach(
            tenant=tenant,
            actor=actor,
            record_request=home,
            uploaded_file=uploaded_file,
            kind=DocumentKind.REVOCATION,
            source=DocumentSource.STAFF_UPLOAD,
            note=f"Revocation of the {auth.word} signed {auth.signed_on:%b %-d, %Y}",
        )
        now = clock.now()
        revocation = Revocation(
            tenant=tenant,
            authorization=auth,
            received_on=received_on,
            document=document,
            note=(note or "").strip()[:300],
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            recorded_at=now,
        )
        history_stamp(revocation, actor)
        revocation.save()
        outcome = RevocationOutcome(revocation)
        for rr in relying:
            if rr.state in OPEN_STATES:
                _stop(tenant=tenant, actor=actor, record_request=rr, auth=auth, revocation=revocation)
                outcome.stopped.append(rr)
            elif rr.state in (RequestState.DELIVERED, RequestState.CLOSED):
                outcome.delivered.append(rr)
            RecordRequest.objects.for_tenant(tenant).filter(pk=rr.pk).update(last_activity_at=now)
        links = DownloadLink.objects.for_tenant(tenant).filter(
            delivery__request__in=[rr.pk for rr in relying], revoked_at__isnull=True, expires_at__gt=now
        )
        for link in links:
            link.revoked_at = now
            history_stamp(link, actor)
            link.save(update_fields=["revoked_at"])
            outcome.links_revoked += 1
    return outcome


def _home_request(
    tenant: Tenant, auth: Authorization, given: RecordRequest | None, relying: list[RecordRequest]
) -> RecordRequest:
    """The request the written revocation is kept with: the one it came with, else the one the authorization's
    form came with, else the latest relying on it."""
    if given is not None:
        if given.tenant_id != tenant.pk or given.patient_id != auth.patient_id:
            raise ServiceError("Record the revocation from a request of this patient.")
        return given
    if auth.document is not None:
        return RecordRequest.objects.for_tenant(tenant).get(pk=auth.document.request_id)
    if relying:
        return max(relying, key=lambda rr: rr.received_at)
    raise ServiceError("No request holds this authorization: record the revocation from a request of the patient.")


def _stop(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, auth: Authorization, revocation: Revocation
) -> None:
    """The open request waits in exception "Authorization revoked" with an owner, whatever it waited on before."""
    what = auth.word
    code = "DIRECTIVE_REVOKED" if auth.kind == AuthorizationKind.DIRECTIVE else "AUTH_REVOKED"
    void_qc(tenant=tenant, actor=actor, record_request=record_request)
    exception_raise_or_update(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        reason=ExceptionReason.AUTHORIZATION_REVOKED,
        detail=(
            f"The patient revoked the {what} signed {auth.signed_on:%b %-d, %Y} in writing (received "
            f"{revocation.received_on:%b %-d, %Y}): nothing more is released under it (45 CFR 164.508(b)(5))."
        ),
        next_step=f"Tell the requestor; release only under a new {what} signed by the patient.",
        next_action_due=local_date(clock.now(), tenant) + timedelta(days=tenant.deficiency_follow_up_days),
        deficiency_codes=[code],
    )
