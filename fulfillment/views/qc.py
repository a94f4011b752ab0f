"""Pages and actions for fulfillment: quality control of the release packet, from the request detail page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from fulfillment import qc
from fulfillment.choices import QcOutcome
from fulfillment.forms.qc import QcReviewForm
from roi.errors import ServiceError
from workflow.views.base import RequestActionView


class QcReviewView(RequestActionView):
    """The QC reviewer's decision on the packet: approve, or return it with what to fix."""

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
            if error.field in form.fields:
                form.add_error(error.field, error.message)
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
    path("<tracking:tracking_number>/qc-review/", QcReviewView.as_view(), name="qc"),
]
