import re
import uuid

from django.conf import settings
from django.http import Http404

from .context import request_id_var
from .exceptions import AccessDenied

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (or accept a well-formed X-Request-ID) for the ledger and the logs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class AccessDeniedMiddleware:
    """Portal side of denials: record them in the ledger, answer 404 (hidden) or 403 (visible)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, AccessDenied):
            return None
        from django.core.exceptions import PermissionDenied

        from .denials import denial_record

        denial_record(user=request.user, exc=exception)
        if exception.hidden:
            raise Http404
        raise PermissionDenied


class ReplicaPinMiddleware:
    """After a write (any unsafe request), the client reads lists from the primary for a few seconds
    (`DATABASE_REPLICA_PIN_SECONDS`), so the list it is redirected to already shows its change.
    Only with a read replica configured (decision 0014)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .db import PIN_COOKIE, replica_configured

        response = self.get_response(request)
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and replica_configured():
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
