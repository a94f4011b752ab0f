"""Floor views for the load test (ops/load.py): the least work of each kind the app does, served by the same gunicorn
in the same run, so the mixed workload's figures can be read against what this machine takes for nothing at all.

Mounted at /ops-floor/ only when OPS_FLOOR_VIEWS=true (roi/urls.py); production never sets it, and
tests/ops/test_floor_views.py checks that they are absent without it. Anonymous, read-only, no tenant data.

- trivial/: a plain Django view through our whole middleware stack, no SQL;
- drf/: a DRF APIView (content negotiation, renderer, no authentication), no SQL;
- pk/: one primary-key lookup (a user's id) on the request's persistent connection (DATABASE_CONN_MAX_AGE);
- pk-new-connection/: the same after closing the connection, so every request opens one (what a page pays
  without persistent connections);
- pk-tenant/: one primary-key lookup of a request inside its tenant's row-level security scope (roi/rls.py): what
  every tenant read of the app pays on top (the scope's set_config, once per change of scope on the connection).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from roi import rls
from workflow.models import RecordRequest


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


class DrfFloorView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def pk_lookup(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_user_model().objects.filter(pk=pk).values_list("id", flat=True).first()
    return JsonResponse({"id": found})


def pk_lookup_new_connection(request: HttpRequest, pk: int) -> HttpResponse:
    connection.close()
    return pk_lookup(request, pk)


def pk_lookup_in_tenant(request: HttpRequest, tenant_id: int, pk: int) -> HttpResponse:
    with rls.tenant_scope(tenant_id):
        state = RecordRequest.objects.filter(pk=pk).values_list("state", flat=True).first()
    return JsonResponse({"state": state})


urlpatterns = [
    path("trivial/", trivial, name="ops-floor-trivial"),
    path("drf/", DrfFloorView.as_view(), name="ops-floor-drf"),
    path("pk/<int:pk>/", pk_lookup, name="ops-floor-pk"),
    path("pk-new-connection/<int:pk>/", pk_lookup_new_connection, name="ops-floor-pk-new-connection"),
    path("pk-tenant/<int:tenant_id>/<int:pk>/", pk_lookup_in_tenant, name="ops-floor-pk-tenant"),
]
