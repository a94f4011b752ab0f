"""The dashboard's period picker and the leakage settings form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms

from reporting.metrics import Period
from reporting.models import ReportingSettings
from roi import widgets

DEFAULT_DAYS = 30
MAX_DAYS = 5 * 366  # five years: beyond that, read the monthly reports


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=widgets.DateInput)
    end = forms.DateField(label="To", required=False, widget=widgets.DateInput)
    grain = forms.ChoiceField(
        label="Per",
        choices=[("day", "Day"), ("week", "Week")],
        required=False,
        widget=widgets.Select,
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The 'From' day is after the 'To' day: swap them.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days; for longer spans use the monthly reports.")
        data["period"] = Period(first_day=start, last_day=end)
        # Long periods read better per week.
        data["grain"] = data.get("grain") or ("week" if (end - start).days >= 62 else "day")
        return data

    def period_or_default(self) -> tuple[Period, str]:
        if self.is_valid():
            return self.cleaned_data["period"], self.cleaned_data["grain"]
        return Period.last_days(self.today, DEFAULT_DAYS), "day"


class MonthForm(forms.Form):
    month = forms.RegexField(regex=r"^\d{4}-(0[1-9]|1[0-2])$", error_messages={"invalid": "Give the month as YYYY-MM."})

    def period(self) -> Period:
        year, month = (int(part) for part in self.cleaned_data["month"].split("-"))
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return Period(first_day=first, last_day=following - timedelta(days=1))


class ReportingSettingsForm(forms.ModelForm):
    class Meta:
        model = ReportingSettings
        fields = ["minutes_per_status_call", "minutes_per_exception", "minutes_per_resend", "minutes_per_duplicate"]
        widgets = {name: widgets.NumberInput(attrs={"min": 0, "max": 600}) for name in fields}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.Meta.fields:
            value = data.get(name)
            if value is not None and value > 600:
                self.add_error(name, "At most 600 minutes (10 hours) per event.")
        return data
