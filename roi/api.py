"""The API's shared pieces: tenant scoping for every API view, pagination, and service errors as responses.

Every API view inherits `TenantAPIMixin`, which resolves the tenant once (from the API token, or from the staff
session) and scopes querysets with `for_tenant()`. Authentication lives in roi/api_auth.py.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from roi.api_auth import api_tenant
from roi.choices import STAFF_ROLES
from roi.errors import ServiceError
from roi.models import Tenant


class TenantAPIMixin:
    """Base for API views: `self.tenant` is set once and every queryset is scoped to it."""

    required_roles: frozenset[str] = STAFF_ROLES
    queryset: Any

    tenant: Tenant

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # a mixin: APIView comes after it
        tenant = api_tenant(request)
        if tenant is None:  # IsTenantMember ran in super().initial(): a caller without a tenant never gets here
            raise PermissionDenied("No organisation.")
        self.tenant = tenant

    def get_queryset(self) -> Any:
        return self.queryset.for_tenant(self.tenant)


class CursorPagination(pagination.CursorPagination):
    ordering = ("-received_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        body.update(getattr(exc, "body_extra", None) or {})  # e.g. the release gate's refusals, rule by rule
        return Response(body, status=exc.status_code)
    return drf_exception_handler(exc, context)
