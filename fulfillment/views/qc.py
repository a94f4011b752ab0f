"""Pages and actions for fulfillment: quality control of the release packet, from the request detail page."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from fulfillment import qc
from fulfillment.choices import QcOutcome
from roi.errors import ServiceError
from workflow.views import RequestDetailView


class QcReviewForm(forms.Form):
    """One tick per check; the note says what is wrong when the reviewer fails the packet."""

    packet_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    note = forms.CharField(
        label="Note (what is wrong, if anything)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("auto_id", "id_qc_%s")
        super().__init__(*args, **kwargs)
        for code in qc.CHECK_ORDER:
            self.fields[f"confirm_{code}"] = forms.BooleanField(label=qc.CONFIRM_PROMPTS[code], required=False)

    def confirmed(self) -> list[str]:
        return [code for code in qc.CHECK_ORDER if self.cleaned_data.get(f"confirm_{code}")]


class QcReviewView(RequestDetailView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = QcReviewForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the quality control form.")
            return self.render_detail(request, record_request, panel_forms={"qc_form": form}, status=400)
        try:
            review = qc.qc_review_record(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                confirmed=form.confirmed(),
                note=form.cleaned_data["note"],
                packet_version=form.cleaned_data["packet_version"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            if error.field == "note":
                form.add_error("note", error.message)
            fresh = self.get_object(tracking_number)
            return self.render_detail(request, fresh, panel_forms={"qc_form": form}, status=error.status_code)
        if review.outcome == QcOutcome.PASSED:
            messages.success(request, f"Quality control passed for packet v{review.packet.version}.")
        else:
            messages.warning(
                request,
                f"Quality control failed for packet v{review.packet.version}: {len(review.failures)} "
                f"reason{'s' if len(review.failures) != 1 else ''} recorded; the packet's builder was told.",
            )
        return redirect("workflow:detail", tracking_number=tracking_number)


urlpatterns: list[URLPattern] = [
    path("<str:tracking_number>/qc-review/", QcReviewView.as_view(), name="qc"),
]
