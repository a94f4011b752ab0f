"""Input of the intake API: a new request with its documents (base64 in JSON), the exception and checklist actions,
the extension."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.core.files.base import ContentFile
from rest_framework import serializers

from exceptions.choices import ExceptionReason
from intake.choices import AuthorityType, DocumentKind
from intake.documents import human_size, max_upload_bytes
from intake.models import Authorization, Extension, IntakeReview, Letter, RepresentativeAuthority
from intake.services import REVIEW_FIELDS
from workflow.api.serializers import PatientInputSerializer, RecordRequestCreateSerializer
from workflow.choices import RequestState, SensitiveCategory

MAX_DOCUMENTS = 20


class IntakePatientInputSerializer(PatientInputSerializer):
    """Matched by MRN (refused when the MRN belongs to someone with another name or date of birth), or without an
    MRN by last name, first initial and date of birth."""

    mrn = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class DocumentInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    filename = serializers.CharField(max_length=255)
    content_base64 = serializers.CharField(
        trim_whitespace=True, help_text="The file's bytes, base64 (RFC 4648). PDF, TIFF, PNG or JPEG."
    )

    def validate_content_base64(self, value: str) -> bytes:
        # Decoded size is about 3/4 of the text: refuse an oversized payload before decoding it.
        limit = max_upload_bytes()
        if len(value) * 3 // 4 > limit + 3:
            raise serializers.ValidationError(f"The file is over the {human_size(limit)} limit.")
        try:
            content = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise serializers.ValidationError("This is not valid base64.") from None
        if not content:
            raise serializers.ValidationError("The file is empty.")
        return content

    def to_file(self, data: dict[str, Any]) -> ContentFile:
        return ContentFile(data["content_base64"], name=data["filename"])


class IntakeRecordRequestCreateSerializer(RecordRequestCreateSerializer):
    """A new request through intake (deadline engine, duplicate check, acknowledgment letter, documents)."""

    patient = IntakePatientInputSerializer()
    sensitive_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=SensitiveCategory.choices),
        required=False,
        max_length=len(SensitiveCategory.choices),
    )
    urgency_date = serializers.DateField(required=False, allow_null=True)
    urgency_reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    documents = DocumentInputSerializer(many=True, required=False, max_length=MAX_DOCUMENTS)


class ExceptionOpenInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=ExceptionReason.choices)
    detail = serializers.CharField(max_length=4000, help_text="What exactly is wrong, in the words staff will read.")
    next_step = serializers.CharField(max_length=300)
    next_action_due = serializers.DateField()
    owner = serializers.IntegerField(required=False, allow_null=True, help_text="User id of a staff member.")
    expected_state = serializers.ChoiceField(choices=RequestState.choices, required=False)


class ExceptionResolveInputSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    # Accepted for clients written against the plain transition endpoint, which called the note "reason".
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, write_only=True)
    expected_state = serializers.ChoiceField(choices=RequestState.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        resolution = (attrs.pop("resolution", "") or attrs.pop("reason", "") or "").strip()
        attrs.pop("reason", None)
        if not resolution:
            raise serializers.ValidationError({"resolution": "Say how the exception was resolved."})
        attrs["resolution"] = resolution
        return attrs


class ValidateInputSerializer(serializers.Serializer):
    expected_state = serializers.ChoiceField(choices=RequestState.choices, required=False)


class IntakeReviewSerializer(serializers.ModelSerializer):
    """The checklist answers. Only the fields sent are changed; reviewed_by and reviewed_at are set by the service."""

    reviewed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    basis_answers = serializers.JSONField(
        required=False,
        help_text="A 164.512 basis's answers by element (intake.bases): true for a confirmation, the path's code for "
        "a choice, 'met' or 'not_met' for a decision (supervisors only).",
    )
    basis_decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = IntakeReview
        fields = [*sorted(REVIEW_FIELDS), "reviewed_by", "reviewed_at", "basis_decided_by", "basis_decided_at"]
        read_only_fields = ["reviewed_by", "reviewed_at", "basis_decided_by", "basis_decided_at"]


class DeficiencySerializer(serializers.Serializer):
    code = serializers.CharField()
    subject = serializers.CharField(help_text="The document or basis at fault (Authorization, Court order...).")
    staff_message = serializers.CharField()
    requestor_message = serializers.CharField()
    citation = serializers.CharField()
    reason = serializers.CharField()
    next_step = serializers.CharField()


class ExtensionInputSerializer(serializers.Serializer):
    # An empty reason reaches the service, which refuses it with the message the page shows (field "reason").
    reason = serializers.CharField(
        allow_blank=True,
        max_length=1000,
        help_text="Why the request needs more time. Printed on the written notice the requestor receives.",
    )
    days = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Days to add, up to what the rule that sets the due date allows (30 under HIPAA). Default: all.",
    )


class ExtensionSerializer(serializers.ModelSerializer):
    granted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Extension
        fields = ["original_due_date", "new_due_date", "reason", "granted_by", "granted_at"]
        read_only_fields = fields


class NoticeSerializer(serializers.ModelSerializer):
    """The written notice a letter is (kind and when); its PDF is on the request page."""

    class Meta:
        model = Letter
        fields = ["kind", "generated_at"]
        read_only_fields = fields


class AuthorizationInputSerializer(serializers.Serializer):
    """The signed form as it reads, recorded as the authorization (or directive) the request relies on."""

    document = serializers.IntegerField(help_text="Id of the request's document the signed form is on.")
    signer_name = serializers.CharField(max_length=200)
    signed_on = serializers.DateField()
    recipient = serializers.CharField(max_length=300, help_text="Who the form names as the recipient.")
    expires_on = serializers.DateField(required=False, allow_null=True)
    expiration_event = serializers.CharField(max_length=200, required=False, allow_blank=True)
    representative = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of the checked representative who signed it, if one did."
    )
    covers_psychotherapy_notes = serializers.BooleanField(required=False, default=False)


class AuthorizationSerializer(serializers.ModelSerializer):
    revoked_on = serializers.SerializerMethodField()

    class Meta:
        model = Authorization
        fields = [
            "id", "kind", "signer_name", "signed_on", "expires_on", "expiration_event", "expiration_event_occurred_on",
            "recipient", "covers_psychotherapy_notes", "representative", "document", "revoked_on",
        ]  # fmt: skip

    def get_revoked_on(self, obj: Authorization) -> str | None:
        revocation = getattr(obj, "revocation", None)
        return revocation.received_on.isoformat() if revocation is not None else None


class RepresentativeInputSerializer(serializers.Serializer):
    """A personal representative's authority, from its document, checked by the caller (164.502(g))."""

    name = serializers.CharField(max_length=200)
    authority_type = serializers.ChoiceField(choices=AuthorityType.choices)
    document = serializers.IntegerField(help_text="Id of the request's document that proves the authority.")
    ends_on = serializers.DateField(required=False, allow_null=True)


class RepresentativeSerializer(serializers.ModelSerializer):
    verified_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RepresentativeAuthority
        fields = ["id", "name", "authority_type", "document", "ends_on", "verified_by", "verified_at"]
