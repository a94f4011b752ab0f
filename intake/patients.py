"""Patients' facts intake relies on: the placeholder patient of a request that arrived by email or fax before anyone
identified the patient, and the date of death an executor's authority depends on."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.tenancy import require_staff
from workflow.models import Patient

# Placeholder patients. An emailed or faxed request names its patient somewhere in a letter or a scanned form that
# only a person can read reliably, so ingestion cannot pick a Patient row. RecordRequest.patient is non-null, so each
# ingested request gets its OWN placeholder patient: "Unidentified, (email intake)" with MRN UNIDENTIFIED-<key>.
# - Not a shared per-tenant placeholder: correcting it (renaming it into the real patient) would silently move every
#   other unidentified request to that patient, and the access log (AccessEvent.patient_id) would lump them together.
# - Not a guess from the text (patient_data from the subject): a wrong match attaches PHI to the wrong person.
# - The MRN prefix is what the intake checklist and pages look for (`is_unidentified_patient`): the request keeps
#   needs_intake_completion=True until a specialist points it at the real patient.
# - The date of birth is a sentinel no real patient has (1900-01-01), so the placeholder never matches a real patient
#   by name and date of birth.
UNIDENTIFIED_MRN_PREFIX = "UNIDENTIFIED-"
UNIDENTIFIED_LAST_NAME = "Unidentified"
UNIDENTIFIED_BIRTH_DATE = date(1900, 1, 1)


def is_unidentified_patient(patient: Any) -> bool:
    """True for the placeholder patient of an ingested request (see UNIDENTIFIED_MRN_PREFIX)."""
    return str(getattr(patient, "mrn", "")).startswith(UNIDENTIFIED_MRN_PREFIX)


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
