"""Reporting's writes: the organisation's leakage minutes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reporting.models import ReportingSettings
from roi.audit import history_stamp
from roi.choices import Role
from roi.errors import NotPermitted, ServiceError
from roi.models import Tenant
from roi.tenancy import role_in

LEAKAGE_FIELDS = ("minutes_per_status_call", "minutes_per_exception", "minutes_per_resend", "minutes_per_duplicate")
MAX_MINUTES = 600


def reporting_settings_for(tenant: Tenant) -> ReportingSettings:
    """The organisation's settings, or the defaults (unsaved) when an admin has not set them yet."""
    return ReportingSettings.objects.filter(tenant=tenant).first() or ReportingSettings(tenant=tenant)


def reporting_settings_save(*, tenant: Tenant, actor: Any, minutes: dict[str, int]) -> ReportingSettings:
    """Set the minutes per event the leakage report counts (tenant admins; 0 to 600 each)."""
    if role_in(actor, tenant) != Role.ADMIN:
        raise NotPermitted("Only a tenant admin may change the leakage minutes.")
    for name in LEAKAGE_FIELDS:
        if not 0 <= minutes[name] <= MAX_MINUTES:
            raise ServiceError(f"At most {MAX_MINUTES} minutes (10 hours) per event.", field=name)
    with transaction.atomic():
        current = ReportingSettings.objects.select_for_update().filter(tenant=tenant).first()
        current = current or ReportingSettings(tenant=tenant)
        for name in LEAKAGE_FIELDS:
            setattr(current, name, minutes[name])
        history_stamp(current, actor)
        current.save()
    return current
