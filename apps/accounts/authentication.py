"""`Authorization: Key <prefix>.<secret>` for integrations; the key acts as its department's service account."""

import hmac

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import IntegrationKey


class IntegrationKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed integration key header."))
        try:
            prefix, secret = header[1].decode().split(".", 1)
        except (UnicodeDecodeError, ValueError):
            raise exceptions.AuthenticationFailed(_("Malformed integration key.")) from None
        key = (
            IntegrationKey.objects.select_related("user")
            .filter(prefix=prefix, revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if key is None or not hmac.compare_digest(key.key_hash, IntegrationKey.hash_secret(secret)):
            raise exceptions.AuthenticationFailed(_("Invalid or revoked integration key."))
        IntegrationKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key.user, key

    def authenticate_header(self, request):
        return self.keyword
