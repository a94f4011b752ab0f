"""The request API with fulfillment on top of intake's: `deliver` records the delivery with its method's evidence and
the exact packet version (fulfillment/delivery.py), and `deny` writes the denial and its letter
(fulfillment/denials.py). The generic transition endpoints for these would move the request without either."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from fulfillment import delivery, denials, links
from intake.api.views import IntakeRecordRequestViewSet
from roi.errors import ServiceError
from workflow.api.serializers import RecordRequestSerializer, request_outcome
from workflow.choices import DeliveryMethod, DenialBasis


class DeliverInputSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=DeliveryMethod.choices)
    destination = serializers.CharField(max_length=300, help_text="Email, fax number, postal address or collector.")
    fax_confirmation = serializers.CharField(max_length=100, required=False, allow_blank=True)
    mail_tracking_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    pickup_id_checked_by = serializers.IntegerField(required=False, help_text="User id of the staff member.")
    pickup_id_description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    expected_state = serializers.CharField(required=False)


class DenyInputSerializer(serializers.Serializer):
    basis = serializers.ChoiceField(choices=DenialBasis.choices)
    scope_denied = serializers.CharField(max_length=500)
    explanation = serializers.CharField()
    records_location = serializers.CharField(required=False, allow_blank=True, help_text="For records not held here.")
    determined_by = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="For danger to life or safety or harm to a person (45 CFR 164.524(a)(3)): the user id of the "
        "designated licensed health care professional who determined it. Omit for the other bases.",
    )
    expected_state = serializers.CharField(required=False)


REFUSAL = inline_serializer(
    "ReleaseRefusalRule",
    {
        "code": serializers.CharField(),
        "subject": serializers.CharField(help_text="The document or basis at fault (Authorization, Court order...)."),
        "message": serializers.CharField(),
        "citation": serializers.CharField(),
        "fix": serializers.CharField(help_text="What would let the release go."),
    },
)
RELEASE_REFUSED = OpenApiResponse(
    inline_serializer(
        "ReleaseRefused",
        {
            "detail": serializers.CharField(),
            "field": serializers.CharField(required=False),
            "refusals": serializers.ListField(child=REFUSAL, required=False),
        },
    ),
    description="The release gate refused (every rule, with its citation and fix, in `refusals`), or the request "
    "changed since `expected_state` was read.",
)


class FulfillmentRecordRequestViewSet(IntakeRecordRequestViewSet):
    def _checker(self, user_id: int | None) -> Any:
        """The active staff member of this tenant with that id (who checked the ID at pickup, who determined a
        denial); anyone else is None, which the service refuses with a message."""
        try:
            return self._staff_member(user_id)
        except Http404:
            return None

    @extend_schema(
        request=DeliverInputSerializer,
        responses={
            200: request_outcome(
                "DeliveryOutcome",
                packet_version=serializers.IntegerField(),
                download_url=serializers.CharField(allow_null=True),
            ),
            409: RELEASE_REFUSED,
        },
    )
    @action(detail=True, methods=["post"], url_path="deliver")
    def deliver(self, request: Request, tracking_number: str) -> Response:
        """Deliver the QC-passed packet by the request's method with that method's evidence (fax confirmation, mail
        tracking number, who checked the ID at pickup; portal and email methods get a download link, returned once
        as `download_url`). 400 says which field to fix; 409 that the release gate refused it now, rule by rule
        (fulfillment/gate.py)."""
        record_request = self.get_object()
        data = DeliverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        expected_state = fields.pop("expected_state", None)
        checker = fields.pop("pickup_id_checked_by", None)
        evidence = delivery.Evidence(**fields, pickup_id_checked_by=self._checker(checker))
        result = delivery.delivery_record(
            tenant=self.tenant,
            actor=request.user,
            record_request=record_request,
            evidence=evidence,
            expected_state=expected_state,
        )
        body = RecordRequestSerializer(self._reload(record_request)).data
        body["packet_version"] = result.delivery.packet.version
        body["download_url"] = request.build_absolute_uri(links.download_path(result.token)) if result.token else None
        return Response(body)

    @extend_schema(request=DenyInputSerializer, responses={200: RecordRequestSerializer})
    @action(detail=True, methods=["post"], url_path="deny")
    def deny(self, request: Request, tracking_number: str) -> Response:
        """Deny the request in full with a basis from 164.524(a): the denial letter (PDF) is generated, kept and
        emailed without patient details. Partial denials, which name the pages withheld, are made on the page."""
        record_request = self.get_object()
        denials.deny_permission_check(actor=request.user, tenant=self.tenant)  # 403 before any body check
        data = DenyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        determiner = fields.pop("determined_by", None)
        determined_by = self._checker(determiner)  # an active member of this tenant, else None
        if determiner is not None and determined_by is None:
            raise ServiceError(
                "No staff member of this organisation has that id: give the user id of a designated licensed health "
                "care professional.",
                field="determined_by",
            )
        denials.denial_create(
            tenant=self.tenant,
            actor=request.user,
            record_request=record_request,
            determined_by=determined_by,
            **fields,
        )
        return Response(RecordRequestSerializer(self._reload(record_request)).data)
