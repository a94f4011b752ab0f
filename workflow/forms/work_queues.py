"""Tenant admins' form for a team queue."""

from __future__ import annotations

from django import forms

from workflow.choices import RequestType


class WorkQueueForm(forms.Form):
    name = forms.CharField(max_length=100)
    position = forms.IntegerField(min_value=0, max_value=32767, initial=0, help_text="Lower comes first in routing.")
    request_types = forms.MultipleChoiceField(
        choices=RequestType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="New requests of these types join this queue (the first active queue by position wins).",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
