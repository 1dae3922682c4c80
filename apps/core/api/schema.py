"""The OpenAPI schema class of the API: every operation also documents its error answers, and
optional query parameters say that an empty value is accepted.

The views declare their success responses; the errors come from one place (`errors.py`) and
have one shape, so they are added here to every operation instead of to each view: a client
generated from the schema, and the schema fuzzer (tests/fuzz), then know every status the API
may answer and the body that comes with it.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Machine-readable error code, e.g. `not_found`, `invalid`."))
    message = serializers.CharField(help_text=_("Human-readable message in the request's language."))
    fields = serializers.DictField(
        required=False, help_text=_("Invalid input only: the messages for each field (`non_field_errors`: the whole).")
    )
    request_id = serializers.CharField(help_text=_("The request's id, also in the X-Request-ID header."))


class ErrorSerializer(serializers.Serializer):
    """`{"error": {"code", "message", "fields", "request_id"}}`: the body of every error answer."""

    error = ErrorDetailSerializer()


# Every operation: invalid input (body, query, filters), no or bad credentials, not allowed
# (or a CSRF failure, or a second factor needed), out of scope or absent (also: a page past the end).
COMMON_ERRORS = {
    "400": _("Invalid input."),
    "401": _("No credentials, or invalid ones."),
    "403": _("Not allowed."),
    "404": _("Not found, or outside the caller's scope."),
}
# Operations that change something: the object's state does not allow it.
CONFLICT = {"409": _("The object's state does not allow this.")}
# Operations that read a body: a body in a media type the API does not read.
UNSUPPORTED = {"415": _("Unsupported media type.")}


class ApiAutoSchema(AutoSchema):
    def _get_parameters(self):
        """An optional query parameter given an empty value counts as not given: django-filter
        filters nothing (its rule, shared with the portal's forms), DRF serializers reading query
        parameters skip an optional field, and pagination uses its default. So the schema says an
        empty value is allowed."""
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        errors = dict(COMMON_ERRORS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors |= CONFLICT
        if self.method in ("POST", "PUT", "PATCH"):
            errors |= UNSUPPORTED
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code, ["application/json"], direction
                )
        return responses
