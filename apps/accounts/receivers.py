"""Logins and failed logins into the ledger. Django only reports these through auth signals."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from apps.ledger.services import audit_record_standalone


@receiver(user_logged_in, dispatch_uid="ledger_login")
def _login(sender, request, user, **kwargs):
    audit_record_standalone(actor=user, action="auth.login", target=user, target_repr=user.get_username())


@receiver(user_login_failed, dispatch_uid="ledger_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit_record_standalone(actor=None, action="auth.login_failed", after={"username": username})
