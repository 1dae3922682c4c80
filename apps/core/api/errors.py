"""One error format for the whole API:

{"error": {"code": "not_found", "message": "...", "fields": {...}, "request_id": "..."}}
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponseServerError, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.context import current_request_id
from apps.core.denials import denial_record
from apps.core.exceptions import AccessDenied, ServiceError


def _body(code: str, message, fields=None) -> dict:
    error = {"code": code, "message": str(message), "request_id": current_request_id()}
    if fields:
        error["fields"] = fields
    return {"error": error}


def exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, AccessDenied):
        denial_record(user=getattr(request, "user", None), exc=exc)
        if exc.hidden:
            return Response(_body("not_found", _("Not found.")), status=status.HTTP_404_NOT_FOUND)
        return Response(
            _body("permission_denied", _("You do not have permission to perform this action.")),
            status=status.HTTP_403_FORBIDDEN,
        )
    if isinstance(exc, ServiceError):
        fields = {exc.field: [str(exc.message)]} if exc.field else None
        return Response(_body(exc.code, exc.message, fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = _body("invalid", _("Invalid input."), detail)
    else:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
        code = codes if isinstance(codes, str) else "error"
        response.data = _body(code, getattr(exc, "detail", exc))
    return response


API_PREFIX = "/api/"


def page_not_found(request, exception=None):
    """Django's 404 handler (`handler404`): a URL under the API that matches no route (say an id
    that is not a number) answers in the API's error format, not with the portal's page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(_body("not_found", _("Not found.")), status=404, json_dumps_params={"ensure_ascii": False})
    return defaults.page_not_found(request, exception)


def server_error(request):
    """Django's 500 handler (`handler500`): an unhandled exception answers in the API's error format
    under the API, and with the portal's offline 500 page elsewhere. Neither shows the traceback;
    both give the request id, which the logs carry with it. The page is rendered without a request
    context, so it needs neither the database nor the session that may have caused the error."""
    if request.path.startswith(API_PREFIX):
        body = _body("server_error", _("A server error occurred."))
        return JsonResponse(body, status=500, json_dumps_params={"ensure_ascii": False})
    page = loader.get_template("500.html").render({"request_id": current_request_id()})
    return HttpResponseServerError(page)
