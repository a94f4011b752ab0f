"""Patients' facts intake relies on: the placeholder patient of a request that arrived by email, fax or the portal
before anyone identified the patient, and the date of death an executor's authority depends on."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff
from workflow import services as workflow_services
from workflow.models import Patient

# Placeholder patients. An emailed, faxed or portal request names its patient somewhere in a letter, a scanned form
# or typed text that only a person can check reliably, so intake cannot pick a Patient row. RecordRequest.patient is
# non-null, so each such request gets its OWN placeholder patient (Patient.is_placeholder), named "Unidentified,
# (email intake)" with MRN UNIDENTIFIED-<key>, until a specialist points it at the real patient.
# - Not a shared per-tenant placeholder: correcting it (renaming it into the real patient) would silently move every
#   other unidentified request to that patient, and the access log (AccessEvent.patient_id) would lump them together.
# - Not a guess from the text (patient_data from the subject): a wrong match attaches PHI to the wrong person.
# - `is_placeholder` is what everything asks: the intake checklist and pages (`is_unidentified_patient`: the request
#   keeps needs_intake_completion=True), the patient match and the duplicate check, which leave placeholders out
#   (intake.services), and the portal's status page. The name, MRN prefix and sentinel date of birth (1900-01-01) are
#   only what a person reads; no check relies on them.
UNIDENTIFIED_MRN_PREFIX = "UNIDENTIFIED-"
UNIDENTIFIED_LAST_NAME = "Unidentified"
UNIDENTIFIED_BIRTH_DATE = date(1900, 1, 1)


def placeholder_patient_create(*, tenant: Tenant, actor: Any, reference: str, source: str) -> Patient:
    """The placeholder patient of one request (see above). `reference`: unique to the request within the tenant
    (the message key, the portal form's token); `source`: how it arrived, shown as the first name ("email intake").
    Called inside the transaction that records the request."""
    return workflow_services.patient_create(
        tenant=tenant,
        actor=actor,
        mrn=f"{UNIDENTIFIED_MRN_PREFIX}{reference.upper()}",
        first_name=f"({source})",
        last_name=UNIDENTIFIED_LAST_NAME,
        date_of_birth=UNIDENTIFIED_BIRTH_DATE,
        placeholder=True,
    )


def is_unidentified_patient(patient: Any) -> bool:
    """True for the placeholder patient of a request nobody has identified the patient of yet."""
    return bool(getattr(patient, "is_placeholder", False))


def patient_death_record(*, tenant: Any, actor: Any, patient: Any, date_of_death: date | None, today: date) -> Any:
    """Record (or correct, or clear) the patient's date of death, from a death certificate or an estate's letters.
    An executor or administrator acts for the patient only once it is recorded (45 CFR 164.502(g)(4)). The patient's
    history keeps who changed it and when. `today`: the organisation's date."""
    require_staff(actor, tenant)
    if date_of_death is not None and date_of_death > today:
        raise ServiceError("The date of death cannot be in the future.", field="date_of_death")
    with transaction.atomic():
        current = Patient.objects.for_tenant(tenant).select_for_update().filter(pk=patient.pk).first()
        if current is None:
            raise ServiceError("That patient does not exist.")
        if date_of_death is not None and date_of_death < current.date_of_birth:
            raise ServiceError(
                f"The date of death is before the date of birth ({current.date_of_birth:%b %-d, %Y}).",
                field="date_of_death",
            )
        current.date_of_death = date_of_death
        history_stamp(current, actor)
        current.save(update_fields=["date_of_death"])
    return current
