"""Pages and actions for fulfillment: delivery with evidence, resends and download links. The requestor's download
itself is a portal page (portal/views/downloads.py): it asks the visitor to verify first."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from fulfillment import delivery as service
from fulfillment import links
from fulfillment.forms.delivery import DeliveryForm, ResendForm, staff_choices
from roi.errors import ServiceError
from workflow.views.base import RequestActionView, redirect_with_once

EVIDENCE_FIELDS = ("destination", "fax_confirmation", "mail_tracking_number", "pickup_id_checked_by")


class DeliverView(RequestActionView):
    """Record the delivery of the approved packet, by the method the requestor chose."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = DeliveryForm(request.POST, staff=staff_choices(self.tenant))
        if not form.is_valid():
            messages.error(request, "Check the delivery's highlighted fields.")
            return self.render_detail(request, record_request, panel_forms={"delivery_form": form}, status=400)
        try:
            result = service.delivery_record(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                evidence=form.evidence(),
                expected_state=form.cleaned_data["expected_state"] or None,
            )
        except ServiceError as error:
            messages.error(request, error.message)
            error.on_form(form)
            fresh = self.get_object(tracking_number)
            return self.render_detail(request, fresh, panel_forms={"delivery_form": form}, status=error.status_code)
        messages.success(request, f"Request {tracking_number} delivered: {result.delivery.evidence}.")
        return self._after(request, tracking_number, result)

    def _after(self, request: HttpRequest, tracking_number: str, result: service.DeliveryResult) -> HttpResponse:
        if result.url:
            # The link exists only now, in memory: shown once on the page this redirects to (for the phone or the
            # portal), in a short-lived signed cookie for that page alone, never in the session or the database.
            return redirect_with_once(tracking_number, {"issued_link": result.url})
        return redirect("workflow:detail", tracking_number=tracking_number)


class UnencryptedEmailChoiceView(RequestActionView):
    """The individual, told the risk, chose unencrypted email for their own copy: recorded with who explained it."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        if request.POST.get("explained") != "1":
            messages.error(request, "Confirm that you explained the risk of unencrypted email to the individual.")
            return self.render_detail(request, record_request, status=400)
        try:
            service.unencrypted_email_choice_record(
                tenant=self.tenant, actor=request.user, record_request=record_request, how=request.POST.get("how", "")
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, "Recorded: the individual chose unencrypted email after the warning.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ResendView(DeliverView):
    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        deliveries = list(service.deliveries_for(tenant=self.tenant, record_request=record_request))
        form = ResendForm(request.POST, staff=staff_choices(self.tenant), deliveries=deliveries)
        if not form.is_valid():
            messages.error(request, "Check the resend's highlighted fields.")
            return self.render_detail(request, record_request, panel_forms={"resend_form": form}, status=400)
        original = next(d for d in deliveries if str(d.pk) == form.cleaned_data["resend_of"])
        try:
            result = service.delivery_resend(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                original=original,
                reason=form.cleaned_data["reason"],
                evidence=form.evidence(),
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            error.on_form(form)
            fresh = self.get_object(tracking_number)
            return self.render_detail(request, fresh, panel_forms={"resend_form": form}, status=error.status_code)
        messages.success(request, f"Resent: {result.delivery.evidence}.")
        return self._after(request, tracking_number, result)


class LinkRevokeView(RequestActionView):
    """Stop a download link from working."""

    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            links.download_link_revoke(
                tenant=self.tenant, actor=request.user, record_request=record_request, link_id=pk
            )
        except links.LinkNotFound:
            raise Http404("No such link") from None
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, record_request, status=error.status_code)
        messages.success(request, "The link no longer works.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class LinkReissueView(DeliverView):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            result = service.download_link_reissue(
                tenant=self.tenant, actor=request.user, record_request=record_request, delivery_id=pk
            )
        except links.LinkNotFound:
            raise Http404("No such delivery") from None
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(
            request, f"A new link was issued to {result.delivery.destination}; earlier links stop working."
        )
        return self._after(request, tracking_number, result)


urlpatterns: list[URLPattern] = [
    path("<tracking:tracking_number>/deliver/", DeliverView.as_view(), name="deliver"),
    path("<tracking:tracking_number>/resend/", ResendView.as_view(), name="resend"),
    path(
        "<tracking:tracking_number>/unencrypted-email/",
        UnencryptedEmailChoiceView.as_view(),
        name="unencrypted-email-choice",
    ),
    path("<tracking:tracking_number>/links/<int:pk>/revoke/", LinkRevokeView.as_view(), name="link-revoke"),
    path("<tracking:tracking_number>/deliveries/<int:pk>/new-link/", LinkReissueView.as_view(), name="link-reissue"),
]
