"""Tenant admins' pages about their staff: open sessions (and ending them) and the licensed reviewers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from roi import two_factor
from roi.choices import Role
from roi.errors import ServiceError
from roi.models import Membership, Tenant
from roi.services import licensed_professional_designate, licensed_professional_remove, tenant_session_idle_set
from roi.sessions import staff_sessions_end, staff_sessions_open
from roi.tenancy import TenantViewMixin


def _posted_member(request: HttpRequest, tenant: Tenant) -> Membership | None:
    """The membership in `tenant` of the user the form names (`user`, their id); None for anything else."""
    user_id = str(request.POST.get("user", ""))
    if not user_id.isdigit():
        return None
    return Membership.objects.for_tenant(tenant).filter(user_id=int(user_id)).select_related("user").first()


class StaffSessionsView(TenantViewMixin, View):
    """Tenant admins see who is signed in and from where, end a member's sessions (a lost laptop, someone who
    left), and set how long an idle session lasts."""

    required_roles = frozenset({Role.ADMIN})

    def get(self, request: HttpRequest, *, status: int = 200, form_error: str = "") -> HttpResponse:
        members = list(Membership.objects.for_tenant(self.tenant).filter(is_active=True).select_related("user"))
        open_sessions = staff_sessions_open(user_ids=[m.user_id for m in members])
        by_user: dict[int, list[Any]] = {}
        for session in open_sessions:
            by_user.setdefault(session.user_id, []).append(session)
        rows = [(m, by_user.get(m.user_id, [])) for m in members]
        context = {
            "rows": rows,
            "form_error": form_error,
            "idle_minutes": self.tenant.session_idle_minutes,
            "max_hours": settings.STAFF_SESSION_MAX_HOURS,
        }
        return render(request, "roi/sessions.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        if "session_idle_minutes" in request.POST:
            try:
                minutes = int(request.POST["session_idle_minutes"])
                tenant_session_idle_set(tenant=self.tenant, actor=request.user, minutes=minutes)
            except ValueError:
                return self.get(request, status=400, form_error="Give a whole number of minutes between 5 and 240.")
            except ServiceError as error:
                return self.get(request, status=error.status_code, form_error=error.message)
            messages.success(request, f"Idle sessions now end after {minutes} minutes.")
            return redirect("staff-sessions")
        member = _posted_member(request, self.tenant)
        if member is None:
            raise Http404("No such member")
        if request.POST.get("reset_two_factor"):
            two_factor.two_factor_reset(user=member.user)
        ended = staff_sessions_end(user=member.user, actor=request.user)
        done = f"{member.user}: {ended} session{'s' if ended != 1 else ''} ended."
        if request.POST.get("reset_two_factor"):
            done += " Their authenticator and recovery codes are forgotten: they enrol again at their next sign-in."
        messages.success(request, done)
        return redirect("staff-sessions")


class LicensedReviewersView(TenantViewMixin, View):
    """Tenant admins designate which members are licensed health care professionals, with their licence: those who
    may determine a denial for danger or harm (45 CFR 164.524(a)(3)) and review one (164.524(a)(4)). The denial
    pages offer only them; a removed designation stops a review that person has not yet decided."""

    required_roles = frozenset({Role.ADMIN})

    def get(
        self, request: HttpRequest, *, status: int = 200, error: str = "", error_user: int | None = None
    ) -> HttpResponse:
        members = list(
            Membership.objects.for_tenant(self.tenant)
            .filter(is_active=True)
            .select_related("user", "licensed_designated_by")
            .order_by("user__last_name", "user__first_name", "user__username")
        )
        context = {
            "members": members,
            "designated": sum(1 for m in members if m.is_licensed_professional),
            "error": error,
            "error_user": error_user,
            "posted_credential": request.POST.get("credential", "") if error else "",
        }
        return render(request, "roi/licensed_reviewers.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        member = _posted_member(request, self.tenant)
        if member is None:
            raise Http404("No such member")
        try:
            if request.POST.get("action") == "remove":
                licensed_professional_remove(tenant=self.tenant, actor=request.user, member_user=member.user)
                done = f"{member.user} is no longer designated as a licensed health care professional."
            else:
                designated = licensed_professional_designate(
                    tenant=self.tenant,
                    actor=request.user,
                    member_user=member.user,
                    credential=request.POST.get("credential", ""),
                )
                done = f"{member.user} is designated as a licensed health care professional ({designated.licensed_credential})."
        except ServiceError as error:
            return self.get(request, status=error.status_code, error=error.message, error_user=member.user_id)
        messages.success(request, done)
        return redirect("licensed-reviewers")
