"""The intake panel on the request detail page (registered in IntakeConfig.ready): the way into the checklist (the
panel owns `validate`, which only the checklist performs), documents, letters, and the one extension."""

from __future__ import annotations

from typing import Any

from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse

from intake import authorizations, rules, selectors
from intake.choices import AuthorizationKind
from intake.forms.checklist import ExtensionForm
from intake.forms.records import (
    AuthorizationLinkForm,
    AuthorizationRecordForm,
    ConsentRecordForm,
    EventOccurredForm,
    RepresentativeLinkForm,
    RepresentativeRecordForm,
)
from intake.models import IntakeReview
from intake.services import EXTENDABLE_TYPES, extension_rule
from roi import clock
from workflow.choices import RequestorKind, RequestState, SensitiveCategory
from workflow.deadlines import local_date
from workflow.extensions import NextStep, RequestPanel

NOT_READ = object()  # basis_records_context: the caller has not read the review yet
# The panel lists this many deficiencies; the checklist page has them all.
PANEL_DEFICIENCIES = 4
DOCUMENTS_TEMPLATE = "intake/_documents.html"


def documents_template_exists() -> bool:
    """The documents list is the document engineer's template (intake/_documents.html); until it exists the intake
    pages show a plain list of their own."""
    try:
        get_template(DOCUMENTS_TEMPLATE)
    except TemplateDoesNotExist:
        return False
    return True


def extension_context(
    *, tenant: Any, record_request: Any, extension: Any, form: ExtensionForm | None = None
) -> dict[str, Any]:
    """Whether the panel offers an extension: right of access or accounting, open, not yet extended, and on or
    before the due date (164.524(b)(2)(ii), 164.528(c)(1)(ii)). A rule that allows none is named instead of a form."""
    if extension is not None or record_request.request_type not in EXTENDABLE_TYPES or not record_request.is_open:
        return {}
    if local_date(clock.now(), tenant) > record_request.legal_due_date:
        return {}
    rule = extension_rule(tenant=tenant, record_request=record_request)
    allowed = rule.extension_days if rule else 0
    if not allowed:
        return {"extension_rule": rule, "extension_not_allowed": True}
    return {
        "extension_rule": rule,
        "extension_form": form or ExtensionForm(allowed_days=allowed, initial={"days": allowed}),
    }


def consent_categories(review: Any = None) -> list[str]:
    """The categories a consent can be recorded for (psychotherapy notes need an authorization of their own), less
    those already on file."""
    held = set(review.consents_received or []) if review is not None else set()
    return [c for c in SensitiveCategory.values if c != SensitiveCategory.PSYCHOTHERAPY_NOTES and c not in held]


def basis_records_context(
    *, tenant: Any, record_request: Any, forms: dict[str, Any], with_forms: bool = True, review: Any = NOT_READ
) -> dict[str, Any]:
    """The records the request relies on, for the checklist page and the request page: the authorization or directive
    (with its revocation), the personal representative's authority, and the forms that record or link them while the
    request is open. Bound forms with errors come back in `forms`."""
    basis = rules.basis_for(record_request.request_type, record_request.requestor.kind)
    kind = authorizations.KIND_FOR_BASIS.get(basis)
    if review is NOT_READ:
        review = authorizations.review_with_records(tenant=tenant, record_request=record_request)
    auth = review.authorization if review is not None and review.authorization_id else None
    rep = review.representative if review is not None and review.representative_id else None
    wants_rep = record_request.requestor.kind == RequestorKind.PERSONAL_REPRESENTATIVE
    context: dict[str, Any] = {
        "basis": basis,
        "kind": kind,
        "kind_label": AuthorizationKind(kind).label if kind else "",
        "kind_word": "directive" if kind == AuthorizationKind.DIRECTIVE else "authorization",
        "authorization": auth,
        "revocation": getattr(auth, "revocation", None) if auth else None,
        "representative": rep,
        "wants_representative": wants_rep and basis == rules.INDIVIDUAL,
        "can_record": record_request.is_open,
    }
    context["consents"] = [SensitiveCategory(c).label for c in (review.consents_received if review else [])]
    if not with_forms or not context["can_record"]:
        return context
    documents = list(selectors.documents_for(tenant=tenant, record_request=record_request))
    context["consent_form"] = forms.get("consent_form") or ConsentRecordForm(
        documents=documents, categories=consent_categories(review)
    )
    if kind is None and not context["wants_representative"]:
        return context
    patient = record_request.patient
    reps = list(authorizations.patient_representatives(tenant=tenant, patient=patient))
    requestor = record_request.requestor
    if kind is not None:
        others = [a for a in authorizations.patient_authorizations(tenant=tenant, patient=patient) if a.kind == kind]
        context["auth_form"] = forms.get("auth_form") or AuthorizationRecordForm(
            documents=documents,
            representatives=reps,
            # The recipient is typed as the form names it, never filled in from the request: the rules compare the two.
            initial={"signer_name": patient.full_name},
        )
        link_form = forms.get("auth_link_form") or AuthorizationLinkForm(
            authorizations=[a for a in others if auth is None or a.pk != auth.pk]
        )
        context["auth_link_form"] = link_form if link_form.choices_by_pk else None
        if auth is not None and auth.expiration_event and auth.expiration_event_occurred_on is None:
            context["event_form"] = forms.get("event_form") or EventOccurredForm()
    if wants_rep or kind is not None:
        context["rep_form"] = forms.get("rep_form") or RepresentativeRecordForm(
            documents=documents, initial={"name": requestor.name if wants_rep else ""}
        )
        link = forms.get("rep_link_form") or RepresentativeLinkForm(
            representatives=[r for r in reps if rep is None or r.pk != rep.pk]
        )
        context["rep_link_form"] = link if link.choices_by_pk and wants_rep else None
    return context


def intake_panel_context(http_request: Any, record_request: Any, tenant: Any, **forms: Any) -> dict[str, Any]:
    received = record_request.state == RequestState.RECEIVED
    review = authorizations.review_with_records(tenant=tenant, record_request=record_request)
    deficiencies = (
        selectors.current_deficiencies(
            tenant=tenant,
            record_request=record_request,
            review=review or IntakeReview(tenant=tenant, request=record_request),
        )
        if received
        else []
    )
    extension = selectors.extension_for(tenant=tenant, record_request=record_request)
    return {
        "rr": record_request,
        "checklist_open": received,
        "checklist_editable": record_request.state in (RequestState.RECEIVED, RequestState.EXCEPTION),
        "deficiencies": deficiencies[:PANEL_DEFICIENCIES],
        "more_deficiencies": max(0, len(deficiencies) - PANEL_DEFICIENCIES),
        "documents": selectors.documents_for(tenant=tenant, record_request=record_request),
        "has_documents_template": documents_template_exists(),
        "letters": selectors.letters_for(tenant=tenant, record_request=record_request),
        "extension": extension,
        "records": basis_records_context(
            tenant=tenant, record_request=record_request, forms={}, with_forms=False, review=review
        ),
        **extension_context(
            tenant=tenant, record_request=record_request, extension=extension, form=forms.get("extension_form")
        ),
    }


def intake_next_step(record_request: Any, user: Any, tenant: Any) -> NextStep | None:
    """Received: the checklist validates the request (after the details, for a request ingested without them)."""
    if record_request.state != RequestState.RECEIVED:
        return None
    if record_request.needs_intake_completion:
        return NextStep(
            "Identify the patient and complete the details",
            url=reverse("intake:details", args=[record_request.tracking_number]),
            hint="The request arrived without them; the checklist comes next.",
        )
    return NextStep(
        "Work the intake checklist",
        url=reverse("intake:checklist", args=[record_request.tracking_number]),
        hint="Every check passing validates the request.",
    )


def _intake_is_the_work(record_request: Any) -> bool:
    return record_request.state in (RequestState.RECEIVED, RequestState.EXCEPTION)


PANEL = RequestPanel(
    name="intake",
    template_name="intake/_panel.html",
    order=10,
    get_context=intake_panel_context,
    owns_transitions=frozenset({"validate"}),
    title="Intake: checklist, documents, letters",
    starts_open=_intake_is_the_work,
    next_step=intake_next_step,
)
