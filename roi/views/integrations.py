"""The Integrations page: a tenant admin's list of the organisation's integration clients and their API tokens, and
where clients are created and tokens issued, rotated and revoked (roi/services.py does each, with its access event).

Every change is a POST that redirects to a page (a reload never repeats it). A key is shown exactly once: the POST
that issues it keeps it in the server-side session, and the next view of the client's page takes it out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from roi import clock
from roi.choices import Role
from roi.errors import ServiceError
from roi.forms import ApiTokenIssueForm, IntegrationClientForm
from roi.models import ApiToken, IntegrationClient
from roi.selectors import integration_clients
from roi.services import (
    API_TOKEN_ROTATION_GRACE_HOURS,
    api_token_issue,
    api_token_revoke,
    api_token_rotate,
    integration_client_create,
    integration_client_set_active,
)
from roi.tenancy import TenantViewMixin

ADMIN_ROLES = frozenset({Role.ADMIN})
NEW_KEY_SESSION = "roi_new_api_key"


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    status: str  # ApiToken.status: active, rotated, expired, revoked


@dataclass(frozen=True)
class ClientRow:
    client: IntegrationClient
    tokens: list[TokenRow]

    @property
    def working(self) -> int:
        return sum(1 for row in self.tokens if row.status in ("active", "rotated"))


def _rows(clients: list[IntegrationClient], now: datetime) -> list[ClientRow]:
    return [
        ClientRow(client, [TokenRow(token, token.status(now)) for token in client.tokens.all()]) for client in clients
    ]


def _remember_key(request: HttpRequest, token: ApiToken, key: str) -> None:
    request.session[NEW_KEY_SESSION] = {"client": token.client_id, "token": token.pk, "key": key}


class IntegrationAdminMixin(TenantViewMixin):
    required_roles = ADMIN_ROLES

    def client_or_404(self, pk: int) -> IntegrationClient:
        return get_object_or_404(IntegrationClient.objects.for_tenant(self.tenant), pk=pk)

    def token_or_404(self, pk: int) -> ApiToken:
        return get_object_or_404(ApiToken.objects.for_tenant(self.tenant).select_related("client"), pk=pk)

    def client_page(
        self,
        request: HttpRequest,
        pk: int,
        *,
        form: ApiTokenIssueForm | None = None,
        error: str = "",
        status: int = 200,
    ) -> HttpResponse:
        client = get_object_or_404(integration_clients(tenant=self.tenant), pk=pk)
        new_key = None
        held = request.session.get(NEW_KEY_SESSION)
        if held and held.get("client") == client.pk:
            new_key = request.session.pop(NEW_KEY_SESSION)  # shown now, never again
        [row] = _rows([client], clock.now())
        context = {
            "row": row,
            "client": client,
            "form": form or ApiTokenIssueForm(),
            "error": error,
            "new_key": new_key,
            "grace_hours": API_TOKEN_ROTATION_GRACE_HOURS,
        }
        return render(request, "roi/integration_client.html", context, status=status)


class IntegrationListView(IntegrationAdminMixin, View):
    """Every client with its tokens (prefix, scopes, created, last used, expires, status), and a new client."""

    def get(
        self, request: HttpRequest, *, form: IntegrationClientForm | None = None, status: int = 200
    ) -> HttpResponse:
        rows = _rows(list(integration_clients(tenant=self.tenant)), clock.now())
        context = {"rows": rows, "form": form or IntegrationClientForm(), "grace_hours": API_TOKEN_ROTATION_GRACE_HOURS}
        return render(request, "roi/integrations.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = IntegrationClientForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        try:
            client = integration_client_create(
                tenant=self.tenant, actor=request.user, request=request, **form.cleaned_data
            )
        except ServiceError as error:
            if not error.on_form(form):
                form.add_error(None, error.message)
            return self.get(request, form=form, status=error.status_code)
        messages.success(request, f"Integration client '{client.name}' created. Issue its first token below.")
        return redirect("integration-client", pk=client.pk)


class IntegrationClientView(IntegrationAdminMixin, View):
    """One client: its tokens with their actions, and a new token (the key shown once, after the redirect)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.client_page(request, pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        client = self.client_or_404(pk)
        form = ApiTokenIssueForm(request.POST)
        if not form.is_valid():
            return self.client_page(request, pk, form=form, status=400)
        try:
            token, key = api_token_issue(
                tenant=self.tenant, actor=request.user, client=client, request=request, **form.cleaned_data
            )
        except ServiceError as error:
            if not error.on_form(form):
                return self.client_page(request, pk, form=form, error=error.message, status=error.status_code)
            return self.client_page(request, pk, form=form, status=error.status_code)
        _remember_key(request, token, key)
        messages.success(request, f"Token {token.prefix}... issued to '{client.name}'.")
        return redirect("integration-client", pk=client.pk)


class IntegrationClientActiveView(IntegrationAdminMixin, View):
    """Deactivate a client (all its tokens stop at once) or activate it again."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        client = self.client_or_404(pk)
        active = request.POST.get("active") == "1"
        integration_client_set_active(
            tenant=self.tenant, actor=request.user, client=client, active=active, request=request
        )
        if active:
            messages.success(request, f"'{client.name}' is active again: its unexpired, unrevoked tokens work.")
        else:
            messages.success(request, f"'{client.name}' is deactivated: every token it holds now answers 401.")
        return redirect("integration-client", pk=client.pk)


class IntegrationTokenRotateView(IntegrationAdminMixin, View):
    """A new key in place of a token's; the old one works for the grace period (roi.services.api_token_rotate)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = self.token_or_404(pk)
        try:
            new, key = api_token_rotate(tenant=self.tenant, actor=request.user, token=token, request=request)
        except ServiceError as error:
            return self.client_page(request, token.client_id, error=error.message, status=error.status_code)
        _remember_key(request, new, key)
        messages.success(
            request,
            f"Token {token.prefix}... rotated: {new.prefix}... replaces it, and the old key works for "
            f"{API_TOKEN_ROTATION_GRACE_HOURS} more hours at most. Revoke it once the integration uses the new key.",
        )
        return redirect("integration-client", pk=token.client_id)


class IntegrationTokenRevokeView(IntegrationAdminMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = self.token_or_404(pk)
        try:
            api_token_revoke(tenant=self.tenant, actor=request.user, token=token, request=request)
        except ServiceError as error:
            return self.client_page(request, token.client_id, error=error.message, status=error.status_code)
        messages.success(request, f"Token {token.prefix}... revoked: its next call answers 401.")
        return redirect("integration-client", pk=token.client_id)
