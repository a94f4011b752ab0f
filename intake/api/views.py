"""The request API with intake: creation goes through `intake_receive` (deadline engine, documents, duplicates,
acknowledgment) and is made safe to retry with an Idempotency-Key; exceptions open and close their episode; validate
runs the intake checklist; the checklist answers have their own endpoint; extend grants the one extension.

Routed at /api/v1/ through fulfillment's viewset, which adds deliver and deny on top (fulfillment/api_urls.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from exceptions import services as exception_services
from intake import authorizations
from intake import services as intake_services
from intake.api.serializers import (
    AuthorizationInputSerializer,
    AuthorizationSerializer,
    DeficiencySerializer,
    DocumentInputSerializer,
    ExceptionOpenInputSerializer,
    ExceptionResolveInputSerializer,
    ExtensionInputSerializer,
    ExtensionSerializer,
    IntakeRecordRequestCreateSerializer,
    IntakeReviewSerializer,
    NoticeSerializer,
    RepresentativeInputSerializer,
    RepresentativeSerializer,
    ValidateInputSerializer,
)
from intake.choices import DocumentSource, LetterKind
from intake.models import IdempotencyKey, IntakeDocument, Letter, RepresentativeAuthority
from intake.services import IncomingDocument
from roi.choices import ApiScope
from roi.errors import ServiceError
from roi.models import Membership
from workflow.api.serializers import RecordRequestSerializer, request_outcome
from workflow.api.views import RecordRequestViewSet
from workflow.models import RecordRequest

RESOLVED = serializers.BooleanField(help_text="An exception the rules opened was resolved.")

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID). A retry with the same key and body returns the first call's request "
    f"(200, header {REPLAYED_HEADER}: true) instead of creating another; the same key with another body answers 422.",
)


def body_digest(data: Any) -> str:
    """A digest of the request body as JSON data, so a retry that re-serialises the same body (other key order,
    other spacing) still counts as the same body."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


class IntakeRecordRequestViewSet(RecordRequestViewSet):
    token_scopes = RecordRequestViewSet.token_scopes | {
        "create": ApiScope.INTAKE,
        "intake_review": ApiScope.INTAKE,
        "authorization": ApiScope.INTAKE,
        "representative": ApiScope.INTAKE,
        "extend": ApiScope.TRANSITIONS,
    }

    def get_serializer_class(self) -> Any:
        return IntakeRecordRequestCreateSerializer if self.action == "create" else RecordRequestSerializer

    def _staff_member(self, user_id: int | None) -> Any:
        if user_id is None:
            return None
        membership = (
            Membership.objects.for_tenant(self.tenant)
            .select_related("user")
            .filter(user_id=user_id, is_active=True)
            .first()
        )
        if membership is None:
            raise Http404("No such staff member")
        return membership.user

    # --- Create ----------------------------------------------------------------------------------------------

    def _replay(self, key: str, digest: str) -> Response | None:
        """The first call's answer for a key already used, or None for a new key."""
        stored = IdempotencyKey.objects.for_tenant(self.tenant).filter(key=key).first()
        if stored is None:
            return None
        if stored.body_sha256 != digest:
            return Response(
                {
                    "detail": f"This {IDEMPOTENCY_HEADER} was already used with a different request body. Send the "
                    "same body to retry that call, or use a new key for a new request.",
                    "field": IDEMPOTENCY_HEADER,
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        response = Response(RecordRequestSerializer(self._reload(stored.request)).data, status=status.HTTP_200_OK)
        response[REPLAYED_HEADER] = "true"
        return response

    @extend_schema(
        request=IntakeRecordRequestCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: RecordRequestSerializer,
            200: OpenApiResponse(RecordRequestSerializer, description="A replay of an earlier call with the same key."),
            422: OpenApiResponse(description="The Idempotency-Key was used with another body."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a new request in `received`, with its documents. Patients are matched by MRN within the tenant."""
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if len(key) > MAX_KEY_LENGTH:
            return Response(
                {
                    "detail": f"{IDEMPOTENCY_HEADER} is at most {MAX_KEY_LENGTH} characters.",
                    "field": IDEMPOTENCY_HEADER,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        digest = body_digest(request.data)
        if key and (replayed := self._replay(key, digest)) is not None:
            return replayed

        serializer = IntakeRecordRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        documents = [
            IncomingDocument(
                uploaded_file=DocumentInputSerializer().to_file(item), kind=item["kind"], source=DocumentSource.API
            )
            for item in data.pop("documents", [])
        ]
        try:
            with transaction.atomic():
                record_request = intake_services.intake_receive(
                    tenant=self.tenant,
                    actor=request.user,
                    patient_data=data.pop("patient"),
                    requestor_data=data.pop("requestor"),
                    documents=documents,
                    **data,
                )
                if key:
                    # Two calls with one key both get here; the unique (tenant, key) constraint makes the second
                    # wait for the first to commit and then fail, which rolls back everything it created.
                    IdempotencyKey.objects.create(
                        tenant=self.tenant, key=key, body_sha256=digest, request=record_request
                    )
        except IntegrityError:
            # With a key, any unique conflict (the key itself, or the patient's MRN the winner just created) means
            # another call with this key may have won: answer with its request.
            if key and (replayed := self._replay(key, digest)) is not None:
                return replayed
            raise
        return Response(RecordRequestSerializer(self._reload(record_request)).data, status=status.HTTP_201_CREATED)

    # --- Exceptions, with their episode ------------------------------------------------------------------------

    @extend_schema(request=ExceptionOpenInputSerializer, responses={200: RecordRequestSerializer})
    @action(detail=True, methods=["post"], url_path="raise-exception")
    def raise_exception(self, request: Request, tracking_number: str) -> Response:
        """Put the request in exception and open its episode: reason, detail, next step and when it is due."""
        record_request = self.get_object()
        data = ExceptionOpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        owner = self._staff_member(fields.pop("owner", None))
        exception_services.exception_open(
            tenant=self.tenant, actor=request.user, record_request=record_request, owner=owner, **fields
        )
        return Response(RecordRequestSerializer(self._reload(record_request)).data)

    @extend_schema(request=ExceptionResolveInputSerializer, responses={200: RecordRequestSerializer})
    @action(detail=True, methods=["post"], url_path="resolve")
    def resolve(self, request: Request, tracking_number: str) -> Response:
        """Close the open exception episode with a resolution and return the request to where it was."""
        record_request = self.get_object()
        data = ExceptionResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        exception_services.exception_resolve(
            tenant=self.tenant, actor=request.user, record_request=record_request, **data.validated_data
        )
        return Response(RecordRequestSerializer(self._reload(record_request)).data)

    # --- The intake checklist ------------------------------------------------------------------------------------

    @extend_schema(
        request=ValidateInputSerializer,
        responses={
            200: request_outcome(
                "IntakeOutcome", validated=serializers.BooleanField(), deficiencies=DeficiencySerializer(many=True)
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="validate")
    def validate(self, request: Request, tracking_number: str) -> Response:
        """Run the intake checklist. Every check passes: the request is validated. Otherwise it is put in exception
        with an episode and a deficiency letter, and the deficiencies are listed.

        Both outcomes answer 200: the call did its work (the request changed state either way), and the body says
        which: the request's representation plus `validated` and `deficiencies`. 400 when nothing changed: the request is not in
        received, or a staff-only finding (a possible duplicate) must be settled first.
        """
        record_request = self.get_object()
        data = ValidateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = intake_services.intake_complete(
            tenant=self.tenant,
            actor=request.user,
            record_request=record_request,
            expected_state=data.validated_data.get("expected_state"),
        )
        return Response(
            {
                **RecordRequestSerializer(self._reload(outcome.record_request)).data,
                "validated": outcome.validated,
                "deficiencies": DeficiencySerializer(outcome.deficiencies, many=True).data,
            }
        )

    @extend_schema(request=IntakeReviewSerializer, responses={200: IntakeReviewSerializer})
    @action(detail=True, methods=["post"], url_path="intake-review")
    def intake_review(self, request: Request, tracking_number: str) -> Response:
        """Save checklist answers (what the specialist confirmed in the documents). Fields left out keep their value."""
        record_request: RecordRequest = self.get_object()
        data = IntakeReviewSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        review = intake_services.intake_review_save(
            tenant=self.tenant, actor=request.user, record_request=record_request, **data.validated_data
        )
        return Response(IntakeReviewSerializer(review).data)

    # --- What the request relies on -------------------------------------------------------------------------------

    def _document(self, record_request: RecordRequest, document_id: int) -> IntakeDocument | None:
        """The request's document of that id (another request's or tenant's: None, which the service refuses)."""
        return (
            IntakeDocument.objects.for_tenant(self.tenant).filter(pk=document_id, request_id=record_request.pk).first()
        )

    def _record_basis(
        self,
        request: Request,
        input_serializer: type[serializers.Serializer],
        record: Callable[..., Any],
        name: str,
        output_serializer: type[serializers.Serializer],
    ) -> Response:
        """Record what the request relies on from one of its documents (`record`: an intake.authorizations service)
        and check it again when it waits in an exception the rules opened; the answer is the request, the record as
        `name`, and whether the exception was `resolved`."""
        record_request: RecordRequest = self.get_object()
        data = input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        document = self._document(record_request, fields.pop("document"))
        result, outcome = intake_services.basis_record_and_resume(
            tenant=self.tenant,
            actor=request.user,
            record_request=record_request,
            record=lambda: record(
                tenant=self.tenant, actor=request.user, record_request=record_request, document=document, **fields
            ),
        )
        return Response(
            {
                **RecordRequestSerializer(self._reload(record_request)).data,
                name: output_serializer(result).data,
                "resolved": bool(outcome and outcome.resolved),
            }
        )

    @extend_schema(
        request=AuthorizationInputSerializer,
        responses={
            200: request_outcome("AuthorizationOutcome", authorization=AuthorizationSerializer(), resolved=RESOLVED)
        },
    )
    @action(detail=True, methods=["post"], url_path="authorization")
    def authorization(self, request: Request, tracking_number: str) -> Response:
        """Record the authorization (164.508) or, for a patient's directive to a third party, the directive
        (164.524(c)(3)(ii)) the request relies on, from the signed form among its documents. On a request waiting in
        an exception the rules opened, the checks run again in the same call: fixed, the exception is resolved
        (`resolved`). 400 says what to fix."""

        def record(*, representative: int | None = None, **fields: Any) -> Any:
            chosen = None
            if representative:
                chosen = RepresentativeAuthority.objects.for_tenant(self.tenant).filter(pk=representative).first()
                if chosen is None:
                    raise ServiceError("Choose a representative recorded for this patient.", field="representative")
            return authorizations.authorization_record(representative=chosen, **fields)

        return self._record_basis(
            request, AuthorizationInputSerializer, record, "authorization", AuthorizationSerializer
        )

    @extend_schema(
        request=RepresentativeInputSerializer,
        responses={
            200: request_outcome("RepresentativeOutcome", representative=RepresentativeSerializer(), resolved=RESOLVED)
        },
    )
    @action(detail=True, methods=["post"], url_path="representative")
    def representative(self, request: Request, tracking_number: str) -> Response:
        """Record a personal representative's authority from the document among the request's documents that proves
        it, with the caller as the staff member who checked it (45 CFR 164.502(g)). The request relies on it when
        its requestor is the representative. 400 says what to fix."""
        record = authorizations.representative_record
        return self._record_basis(
            request, RepresentativeInputSerializer, record, "representative", RepresentativeSerializer
        )

    # --- The extension ---------------------------------------------------------------------------------------------

    @extend_schema(
        request=ExtensionInputSerializer,
        responses={
            200: request_outcome("ExtensionOutcome", extension=ExtensionSerializer(), notice=NoticeSerializer())
        },
    )
    @action(detail=True, methods=["post"], url_path="extend")
    def extend(self, request: Request, tracking_number: str) -> Response:
        """Grant the one extension of a right-of-access or accounting request (45 CFR 164.524(b)(2),
        164.528(c)(1)(ii)): before the due date, with a reason, and with the written notice to the requestor, which is
        generated and sent. Answers the request with its new `legal_due_date`, the extension and the notice. 400 says
        what stops it (another type, a second extension, a due date already passed, no reason, too many days)."""
        record_request = self.get_object()
        data = ExtensionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        extension = intake_services.extension_grant(
            tenant=self.tenant, actor=request.user, record_request=record_request, **data.validated_data
        )
        notice = (
            Letter.objects.for_tenant(self.tenant)
            .filter(request_id=record_request.pk, kind=LetterKind.EXTENSION)
            .order_by("-generated_at", "-id")
            .first()
        )
        return Response(
            {
                **RecordRequestSerializer(self._reload(record_request)).data,
                "extension": ExtensionSerializer(extension).data,
                "notice": NoticeSerializer(notice).data,
            }
        )
