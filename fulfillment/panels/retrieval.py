"""The retrieval part of the fulfillment panel: the request's retrieval tasks with their forms."""

from __future__ import annotations

from typing import Any

from fulfillment.forms.retrieval import NOTE_ACTIONS, RetrievalTaskForm, RetrievalUpdateForm, note_form, staff_choices
from fulfillment.retrieval import RETRIEVAL_STATES, retrieval_rows, retrieval_tasks_for
from workflow.choices import RequestState


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """What this part shows in the fulfillment panel of the request detail page. A form with errors comes back
    in `forms` as retrieval_form (adding) or retrieval_task_form = (task id, action, form)."""
    editable = record_request.state in RETRIEVAL_STATES
    staff = staff_choices(tenant) if editable else []  # the forms' owner lists; no forms, no query
    rows = retrieval_rows(list(retrieval_tasks_for(tenant=tenant, record_request=record_request)), tenant=tenant)
    bound_pk, bound_action, bound_form = forms.get("retrieval_task_form") or (None, None, None)
    for row in rows:
        task = row.task
        if not (editable and row.is_open):
            continue
        row.task.update_form = (  # type: ignore[attr-defined]  # an attribute for the template
            bound_form
            if (bound_pk, bound_action) == (task.pk, "edit")
            else RetrievalUpdateForm(
                staff=staff,
                auto_id=f"id_retrieval_{task.pk}_edit_%s",
                initial={"owner": str(task.owner_id or ""), "notes": task.notes},
            )
        )
        task.note_forms = [  # type: ignore[attr-defined]  # an attribute for the template
            (
                action,
                bound_form if (bound_pk, bound_action) == (task.pk, action) else note_form(action, task_pk=task.pk),
            )
            for action in NOTE_ACTIONS
        ]
        task.bound_action = bound_action if bound_pk == task.pk else None  # type: ignore[attr-defined]  # an attribute for the template
    return {
        "retrieval_editable": editable,
        "retrieval_rows": rows,
        "retrieval_open_count": sum(1 for row in rows if row.is_open),
        "retrieval_overdue_count": sum(1 for row in rows if row.overdue),
        "retrieval_starts_fulfillment": record_request.state == RequestState.VALIDATED,
        "retrieval_form": forms.get("retrieval_form") or (RetrievalTaskForm(staff=staff) if editable else None),
    }
