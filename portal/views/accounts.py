"""Requestor account pages of one organisation: sign up, confirm, sign in, the list of requests, open one, sign out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal import accounts, verification
from portal.forms.accounts import NewPasswordForm, ResetRequestForm, SignInForm, SignUpForm
from portal.http import portal_page
from portal.lookup import wait_phrase
from portal.views.submission import active_tenant
from roi.errors import ServiceError
from workflow.models import RecordRequest


@portal_page
@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = active_tenant(slug)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            accounts.account_signup(
                tenant=tenant,
                email=data["email"],
                password=data["password"],
                name=data["name"],
                organization=data["organization"],
                phone=data["phone"],
            )
        except ServiceError as error:
            form.add_error("password", error.message)
        else:
            # The same page whether the address is new or already has an account.
            return render(
                request, "portal/account_check_email.html", {"portal_org_name": tenant.name, "tenant": tenant}
            )
    return render(
        request,
        "portal/account_signup.html",
        {"form": form, "tenant": tenant, "portal_org_name": tenant.name},
        status=400 if form.is_bound else 200,
    )


@portal_page
def confirm(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    tenant = active_tenant(slug)
    account = accounts.account_confirm(tenant=tenant, token=token)
    context = {"tenant": tenant, "portal_org_name": tenant.name, "confirmed": account is not None}
    return render(request, "portal/account_confirmed.html", context, status=200 if account else 404)


@portal_page
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest, slug: str) -> HttpResponse:
    """A refused attempt answers 429 with Retry-After and says when to try again; so does the failure that makes
    the next attempt wait."""
    tenant = active_tenant(slug)
    form = SignInForm(request.POST or None)
    context = {"form": form, "tenant": tenant, "portal_org_name": tenant.name, "outcome": ""}
    if request.method == "POST" and form.is_valid():
        result = accounts.account_authenticate(
            tenant=tenant,
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            http_request=request,
        )
        if result.account is not None:
            response = redirect("portal:account", slug=tenant.slug)
            return accounts.sign_in(response, tenant, result.account, http_request=request)
        wait = result.retry_after or result.next_wait
        context |= {
            "outcome": result.outcome,
            "waits_for": result.waits_for,
            "retry_wait": wait_phrase(wait) if wait else "",
        }
        if result.outcome == accounts.SignIn.WAIT:
            response = render(request, "portal/account_signin.html", context, status=429)
            response["Retry-After"] = str(result.retry_after)
            return response
    return render(request, "portal/account_signin.html", context)


@portal_page
@require_http_methods(["GET", "POST"])
def reset_request(request: HttpRequest, slug: str) -> HttpResponse:
    """Forgotten password: the same answer whether or not the address has an account."""
    tenant = active_tenant(slug)
    form = ResetRequestForm(request.POST or None)
    context = {"form": form, "tenant": tenant, "portal_org_name": tenant.name}
    if request.method == "POST" and form.is_valid():
        accounts.account_reset_request(tenant=tenant, email=form.cleaned_data["email"])
        return render(request, "portal/account_reset_sent.html", context)
    return render(request, "portal/account_reset_request.html", context, status=400 if form.is_bound else 200)


@portal_page
@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """Choose a new password with the emailed link; it ends every session of the account."""
    tenant = active_tenant(slug)
    account = accounts.account_for_reset(tenant=tenant, token=token)
    if account is None:
        context = {"tenant": tenant, "portal_org_name": tenant.name}
        return render(request, "portal/account_reset_gone.html", context, status=404)
    form = NewPasswordForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.account_password_reset(tenant=tenant, token=token, password=form.cleaned_data["password"])
        except ServiceError as error:
            form.add_error("password" if error.field == "password" else None, error.message)
        else:
            response = redirect(f"{reverse('portal:account-signin', kwargs={'slug': tenant.slug})}?reset=1")
            return accounts.sign_out(response, tenant, None)
    context = {"form": form, "tenant": tenant, "portal_org_name": tenant.name}
    return render(request, "portal/account_reset.html", context, status=400 if form.is_bound else 200)


@portal_page
@require_POST
def sign_out(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = active_tenant(slug)
    account = accounts.signed_in_account(request, tenant)
    response = accounts.sign_out(redirect("portal:account-signin", slug=tenant.slug), tenant, account)
    return verification.forget(response)


@portal_page
def account(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = active_tenant(slug)
    signed_in = accounts.signed_in_account(request, tenant)
    if signed_in is None:
        return redirect("portal:account-signin", slug=tenant.slug)
    rows = accounts.account_request_rows(tenant=tenant, account=signed_in, http_request=request)
    context = {"tenant": tenant, "portal_org_name": tenant.name, "account": signed_in, "rows": rows}
    return render(request, "portal/account.html", context)


@portal_page
def account_open(request: HttpRequest, slug: str, tracking_number: str) -> HttpResponse:
    """Open one listed request's status page: this browser is granted access to it (portal.verification)."""
    tenant = active_tenant(slug)
    signed_in = accounts.signed_in_account(request, tenant)
    if signed_in is None:
        return redirect("portal:account-signin", slug=tenant.slug)
    record_request = (
        RecordRequest.objects.for_tenant(tenant)
        .filter(tracking_number=tracking_number, requestor__email__iexact=signed_in.email)
        .only("id", "tracking_number")
        .first()
    )
    if record_request is None:
        return redirect("portal:account", slug=tenant.slug)
    verification.grant(request, record_request.pk)
    response = redirect("portal:status", tracking_number=record_request.tracking_number)
    return verification.keep_grants(request, response)
