"""Logins, failed logins and lockouts into the ledger. Django and django-axes only report these
through signals, so a receiver is the one place to record them (one event per attempt)."""

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from apps.ledger.services import audit_record_standalone

from .middleware import session_stamp_login


@receiver(user_logged_in, dispatch_uid="ledger_login")
def _login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_stamp_login(request.session)  # the absolute session limit counts from here
    audit_record_standalone(actor=user, action="auth.login", target=user, target_repr=user.get_username())


@receiver(user_login_failed, dispatch_uid="ledger_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit_record_standalone(actor=None, action="auth.login_failed", after={"username": username})


@receiver(user_locked_out, dispatch_uid="ledger_lockout")
def _locked_out(sender, request, username, ip_address, **kwargs):
    """One `auth.lockout` per lockout: axes signals again on every failure while locked, but
    those attempts are already `auth.login_failed` events each."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None and failures > settings.AXES_FAILURE_LIMIT:
        return
    username = str(username or "")[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record_standalone(
        actor=None,
        action="auth.lockout",
        target=user,
        target_repr=username,
        after={
            "username": username,
            "ip_address": ip_address or "",
            "failures": failures or settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
    )
