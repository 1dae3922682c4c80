"""`Authorization: Key <prefix>.<secret>` for integrations; the key acts as its department's service account."""

import hmac

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import IntegrationKey
from .services import integration_key_failure_record


class IntegrationKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") != self.keyword:
            return None
        if len(header) != 2:
            integration_key_failure_record(prefix="", reason="malformed")
            raise exceptions.AuthenticationFailed(_("Malformed integration key header."))
        try:
            prefix, secret = header[1].decode().split(".", 1)
        except (UnicodeDecodeError, ValueError):
            # no separator: the whole value may be a secret, so none of it is recorded
            integration_key_failure_record(prefix="", reason="malformed")
            raise exceptions.AuthenticationFailed(_("Malformed integration key.")) from None
        key = IntegrationKey.objects.select_related("user").filter(prefix=prefix).first()
        usable = key is not None and key.revoked_at is None and key.user.is_active
        if not usable or not hmac.compare_digest(key.key_hash, IntegrationKey.hash_secret(secret)):
            reason = "unknown" if key is None else ("revoked" if not usable else "wrong_secret")
            integration_key_failure_record(prefix=prefix, reason=reason, key=key)
            raise exceptions.AuthenticationFailed(_("Invalid or revoked integration key."))
        IntegrationKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key.user, key

    def authenticate_header(self, request):
        return self.keyword
