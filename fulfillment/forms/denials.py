"""Forms of the denials part of the fulfillment panel: deny in full or in part, choose a reviewer, decide the review."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from fulfillment.choices import DenialReviewOutcome
from fulfillment.models import Denial, ReleaseDocument
from roi.models import Membership
from workflow.choices import DenialBasis

PAGES = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


class DenialForm(forms.Form):
    """Deny in full or in part. For a part, tick the documents withheld; a page range withholds only those pages."""

    expected_state = forms.CharField(widget=forms.HiddenInput, required=False)
    partial = forms.TypedChoiceField(
        label="Deny",
        choices=[("0", "In full"), ("1", "In part: the rest is released")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        initial="0",
    )
    basis = forms.ChoiceField(label="Basis (45 CFR 164.524)", choices=[("", "Choose…"), *DenialBasis.choices])
    scope_denied = forms.CharField(label="What is withheld", max_length=500)
    explanation = forms.CharField(
        label="Explanation for the requestor (plain language)", widget=forms.Textarea(attrs={"rows": 3})
    )
    records_location = forms.CharField(label="Where the records are (not held here)", max_length=300, required=False)
    # 164.524(a)(3): offered only the designated licensed professionals; the service checks it again.
    determined_by = forms.TypedChoiceField(
        label="Determined by (licensed health care professional; danger or harm bases only)",
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={
            "invalid_choice": "Choose a designated licensed health care professional from the list (a tenant admin "
            "designates them on the Licensed reviewers page)."
        },
    )

    def __init__(
        self,
        *args: Any,
        documents: list[ReleaseDocument] | None = None,
        professionals: list[Membership] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.professionals = {m.user_id: m.user for m in professionals or []}
        empty = "Nobody designated yet" if not self.professionals else "Not applicable / choose…"
        self.fields["determined_by"].choices = [("", empty)] + [
            (str(m.user_id), f"{m.user} ({m.licensed_credential})") for m in professionals or []
        ]
        self.documents = documents or []
        for doc in self.documents:
            self.fields[f"withhold_{doc.pk}"] = forms.BooleanField(
                label=f"Withhold {doc.original_name} ({doc.get_record_type_display()}, {doc.page_count} pages)",
                required=False,
            )
            self.fields[f"pages_{doc.pk}"] = forms.CharField(
                label="Pages (blank: all)", required=False, max_length=20, widget=forms.TextInput(attrs={"size": 6})
            )

    def document_fields(self) -> list[tuple[Any, Any]]:
        return [(self[f"withhold_{d.pk}"], self[f"pages_{d.pk}"]) for d in self.documents]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        withheld: list[tuple[int, int, int]] = []
        for doc in self.documents:
            if not data.get(f"withhold_{doc.pk}"):
                continue
            text = data.get(f"pages_{doc.pk}") or ""
            if not text.strip():
                withheld.append((doc.pk, 1, doc.page_count))
                continue
            match = PAGES.match(text)
            if not match:
                self.add_error(f"pages_{doc.pk}", "Give a page or a range, like 4 or 3-7.")
                continue
            first = int(match.group(1))
            last = int(match.group(2) or first)
            withheld.append((doc.pk, first, last))
        if withheld and not data.get("partial"):
            self.add_error("partial", "Withholding some pages is a denial in part: choose 'In part'.")
        if data.get("basis") == DenialBasis.NOT_HELD and not (data.get("records_location") or "").strip():
            # 164.524(d)(3): say where to ask if we know; staff write "not known" when they do not.
            self.add_error("records_location", "Say where the records are, or write 'not known'.")
        data["withheld"] = withheld
        return data


class ReviewerForm(forms.Form):
    """164.524(a)(4): the designated licensed professionals who took no part in the denial (neither recorded nor
    determined it); the service checks it again."""

    reviewer = forms.ChoiceField(label="Reviewer (a designated licensed health care professional)")

    def __init__(self, *args: Any, staff: list[Membership], denial: Denial, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        took_part = {denial.decided_by_id, denial.determined_by_id}
        eligible = [m for m in staff if m.user_id not in took_part]
        self.fields["reviewer"].choices = [("", "Choose…" if eligible else "Nobody eligible yet")] + [
            (str(m.user_id), f"{m.user} ({m.licensed_credential})") for m in eligible
        ]
        self.nobody_eligible = not eligible


class ReviewDecideForm(forms.Form):
    """No "I am licensed" box: the reviewer's designation by a tenant admin is the proof, checked when they were
    chosen and again when they decide."""

    outcome = forms.ChoiceField(label="Outcome", choices=[("", "Choose…"), *DenialReviewOutcome.choices])
    note = forms.CharField(
        label="Reviewer's reasons (kept with the denial; the letter gives the outcome)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
