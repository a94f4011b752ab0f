"""The QC review form of the fulfillment panel."""

from __future__ import annotations

from django import forms

from fulfillment import qc


class QcReviewForm(forms.Form):
    """One tick per check; the note says what is wrong when the reviewer fails the packet."""

    packet_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    note = forms.CharField(
        label="Note (what is wrong, if anything)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]  # Django's form arguments, passed through
        kwargs.setdefault("auto_id", "id_qc_%s")
        super().__init__(*args, **kwargs)
        for code in qc.CHECK_ORDER:
            self.fields[f"confirm_{code}"] = forms.BooleanField(label=qc.CONFIRM_PROMPTS[code], required=False)

    def confirmed(self) -> list[str]:
        return [code for code in qc.CHECK_ORDER if self.cleaned_data.get(f"confirm_{code}")]
