"""Pages and actions for fulfillment: denials (deny in full or in part, the review). Each action posts from the
fulfillment panel of the request detail page and, on an error, shows that page again with the form and its input."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse

from fulfillment import denials
from fulfillment.choices import DenialReviewOutcome
from fulfillment.models import Denial, ReleaseDocument
from roi.choices import SUPERVISING_ROLES
from roi.errors import ServiceError
from roi.models import Membership, User
from roi.selectors import licensed_professionals
from roi.tenancy import has_role
from workflow.choices import DenialBasis
from workflow.extensions import RestrictedAction
from workflow.models import RecordRequest
from workflow.views import RequestDetailView

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


class DenialActionMixin(RequestDetailView):
    http_method_names = ["post"]

    def get_denial(self, record_request: RecordRequest, pk: int) -> Denial:
        denial = Denial.objects.for_tenant(self.tenant).filter(request=record_request, pk=pk).first()
        if denial is None:
            raise Http404("No such denial")
        return denial

    def failed(
        self, request: HttpRequest, tracking_number: str, error: ServiceError, **panel_forms: Any
    ) -> HttpResponse:
        messages.error(request, error.message)
        record_request = self.get_object(tracking_number)
        return self.render_detail(request, record_request, panel_forms=panel_forms, status=error.status_code)


class DenyView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            denials.deny_permission_check(actor=request.user, tenant=self.tenant)
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        documents = list(
            ReleaseDocument.objects.for_tenant(self.tenant).filter(request=record_request, excluded_reason="")
        )
        form = DenialForm(
            request.POST, documents=documents, professionals=list(licensed_professionals(tenant=self.tenant))
        )
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_detail(request, record_request, panel_forms={"denial_form": form}, status=400)
        data = form.cleaned_data
        try:
            denial = denials.denial_create(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                basis=data["basis"],
                scope_denied=data["scope_denied"],
                explanation=data["explanation"],
                partial=data["partial"],
                records_location=data["records_location"],
                withheld=data["withheld"],
                determined_by=form.professionals.get(data["determined_by"]),
                expected_state=data["expected_state"] or None,
            )
        except ServiceError as error:
            error.on_form(form)
            return self.failed(request, tracking_number, error, denial_form=form)
        if denial.partial:
            messages.success(request, "Denied in part: the denial letter was generated; the rest is still released.")
        else:
            messages.success(request, f"Request {tracking_number} denied; the denial letter was generated.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ReviewRequestView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        denial = self.get_denial(record_request, pk)
        try:
            denials.denial_review_request(tenant=self.tenant, actor=request.user, denial=denial)
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        messages.success(request, "Review requested: a supervisor designates the reviewer.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ReviewerAssignView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        denial = self.get_denial(record_request, pk)
        form = ReviewerForm(request.POST, staff=list(licensed_professionals(tenant=self.tenant)), denial=denial)
        if not form.is_valid():
            messages.error(
                request, "Choose a designated licensed health care professional who took no part in the denial."
            )
            return self.render_detail(
                request, record_request, panel_forms={"reviewer_form": form, "denial_pk": denial.pk}, status=400
            )
        reviewer = User.objects.filter(pk=form.cleaned_data["reviewer"]).first()
        try:
            denials.denial_reviewer_assign(tenant=self.tenant, actor=request.user, denial=denial, reviewer=reviewer)
        except ServiceError as error:
            return self.failed(request, tracking_number, error, reviewer_form=form, denial_pk=denial.pk)
        messages.success(request, f"{reviewer} will review the denial.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ReviewDecideView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        denial = self.get_denial(record_request, pk)
        form = ReviewDecideForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_detail(
                request, record_request, panel_forms={"decide_form": form, "denial_pk": denial.pk}, status=400
            )
        try:
            _, next_step = denials.denial_review_decide(
                tenant=self.tenant,
                actor=request.user,
                denial=denial,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            error.on_form(form)
            return self.failed(request, tracking_number, error, decide_form=form, denial_pk=denial.pk)
        messages.success(request, next_step)
        return redirect("workflow:detail", tracking_number=tracking_number)


class PsychotherapyDenyView(DenialActionMixin):
    """The routine, unreviewable denial of psychotherapy notes asked for under the right of access
    (fulfillment.denials.psychotherapy_notes_deny). A supervisor makes it from the request page or from the
    "Restricted request" page, without opening the request: it needs nothing of the records."""

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        return True  # the service allows supervisors only; the answer is a message and a redirect, no PHI

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            denials.psychotherapy_notes_deny(tenant=self.tenant, actor=request.user, record_request=record_request)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("workflow:detail", tracking_number=tracking_number)
        messages.success(
            request,
            f"Psychotherapy notes denied on {tracking_number} (unreviewable, 45 CFR 164.524(a)(1)(i)); the denial "
            "letter was generated and the rest of the records can be released.",
        )
        return redirect("workflow:detail", tracking_number=tracking_number)


def psychotherapy_restricted_actions(*, tenant: Any, record_request: Any, user: Any) -> list[RestrictedAction]:
    """On the "Restricted request" page: a supervisor denies the psychotherapy notes without opening the request."""
    if not has_role(user, tenant, SUPERVISING_ROLES):
        return []
    if not denials.psychotherapy_denial_due(tenant=tenant, record_request=record_request):
        return []
    return [
        RestrictedAction(
            label="Deny the psychotherapy notes (unreviewable)",
            url=reverse("fulfillment:deny-psychotherapy", args=[record_request.tracking_number]),
            explanation="This request asks for psychotherapy notes under the right of access, which does not cover "
            "them (45 CFR 164.524(a)(1)(i)). Their denial is unreviewable and needs nothing of the records: "
            "make it here without opening the request; the letter goes out and the rest is released.",
            confirm="Deny the psychotherapy notes of this request? The denial letter is generated and sent.",
        )
    ]


urlpatterns: list[URLPattern] = [
    path("<str:tracking_number>/deny/", DenyView.as_view(), name="deny"),
    path(
        "<str:tracking_number>/deny/psychotherapy-notes/",
        PsychotherapyDenyView.as_view(),
        name="deny-psychotherapy",
    ),
    path(
        "<str:tracking_number>/denials/<int:pk>/review/request/",
        ReviewRequestView.as_view(),
        name="denial-review-request",
    ),
    path(
        "<str:tracking_number>/denials/<int:pk>/review/reviewer/", ReviewerAssignView.as_view(), name="denial-reviewer"
    ),
    path(
        "<str:tracking_number>/denials/<int:pk>/review/outcome/",
        ReviewDecideView.as_view(),
        name="denial-review-outcome",
    ),
]
