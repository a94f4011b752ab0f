"""Placeholder patients of requests that arrived by email or fax before anyone identified the patient."""

from __future__ import annotations

from datetime import date
from typing import Any

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
