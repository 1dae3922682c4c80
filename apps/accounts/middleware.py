"""Session lifetime (decision 0012): an idle limit and an absolute limit, checked server-side on
every request (a cookie's expiry is the browser's business, not a control).

Real activity is stamped in the session at most once a minute (`AUTH_SESSION_ACTIVITY_RESOLUTION`),
so the session is not written on every request; an htmx poll left running on an unattended screen
is not activity. A session ends `AUTH_SESSION_IDLE_SECONDS` after the last activity and
`AUTH_SESSION_MAX_SECONDS` after its login however busy it is; either way one `auth.session_expired`
ledger event records it when the session is next presented.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.ledger.services import audit_record_standalone

STARTED_KEY = "auth_started_at"  # epoch seconds of the login (set by the login receiver)
SEEN_KEY = "auth_seen_at"  # epoch seconds of the last real activity, to the minute


def session_stamp_login(session) -> None:
    now = timezone.now().timestamp()
    session[STARTED_KEY] = now
    session[SEEN_KEY] = now


def _is_automatic(request) -> bool:
    """A periodic refresh the page asked for itself (htmx polling), not the person."""
    return request.method == "GET" and request.headers.get("HX-Request") == "true"


class SessionLimitsMiddleware:
    """Place after AuthenticationMiddleware and MessageMiddleware. Ends an expired session before
    the view runs, so the view sees an anonymous user (portal: to the login page; API: 401/403)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            self._check(request, user)
        return self.get_response(request)

    def _check(self, request, user) -> None:
        session, now = request.session, timezone.now().timestamp()
        started = session.get(STARTED_KEY)
        seen = session.get(SEEN_KEY, started)
        if started is None:  # a session from before these limits: they start counting now
            session_stamp_login(session)
            return
        if now - started > settings.AUTH_SESSION_MAX_SECONDS:
            hours = settings.AUTH_SESSION_MAX_SECONDS // 3600
            message = _("Your session reached its limit of %(hours)d hours. Please log in again.") % {"hours": hours}
            self._end(request, user, "absolute", message)
        elif now - seen > settings.AUTH_SESSION_IDLE_SECONDS:
            minutes = settings.AUTH_SESSION_IDLE_SECONDS // 60
            message = _("Your session ended after %(minutes)d minutes without activity. Please log in again.") % {
                "minutes": minutes
            }
            self._end(request, user, "idle", message)
        elif not _is_automatic(request) and now - seen >= settings.AUTH_SESSION_ACTIVITY_RESOLUTION:
            session[SEEN_KEY] = now  # saves the session, which also renews its cookie and database expiry

    @staticmethod
    def _end(request, user, reason: str, message: str) -> None:
        audit_record_standalone(
            actor=user,
            action="auth.session_expired",
            target=user,
            target_repr=user.get_username(),
            after={"reason": reason},
        )
        logout(request)  # flushes the session; the message survives in the message cookie
        messages.info(request, message)
