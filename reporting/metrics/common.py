"""What the dashboard's modules share: the period, SQL aggregates the ORM lacks, and queue links."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import models
from django.urls import reverse

from roi.models import Tenant
from workflow.extensions import Window
from workflow.selectors import day_window


@dataclass(frozen=True)
class Period:
    """Days of the organisation's calendar, both included."""

    first_day: date
    last_day: date

    @classmethod
    def last_days(cls, today: date, days: int = 30) -> Period:
        return cls(first_day=today - timedelta(days=days - 1), last_day=today)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def window(self, tenant: Tenant) -> Window:
        return day_window(tenant=tenant, first_day=self.first_day, last_day=self.last_day)

    def each_day(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]

    def activity_params(self, activity: str) -> dict[str, str]:
        """Queue parameters for "requests with this activity in the period", in every state."""
        return {
            "state": "",
            "activity": activity,
            "activity_from": self.first_day.isoformat(),
            "activity_to": self.last_day.isoformat(),
        }


@functools.cache
def _queue_path() -> str:
    return reverse("workflow:queue")


def queue_url(**params: Any) -> str:
    """The queue filtered by `params` (QueueFilterForm's names); None values are left out."""
    query = urlencode({key: value for key, value in params.items() if value is not None})
    return _queue_path() + (f"?{query}" if query else "")


class Percentile(models.Aggregate):
    """percentile_cont(fraction) WITHIN GROUP (ORDER BY expression): the median is fraction 0.5."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = models.FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile's fraction lies between 0 and 1.")
        super().__init__(expression, fraction=float(fraction), **extra)


class Epoch(models.Func):
    """Seconds in an interval (EXTRACT(EPOCH FROM ...))."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = models.FloatField()


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def per_hundred(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None
