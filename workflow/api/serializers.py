from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from workflow.choices import Channel, DeliveryMethod, DenialBasis, RecordType, RequestorKind, RequestState, RequestType
from workflow.deadlines import RECEIPT_LOOKBACK_DAYS, validate_received_at
from workflow.models import Patient, RecordRequest, Requestor


@extend_schema_field({"type": "string", "nullable": True, "description": "User name of the assigned staff member."})
class AssigneeField(serializers.SlugRelatedField):
    """The assignee's user name. Typed for the schema: the outcome serializers of the validate and deliver actions
    reuse this field outside a model serializer, where drf-spectacular cannot infer its type."""


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "mrn", "first_name", "last_name", "date_of_birth"]


class RequestorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Requestor
        fields = [
            "id", "kind", "name", "organization", "email", "phone", "fax",
            "address_line1", "address_line2", "city", "state", "postal_code",
        ]  # fmt: skip


class RecordRequestSerializer(serializers.ModelSerializer):
    patient = PatientSerializer(read_only=True)
    requestor = RequestorSerializer(read_only=True)
    assignee = AssigneeField(slug_field="username", read_only=True, allow_null=True)
    # Empty until chosen: declared here because DRF drops allow_blank from read-only model fields, and the schema
    # must say that "" is a value clients receive.
    delivery_method = serializers.ChoiceField(choices=DeliveryMethod.choices, allow_blank=True, read_only=True)
    denial_basis = serializers.ChoiceField(choices=DenialBasis.choices, allow_blank=True, read_only=True)

    class Meta:
        model = RecordRequest
        fields = [
            "tracking_number", "state", "request_type", "channel", "received_at",
            "legal_due_date", "internal_target_date", "patient", "requestor", "assignee",
            "scope_date_from", "scope_date_to", "record_types", "scope_notes",
            "delivery_method", "delivery_destination", "qc_passed_at", "delivered_at",
            "delivery_evidence", "denial_basis", "closed_at", "last_activity_at",
        ]  # fmt: skip
        read_only_fields = fields


def request_outcome(name: str, **fields: serializers.Field) -> serializers.Serializer:
    """The schema of an action's answer: the request's representation and, after it, what the action adds (fields
    are ordered by creation, so the added ones are copied afresh once the request's are made)."""
    request_fields = RecordRequestSerializer().get_fields()
    return inline_serializer(name, {**request_fields, **{key: copy.deepcopy(f) for key, f in fields.items()}})


class PatientInputSerializer(serializers.Serializer):
    mrn = serializers.CharField(max_length=40)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()


class RequestorInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestorKind.choices)
    name = serializers.CharField(max_length=200)
    organization = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    fax = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.CharField(max_length=2, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=10, required=False, allow_blank=True)


class RecordRequestCreateSerializer(serializers.Serializer):
    """A new request from an integration. The patient is matched by MRN within the tenant or created."""

    patient = PatientInputSerializer()
    requestor = RequestorInputSerializer()
    request_type = serializers.ChoiceField(choices=RequestType.choices)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    received_at = serializers.DateTimeField(
        required=False,
        validators=[validate_received_at],
        help_text=f"When the request reached the organisation (default: now): not in the future, at most "
        f"{RECEIPT_LOOKBACK_DAYS} days ago. Every legal clock starts here.",
    )
    scope_date_from = serializers.DateField(required=False, allow_null=True)
    scope_date_to = serializers.DateField(required=False, allow_null=True)
    record_types = serializers.ListField(
        child=serializers.ChoiceField(choices=RecordType.choices), required=False, max_length=len(RecordType.choices)
    )
    scope_notes = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    delivery_method = serializers.ChoiceField(choices=DeliveryMethod.choices, required=False, allow_blank=True)
    delivery_destination = serializers.CharField(required=False, allow_blank=True, max_length=300)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("scope_date_from"), attrs.get("scope_date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"scope_date_from": "The start date is after the end date."})
        return attrs


class TransitionInputSerializer(serializers.Serializer):
    expected_state = serializers.ChoiceField(
        choices=RequestState.choices,
        required=False,
        help_text="The state you last saw; if the request has moved on, the call fails with 409 instead of acting.",
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Required for raise_exception, resolve, deny, cancel.",
    )
    evidence = serializers.CharField(
        required=False, allow_blank=True, max_length=300, help_text="Required for deliver."
    )
    basis = serializers.ChoiceField(choices=DenialBasis.choices, required=False, help_text="Required for deny.")


class AssignInputSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(allow_null=True, help_text="User id of a staff member, or null to unassign.")
