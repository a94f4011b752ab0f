"""Forms of the accounting of disclosures: a disclosure made outside a request, its correction, an agency's suspension."""

from __future__ import annotations

from typing import Any

from django import forms

from fulfillment import disclosures
from fulfillment.choices import DisclosurePurpose
from workflow.models import Requestor


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DisclosureForm(forms.Form):
    disclosed_on = forms.DateField(label="Date disclosed", widget=_date_input())
    recipient_name = forms.CharField(label="Recipient", max_length=300)
    recipient_address = forms.CharField(label="Recipient's address", max_length=300, required=False)
    description = forms.CharField(label="What was disclosed (briefly)", max_length=500)
    purpose = forms.ChoiceField(label="Purpose", choices=[("", "Choose…"), *DisclosurePurpose.choices])
    purpose_statement = forms.CharField(label="Purpose, in a sentence", max_length=500, required=False)


class CorrectionForm(DisclosureForm):
    reason = forms.CharField(label="Why it is corrected", max_length=100)
    entered_in_error = forms.BooleanField(
        label="Entered in error: leave it out of the accounting (it is kept, not deleted)", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.data.get("entered_in_error"):
            for name in DisclosureForm.base_fields:
                self.fields[name].required = False


class SuspensionForm(forms.Form):
    """The agency is picked among the patient's disclosure recipients and the organisation's government requestors
    (disclosures.agency_candidates), or its exact name is typed: a suspension leaves out what matches the agency
    as a record, never what merely contains its name (disclosures.suspends)."""

    agency_pick = forms.ChoiceField(
        label="Agency",
        required=False,
        error_messages={
            "invalid_choice": "That agency is no longer among this patient's recipients or the organisation's "
            "government agencies: choose it again from the list, or type its name below."
        },
    )
    agency = forms.CharField(
        label="Or the agency's exact name",
        max_length=300,
        required=False,
        help_text="Exactly as the disclosures name their recipient (case, spacing and punctuation aside); an agency "
        "whose name only contains it is not suspended.",
    )
    statement = forms.CharField(
        label="The agency's statement (who asked, why an accounting would impede it, and for how long)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    oral = forms.BooleanField(label="Oral statement (at most 30 days)", required=False)
    starts_on = forms.DateField(label="From", widget=_date_input())
    ends_on = forms.DateField(label="Until", widget=_date_input())

    field_order = ["agency_pick", "agency", "statement", "oral", "starts_on", "ends_on"]

    def __init__(
        self, *args: Any, recipients: list[Requestor | str], government: list[Requestor], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.picks: dict[str, tuple[str, Requestor | None]] = {}
        groups: list[tuple[str, list[tuple[str, str]]]] = []
        own: list[tuple[str, str]] = []
        for recipient in recipients:
            if isinstance(recipient, Requestor):
                own.append(self._requestor_choice(recipient))
            else:
                value = f"recipient:{disclosures.agency_key(recipient)}"
                self.picks[value] = (recipient, None)
                own.append((value, f"{recipient} · recorded outside a request"))
        if own:
            groups.append(("This patient's disclosure recipients", own))
        if government:
            groups.append(("Government agencies on file", [self._requestor_choice(r) for r in government]))
        self.fields["agency_pick"].choices = [("", "Choose, or type the name below"), *groups]

    def _requestor_choice(self, requestor: Requestor) -> tuple[str, str]:
        value = f"requestor:{requestor.pk}"
        self.picks[value] = ("", requestor)
        return value, f"{requestor} · {requestor.get_kind_display()}"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        pick, typed = data.get("agency_pick"), (data.get("agency") or "").strip()
        if "agency_pick" in self.errors:
            return data
        if pick and typed:
            self.add_error("agency", "Choose the agency from the list or type its name, not both: clear one of them.")
        elif not pick and not typed:
            self.add_error(
                "agency_pick",
                "Choose the agency from the list, or type its name below exactly as the disclosures name their "
                "recipient.",
            )
        return data

    def suspension_fields(self) -> dict[str, Any]:
        """What disclosures.suspension_record takes: the agency's name and its requestor on file, if picked."""
        data = dict(self.cleaned_data)
        pick, typed = data.pop("agency_pick"), data.pop("agency").strip()
        name, requestor = self.picks[pick] if pick else (typed, None)
        return {**data, "agency": name, "agency_requestor": requestor}
