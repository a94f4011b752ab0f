"""The intake checklist page, the duplicate decisions, the extension and letter downloads.

Every view finds the request through the tenant (another tenant's request answers 404 like a missing one) and calls
the intake services; the messages they raise are shown as they are, since they say what to fix.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from exceptions.choices import ExceptionReason
from intake import letters, rules, selectors, services
from intake.forms.checklist import ChecklistForm, DuplicateLinkForm, ExtensionForm
from intake.models import InboundMessage, Letter
from intake.panels import basis_records_context, documents_template_exists
from roi import clock
from roi.downloads import ServedFile
from roi.errors import ServiceError
from workflow.choices import RequestState
from workflow.deadlines import local_date
from workflow.models import RecordRequest
from workflow.views.base import RequestActionView, RequestView
from workflow.views.downloads import RequestDownloadView

EDITABLE_STATES = (RequestState.RECEIVED, RequestState.EXCEPTION)


class ChecklistPageMixin:
    """The checklist page, for its own view and for the actions posted from it, which show it again with errors."""

    tenant: Any

    def checklist_form(self, record_request: RecordRequest, data: Any = None) -> ChecklistForm:
        review = selectors.intake_review_for(tenant=self.tenant, record_request=record_request)
        return ChecklistForm(
            data,
            review=review,
            basis=rules.basis_for(record_request.request_type, record_request.requestor.kind),
            requestor_kind=record_request.requestor.kind,
            categories=list(record_request.sensitive_categories),
            today=local_date(clock.now(), self.tenant),
            read_only=record_request.state not in EDITABLE_STATES,
            initial={"expected_state": record_request.state},
        )

    def render_page(
        self,
        request: HttpRequest,
        record_request: RecordRequest,
        form: ChecklistForm | None = None,
        status: int = 200,
        record_forms: dict[str, Any] | None = None,
    ) -> HttpResponse:
        form = form or self.checklist_form(record_request)
        editable = record_request.state in EDITABLE_STATES
        basis = rules.basis_for(record_request.request_type, record_request.requestor.kind)
        context = {
            "rr": record_request,
            "form": form,
            "editable": editable,
            "can_run": record_request.state == RequestState.RECEIVED,
            "basis_label": rules.BASIS_LABELS[basis],
            "review": form.review,
            # The findings on the saved answers (what "run" would act on now), not on a form with errors.
            "deficiencies": selectors.current_deficiencies(
                tenant=self.tenant, record_request=record_request, review=form.review
            )
            if editable
            else [],
            "duplicates": selectors.possible_duplicates_for(tenant=self.tenant, record_request=record_request)
            if editable
            else [],
            "documents": selectors.documents_for(tenant=self.tenant, record_request=record_request),
            "has_documents_template": documents_template_exists(),
            "records": basis_records_context(
                tenant=self.tenant, record_request=record_request, forms=record_forms or {}
            ),
            "can_check_again": record_request.state == RequestState.EXCEPTION
            and record_request.state_before_exception == RequestState.RECEIVED,
        }
        return render(request, "intake/checklist.html", context, status=status)

    def not_editable(self, request: HttpRequest, record_request: RecordRequest) -> HttpResponse:
        messages.error(request, "Possible duplicates are settled while the request is received or in exception.")
        return self.render_page(request, record_request, status=400)


class ChecklistView(ChecklistPageMixin, RequestView):
    """The standardized intake checklist of one request: its facts and documents, the questions for its basis, the
    current deficiencies and possible duplicates. "Save and run" validates it or opens an exception."""

    def get(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        self.record_view(request, record_request, detail="intake checklist")
        return self.render_page(request, record_request)

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = self.checklist_form(record_request, request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted answers.")
            return self.render_page(request, record_request, form, status=400)
        try:
            services.intake_review_save(
                tenant=self.tenant, actor=request.user, record_request=record_request, **form.review_values()
            )
        except ServiceError as error:
            # Nothing was saved: the page shows the answers as they were sent, to correct and send again.
            messages.error(request, f"Nothing saved: {error.message}")
            return self.render_page(request, self.get_object(tracking_number), form, status=error.status_code)
        if "run" not in request.POST:
            messages.success(request, "Checklist saved.")
            return redirect("intake:checklist", tracking_number=tracking_number)
        try:
            outcome = services.intake_complete(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                expected_state=form.cleaned_data["expected_state"],
            )
        except ServiceError as error:
            # The answers are saved; what blocks the run (a possible duplicate, a stale page) is settled here.
            messages.error(request, f"Checklist saved, not run: {error.message}")
            return self.render_page(request, self.get_object(tracking_number), status=error.status_code)
        if outcome.resolved:
            messages.success(
                request,
                f"Every check passes: the exception is resolved and request {tracking_number} is validated, without a "
                "second deficiency letter.",
            )
        elif outcome.validated:
            messages.success(request, f"Validated: request {tracking_number} passed every intake check.")
        else:
            reason = ExceptionReason(outcome.episode.reason).label if outcome.episode else "see the checklist"
            letter_note = "; deficiency letter generated" if outcome.letter else ""
            verb = "Still in exception" if record_request.state == RequestState.EXCEPTION else "Exception opened"
            if verb == "Still in exception" and not outcome.letter:
                letter_note = "; no new letter (the requestor was already told)"
            messages.warning(request, f"{verb}: {reason}{letter_note}.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class DuplicateLinkView(ChecklistPageMixin, RequestActionView):
    """Close this request as a duplicate of one of its possible duplicates (cancelled, with the reference)."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        if record_request.state not in EDITABLE_STATES:
            return self.not_editable(request, record_request)
        form = DuplicateLinkForm(request.POST)
        candidates = selectors.possible_duplicates_for(tenant=self.tenant, record_request=record_request)
        original = next(
            (c for c in candidates if form.is_valid() and c.tracking_number == form.cleaned_data["original"]), None
        )
        if original is None:
            messages.error(request, "Choose the original among this request's possible duplicates.")
            return self.render_page(request, record_request, status=400)
        try:
            services.duplicate_link(
                tenant=self.tenant, actor=request.user, record_request=record_request, original=original
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_page(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, f"Request {tracking_number} cancelled as a duplicate of {original.tracking_number}.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class DuplicateDistinctView(ChecklistPageMixin, RequestActionView):
    """Settle the possible duplicates as different requests, so the checklist can run."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        if record_request.state not in EDITABLE_STATES:
            return self.not_editable(request, record_request)
        try:
            services.duplicate_mark_distinct(tenant=self.tenant, actor=request.user, record_request=record_request)
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_page(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, "Marked as not a duplicate: the checklist can run.")
        return redirect("intake:checklist", tracking_number=tracking_number)


class ExtensionView(RequestActionView):
    """The one extension of a right-of-access or accounting request, from the intake panel on the detail page."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        # The form caps the days at what the rule allows; a rule allowing none is refused by the service, by name.
        rule = services.extension_rule(tenant=self.tenant, record_request=record_request)
        form = ExtensionForm(request.POST, allowed_days=rule.extension_days if rule else None)
        if not form.is_valid():
            messages.error(request, "Check the extension's reason and number of days.")
            return self.render_detail(request, record_request, panel_forms={"extension_form": form}, status=400)
        try:
            extension = services.extension_grant(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                reason=form.cleaned_data["reason"],
                days=form.cleaned_data["days"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(
            request,
            f"Extension granted: the new due date is {extension.new_due_date:%a %b %-d, %Y}; the extension notice "
            "was generated.",
        )
        return redirect("workflow:detail", tracking_number=tracking_number)


class LetterDownloadView(RequestDownloadView):
    """A letter's PDF, as an attachment. Every download is an access event (the letter names the patient)."""

    def find(self, *, tracking_number: str, letter_id: int) -> Letter:
        try:
            return selectors.letter_for_download(
                tenant=self.tenant, tracking_number=tracking_number, letter_id=letter_id
            )
        except Letter.DoesNotExist:
            raise Http404("No such letter") from None

    def open_file(self, letter: Letter) -> ServedFile:
        return ServedFile(
            content=letters.letter_open(letter),
            filename=f"{letter.request.tracking_number}-{letter.kind}-{letter.pk}.pdf",
            content_type="application/pdf",
            obj=letter,
            request_id=letter.request_id,
            patient_id=letter.request.patient_id,
            detail=f"{letter.get_kind_display()} letter",
        )


class InboundMessageDownloadView(RequestDownloadView):
    """The email or fax-to-email message a request came from, exactly as received (.eml): its text, its attachments,
    its signature parts. Every download is an access event."""

    def find(self, *, tracking_number: str) -> InboundMessage:
        message = (
            InboundMessage.objects.for_tenant(self.tenant)
            .select_related("request")
            .filter(request__tracking_number=tracking_number)
            .exclude(raw="")
            .first()
        )
        if message is None:
            raise Http404("No message kept for this request")
        return message

    def open_file(self, message: InboundMessage) -> ServedFile:
        return ServedFile(
            content=message.raw.open("rb"),
            filename=f"{message.request.tracking_number}-message.eml",
            content_type="message/rfc822",
            obj=message,
            request_id=message.request_id,
            patient_id=message.request.patient_id,
            detail=f"Message as received, from {message.sender or 'unknown sender'}",
        )


urlpatterns: list[URLPattern] = [
    path("<tracking:tracking_number>/intake/", ChecklistView.as_view(), name="checklist"),
    path("<tracking:tracking_number>/intake/message/", InboundMessageDownloadView.as_view(), name="inbound-message"),
    path("<tracking:tracking_number>/intake/duplicate/link/", DuplicateLinkView.as_view(), name="duplicate-link"),
    path(
        "<tracking:tracking_number>/intake/duplicate/distinct/",
        DuplicateDistinctView.as_view(),
        name="duplicate-distinct",
    ),
    path("<tracking:tracking_number>/extension/", ExtensionView.as_view(), name="extension"),
    path("<tracking:tracking_number>/letters/<int:letter_id>/", LetterDownloadView.as_view(), name="letter-download"),
]
