"""Writes of the queue's saved views: a staff member keeps the queue's current filters under a name and deletes them
again. Each view belongs to one user in one tenant; the queue lists them (workflow.selectors.saved_queue_views)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff
from workflow.models import SavedQueueView

SAVED_VIEWS_PER_USER = 30  # beside the team queues: more would push the table off the first screen
NAME_MAX_LENGTH = SavedQueueView._meta.get_field("name").max_length or 60
QUERY_MAX_LENGTH = SavedQueueView._meta.get_field("query").max_length or 1000


class SavedViewNotFound(ServiceError):
    status_code = 404


def saved_view_create(*, tenant: Tenant, actor: Any, name: str, query: str) -> SavedQueueView:
    """Save the queue's filters (`query`, the page's query string without its cursor) under `name`. A name the user
    already has is refused with a message, not overwritten."""
    require_staff(actor, tenant)
    name = " ".join(name.split())
    if not name:
        raise ServiceError("Give the view a name.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise ServiceError(f"Keep the name to {NAME_MAX_LENGTH} characters.", field="name")
    if len(query) > QUERY_MAX_LENGTH:
        raise ServiceError("These filters are too long to save; remove some and save again.", field="query")
    with transaction.atomic():
        # Locks the user's views so that two saves at once cannot both pass the checks below.
        mine = list(
            SavedQueueView.objects.for_tenant(tenant)
            .filter(user=actor)
            .select_for_update()
            .values_list("name", flat=True)
        )
        if any(existing.casefold() == name.casefold() for existing in mine):
            raise ServiceError(f"You already have a view named {name!r}; choose another name.", field="name")
        if len(mine) >= SAVED_VIEWS_PER_USER:
            raise ServiceError(
                f"You have {SAVED_VIEWS_PER_USER} saved views, the most there can be; delete one first.", field="name"
            )
        return SavedQueueView.objects.create(tenant=tenant, user=actor, name=name, query=query)


def saved_view_delete(*, tenant: Tenant, actor: Any, pk: int) -> str:
    """Delete one of the actor's own saved views and return its name. Another user's view, or another tenant's,
    is not found, exactly like a missing one."""
    require_staff(actor, tenant)
    with transaction.atomic():
        view = SavedQueueView.objects.for_tenant(tenant).filter(user=actor, pk=pk).select_for_update().first()
        if view is None:
            raise SavedViewNotFound("No such saved view.")
        name = view.name
        view.delete()
    return name
