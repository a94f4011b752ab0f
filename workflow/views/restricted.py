"""The restricted-request check every staff page under /requests/<tracking_number>/... goes through, the
"Restricted request" page, and the page a member of two organisations sees for a request of the other one
(workflow/break_glass.py has the rule).

`RestrictedRequestMixin` is part of `RequestView` (workflow/views/base.py), listed after `TenantViewMixin` (which
sets `self.tenant` and checks the role first), so every request page, action and download has it.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from roi.models import Membership
from workflow import selectors
from workflow.break_glass import (
    BREAK_GLASS_MINUTES,
    RequestAccess,
    grant_expiry_label,
    request_access,
)
from workflow.extensions import restricted_actions
from workflow.forms.queue import BulkAssignForm
from workflow.forms.requests import BreakGlassForm
from workflow.models import RecordRequest


def restricted_page(
    request: HttpRequest,
    record_request: RecordRequest,
    access: RequestAccess,
    *,
    form: BreakGlassForm | None = None,
    status: int = 403,
) -> HttpResponse:
    """What a user who may not open a restricted request sees instead: its tracking number and state, never the
    patient, and what they can do about it (break the glass, claim it, or ask)."""
    tenant = request.tenant  # type: ignore[attr-defined]  # TenantMiddleware sets it
    staff = list(selectors.tenant_staff(tenant=tenant)) if access.can_break_glass else []
    context = {
        "rr": record_request,
        "access": access,
        "form": form if form is not None else (BreakGlassForm() if access.can_break_glass else None),
        "grant_minutes": BREAK_GLASS_MINUTES,
        "can_claim": record_request.assignee_id is None and record_request.is_open,
        "assign_form": BulkAssignForm(staff=staff) if staff and record_request.is_open else None,
        "actions": restricted_actions(tenant=tenant, record_request=record_request, user=request.user),
    }
    return render(request, "workflow/restricted.html", context, status=status)


def other_organisation_page(request: HttpRequest, tracking_number: str, membership: Membership) -> HttpResponse:
    """What a member of two organisations sees on a request page of the one the session is not in: which
    organisation holds the number and a button that switches to it and lands on the same page. Nothing of the
    request itself (no patient, no state). Status 404, as the address has nothing in the organisation the session
    acts in: links checkers and the browser's history treat it as the miss it is; the page is the way out."""
    # A form posted from a page of the other organisation (another tab switched meanwhile) lands on the request page.
    same_page = request.method in ("GET", "HEAD")
    target = request.get_full_path() if same_page else reverse("workflow:detail", args=[tracking_number])
    context = {"tracking_number": tracking_number, "organisation": membership.tenant, "next": target}
    return render(request, "workflow/other_organisation.html", context, status=404)


class RestrictedRequestMixin:
    """Stops every page of a restricted request (workflow/break_glass.py) for a user who may not open it, before the
    view loads anything. Another tenant's or a missing request passes through, for the view to answer 404; when
    the number belongs to another organisation the user is an active member of, that 404 names it and offers the
    switch (`other_organisation_page`); everyone else gets the plain 404, which says nothing of the number.

    Sets `self.request_access` for the view (the detail page shows the break-glass banner from it)."""

    tenant: Any
    request_access: RequestAccess | None = None
    checked_request: RecordRequest | None = None

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        """An action that shows nothing of the request may run without access (claiming it, logging a call)."""
        return False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        tracking_number = kwargs.get("tracking_number")
        tenant = getattr(self, "tenant", None)
        if tenant is None:
            raise AssertionError("RestrictedRequestMixin goes after TenantViewMixin, which sets the tenant.")
        if tracking_number is not None and tenant.restricted_requests_need_break_glass:
            try:
                record_request = selectors.request_for_staff(tenant=tenant, tracking_number=tracking_number)
            except RecordRequest.DoesNotExist:
                record_request = None
            # The request page's own lookup takes this one instead of reading it again (RequestDetailView).
            self.checked_request = record_request
            if record_request is not None:
                access = request_access(tenant=tenant, user=request.user, record_request=record_request)
                self.request_access = access
                if not access.allowed and not self.open_without_access(request, record_request):
                    return restricted_page(request, record_request, access)
        try:
            response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]  # a mixin: the view class comes after it
            return response
        except Http404:
            if tracking_number is None or (elsewhere := self._organisation_holding(request, tracking_number)) is None:
                raise
            return other_organisation_page(request, tracking_number, elsewhere)

    def _organisation_holding(self, request: HttpRequest, tracking_number: str) -> Membership | None:
        """The user's other organisation holding the number, when the 404 is about the request itself (not a
        missing letter or document of a request of this organisation)."""
        memberships = getattr(request, "memberships", [])
        if len(memberships) < 2:
            return None
        if RecordRequest.objects.for_tenant(self.tenant).filter(tracking_number=tracking_number).exists():
            return None
        return selectors.membership_holding_request(
            memberships=memberships, current_tenant_id=self.tenant.pk, tracking_number=tracking_number
        )

    def request_in_tenant(self, tracking_number: str) -> RecordRequest:
        """The request the URL names, inside the tenant; Http404 for another tenant's or a missing one. The request
        the check above loaded is used once instead of reading it again; a later call (after a failed action) reads
        it fresh."""
        checked, self.checked_request = self.checked_request, None
        if checked is not None and checked.tracking_number == tracking_number:
            return checked
        try:
            return selectors.request_for_staff(tenant=self.tenant, tracking_number=tracking_number)
        except RecordRequest.DoesNotExist:
            raise Http404("No such request") from None

    def break_glass_banner(self) -> dict[str, Any] | None:
        """The banner of a page opened under a break-glass grant: until when, and the reason given."""
        grant = self.request_access.grant if self.request_access is not None else None
        if grant is None:
            return None
        return {"until": grant_expiry_label(grant, self.tenant), "reason": grant.reason}
