"""The API's OpenAPI schema beyond what drf-spectacular infers: the token scheme and the error answers; and the
views that serve it and its docs page to signed-in callers only (roi.api_auth.CanReadApiSchema).

Kept apart from roi/api.py because DRF's settings import that module (pagination, exception handler) while DRF is
still loading, and drf-spectacular's inspector imports DRF's generic views. The request API's base view
(workflow/api/views.py) uses `ApiSchema`; importing this module also registers the token scheme.
"""

from __future__ import annotations

from typing import Any, NoReturn

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from roi.api_auth import CanReadApiSchema, required_scope


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """roi.api_auth's `Authorization: Token <key>` in the schema, so integrators and schema-driven clients see it."""

    target_class = "roi.api_auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        # The word before the key, not a secret.
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")  # noqa: S106


ERROR_BODY = inline_serializer(
    "ErrorDetail",
    {
        "detail": serializers.CharField(),
        "field": serializers.CharField(required=False, help_text="The input to fix, when one field is at fault."),
    },
)
# What every endpoint can answer besides its success (roi.api.exception_handler, DRF's authentication and
# validation, roi.security.InputHygieneMiddleware). A 400 is either a service's {"detail", "field"}, DRF's
# {field: [messages]} or the middleware's {"detail"}: an object either way.
ERRORS_ANY = {
    "400": OpenApiResponse(
        ERROR_BODY,
        description="A control character (U+0000 to U+001F, U+007F) in the path or a query parameter: remove it.",
    ),
    "401": OpenApiResponse(
        ERROR_BODY, description="No token, or an unknown, expired or revoked one, or one of a deactivated client."
    ),
    "403": OpenApiResponse(
        ERROR_BODY, description="The token lacks the operation's scope (the message names it), or the role may not."
    ),
    "404": OpenApiResponse(ERROR_BODY, description="No such request in the caller's organisation."),
}
ERRORS_WRITE = {
    "400": OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="The input, or the request's state, says what to fix (a control character in the path, a query "
        "parameter or a JSON string other than tab, line feed and carriage return included).",
    ),
    "413": OpenApiResponse(ERROR_BODY, description="A body larger than the site reads in one request."),
    "415": OpenApiResponse(ERROR_BODY, description="A body in a format the API does not read (send JSON)."),
}
ERRORS_ACTION = {
    "409": OpenApiResponse(ERROR_BODY, description="The request changed since `expected_state` was read."),
}


class ApiSchema(AutoSchema):
    """drf-spectacular documents each operation's success answer; this adds the error answers above to every
    operation that does not declare them itself, so the schema lists every status a client can receive
    (tests/security checks each answer against it)."""

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's AutoSchema hook, not DRF's
        """The operation's docstring, and the scope an integration client's token needs for it."""
        description = super().get_description()
        scope = required_scope(self.view)
        if scope is None:
            return description
        return f"{description}\n\nIntegration tokens need the `{scope}` scope.".strip()

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        errors = dict(ERRORS_ANY)
        if self.method != "GET":
            errors |= ERRORS_WRITE
            if "{tracking_number}" in self.path:
                errors |= ERRORS_ACTION
        for code, response in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses


class _RefusedInJson(APIView):
    """A refusal answers like the rest of the API, `{"detail": ...}` in JSON, not in the view's own format (YAML for
    the schema, the HTML template for the docs page)."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> NoReturn:
        if request.authenticators and not request.successful_authenticator:
            raise NotAuthenticated(
                "Sign in, or send your API token (Authorization: Token <key>), to read the API's description."
            )
        super().permission_denied(request, message, code)


class ApiSchemaView(_RefusedInJson, SpectacularAPIView):
    permission_classes = [CanReadApiSchema]


class ApiDocsView(_RefusedInJson, SpectacularSwaggerSplitView):
    """Swagger UI within the site's content security policy: the split view serves its start-up script from a URL
    (/api/docs/?script), and roi/api_docs.html links a stylesheet instead of an inline <style>."""

    permission_classes = [CanReadApiSchema]
