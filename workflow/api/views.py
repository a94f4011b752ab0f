"""The request resource's base: list (cursor pages), retrieve, assign, and an endpoint per generic transition.

Not routed by itself: intake's viewset (intake/api/views.py) adds create through `intake_receive` and the transitions
that need intake or exceptions (validate, raise_exception, resolve), and fulfillment's (fulfillment/api.py) adds
deliver and deny; fulfillment/api_urls.py mounts the result at /api/v1/ (roi/urls.py)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from roi.api import TenantAPIMixin
from roi.api_schema import ApiSchema
from roi.audit import access_record
from roi.choices import AccessAction, ApiScope
from roi.models import ApiToken, Membership
from workflow import services
from workflow.api.serializers import (
    AssignInputSerializer,
    RecordRequestSerializer,
    TransitionInputSerializer,
)
from workflow.break_glass import request_access, restricted_request_ids, without_restricted
from workflow.models import RecordRequest
from workflow.search import SEARCH_LIMIT, SearchTermError, request_search, search_access_record
from workflow.transitions import TRANSITIONS, request_transition

SEARCH_PARAMETER = OpenApiParameter(
    "q",
    OpenApiTypes.STR,
    description=(
        "Search instead of listing: a tracking number (any case, with or without hyphens or ROI), a patient's name "
        '(typos tolerated; "last, first" too), an MRN (exact, any case), a date of birth (03/14/1961, 1961-03-14, '
        "3/14/61), a requestor's name, organisation or email, or a phone number (digits compared). At least 2 "
        f"characters, at most 100 (400 otherwise). Answers one page of at most {SEARCH_LIMIT} requests, best match "
        "first (exact tracking number and MRN, then dates of birth, phones and emails, then names by similarity), "
        "with `next` and `previous` null; a term that matches nothing answers an empty list. Restricted requests "
        "the caller may not open are left out."
    ),
)


def _transition_action(name: str) -> Any:
    spec = TRANSITIONS[name]

    @extend_schema(request=TransitionInputSerializer, responses={200: RecordRequestSerializer}, summary=spec.label)
    def handler(self: RecordRequestViewSet, request: Request, tracking_number: str) -> Response:
        record_request = self.get_object()
        data = TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = request_transition(
            name=name, tenant=self.tenant, actor=request.user, record_request=record_request, **data.validated_data
        )
        return Response(RecordRequestSerializer(self._reload(updated)).data)

    handler.__name__ = name
    handler.__doc__ = f"{spec.label}. Fails with 400 when a guard is not met, 403 for the wrong role, 409 on conflict."
    return action(detail=True, methods=["post"], url_path=name.replace("_", "-"))(handler)


class RecordRequestViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = RecordRequest.objects.select_related("patient", "requestor", "assignee")
    lookup_field = "tracking_number"
    schema = ApiSchema()
    # The scope an integration client's token needs for each operation (roi.api_auth.HasTokenScope); an operation
    # missing here is closed to tokens. Subclasses add their own actions.
    token_scopes: dict[str, str] = {
        "list": ApiScope.READ,
        "retrieve": ApiScope.READ,
        "assign": ApiScope.TRANSITIONS,
        **{name: ApiScope.TRANSITIONS for name in TRANSITIONS},
    }

    serializer_class = RecordRequestSerializer

    def get_queryset(self) -> Any:
        """The tenant's requests; for a token without the `restricted` scope, less the restricted ones, which then
        answer 404 and are missing from lists like requests of another organisation."""
        queryset = super().get_queryset()
        token = self.request.auth
        if isinstance(token, ApiToken) and not token.allows(ApiScope.RESTRICTED):
            queryset = without_restricted(queryset, tenant=self.tenant)
        return queryset

    def _reload(self, record_request: RecordRequest) -> RecordRequest:
        """The request a write just made or acted on, for its answer: found past the restricted filter, because a
        request that the call itself made restricted (its sensitive categories) is still the caller's own answer;
        it is missing from the caller's later reads."""
        return self.queryset.for_tenant(self.tenant).get(pk=record_request.pk)

    def get_object(self) -> RecordRequest:
        """The request, for staff signed in through the browser only if the pages would open it for them (a
        restricted request: its assignee, or a break-glass grant; workflow/break_glass.py). An integration client has
        no assignment: its token's `restricted` scope decides instead (get_queryset)."""
        record_request: RecordRequest = super().get_object()
        if isinstance(self.request.auth, ApiToken):
            return record_request
        access = request_access(tenant=self.tenant, user=self.request.user, record_request=record_request)
        # Claiming an unassigned restricted request is how it comes to open for someone.
        claimable = self.action == "assign" and record_request.assignee_id is None
        if not access.allowed and not claimable:
            raise PermissionDenied(
                "This request is restricted: it opens for its assignee, or by break-glass on the request page."
            )
        return record_request

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record_request = self.get_object()
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.VIEW_REQUEST,
            request=request._request,
            obj=record_request,
            request_id=record_request.pk,
            patient_id=record_request.patient_id,
            detail="api",
        )
        return Response(RecordRequestSerializer(record_request).data)

    @extend_schema(parameters=[SEARCH_PARAMETER])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The tenant's requests, newest first, a cursor page at a time; or, with `q`, the best matches of a search."""
        if "q" in request.query_params:
            return self._search(request, request.query_params["q"])
        response = super().list(request, *args, **kwargs)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.LIST_REQUESTS,
            request=request._request,
            detail=f"api list, {len(response.data.get('results', []))} rows",
        )
        return response

    def _search(self, request: Request, term: str) -> Response:
        """The page's search (workflow/search.py) over what this caller may list: a token without the `restricted`
        scope finds no restricted request (get_queryset), and staff signed in through the browser find only those
        they may open, since an API row shows the patient that the page's masked row hides."""
        try:
            results = request_search(tenant=self.tenant, term=term, user=request.user)
        except SearchTermError as error:
            raise ValidationError({"q": [str(error)]}) from None
        found = list(results.queryset(self.get_queryset()))
        if not isinstance(request.auth, ApiToken):
            hidden = restricted_request_ids(tenant=self.tenant, user=request.user, record_requests=found)
            found = [record_request for record_request in found if record_request.pk not in hidden]
        shown = {record_request.pk for record_request in found}
        results.hits = [hit for hit in results.hits if hit.request_id in shown]
        search_access_record(results=results, actor=request.user, request=request._request, where="api")
        return Response({"next": None, "previous": None, "results": RecordRequestSerializer(found, many=True).data})

    @extend_schema(request=AssignInputSerializer, responses={200: RecordRequestSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, tracking_number: str) -> Response:
        """Assign to a staff member (supervisors), claim for yourself, or unassign with null."""
        record_request = self.get_object()
        data = AssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = None
        if data.validated_data["assignee"] is not None:
            membership = (
                Membership.objects.for_tenant(self.tenant)
                .select_related("user")
                .filter(user_id=data.validated_data["assignee"], is_active=True)
                .first()
            )
            if membership is None:
                raise Http404("No such staff member")
            assignee = membership.user
        updated = services.request_assign(
            tenant=self.tenant, actor=request.user, record_request=record_request, assignee=assignee
        )
        return Response(RecordRequestSerializer(self._reload(updated)).data)

    # validate, raise_exception and resolve are intake's (intake/api/views.py), deliver and deny fulfillment's.
    start_fulfillment = _transition_action("start_fulfillment")
    close = _transition_action("close")
    cancel = _transition_action("cancel")
