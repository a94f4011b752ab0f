"""Where a signed-in user lands, and the organisation switcher in the header."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from roi.tenancy import SESSION_TENANT_KEY


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("workflow:queue")


@login_required
@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    """Pick which of the user's tenants the session acts in (the switcher in the header)."""
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        return HttpResponseBadRequest("Choose an organisation.")
    if not any(m.tenant_id == tenant_id for m in request.memberships):  # type: ignore[attr-defined]  # TenantMiddleware sets it
        return HttpResponseBadRequest("You are not a member of that organisation.")
    request.session[SESSION_TENANT_KEY] = tenant_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    if request.POST.get("open_there"):
        # From the page that says a request is in the chosen organisation (workflow/views/restricted.py): open it.
        return redirect(target)
    # A detail page of the old tenant would answer 404 in the new one; start from the queue.
    return redirect("workflow:queue" if "/requests/" in target else target)
