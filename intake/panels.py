"""The intake panel on the request detail page (registered in IntakeConfig.ready): the way into the checklist (the
panel owns `validate`, which only the checklist performs), documents, letters, and the one extension."""

from __future__ import annotations

from typing import Any

from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from intake import selectors
from intake.forms.checklist import ExtensionForm
from intake.services import EXTENDABLE_TYPES, extension_rule
from roi import clock
from workflow.choices import RequestState
from workflow.deadlines import local_date
from workflow.extensions import RequestPanel

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
    before the due date (164.524(b)(2)(ii), 164.528(c)(2)). A rule that allows none is named instead of a form."""
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


def intake_panel_context(http_request: Any, record_request: Any, tenant: Any, **forms: Any) -> dict[str, Any]:
    received = record_request.state == RequestState.RECEIVED
    deficiencies = selectors.current_deficiencies(tenant=tenant, record_request=record_request) if received else []
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
        **extension_context(
            tenant=tenant, record_request=record_request, extension=extension, form=forms.get("extension_form")
        ),
    }


PANEL = RequestPanel(
    name="intake",
    template_name="intake/_panel.html",
    order=10,
    get_context=intake_panel_context,
    owns_transitions=frozenset({"validate"}),
)
