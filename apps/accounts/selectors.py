from django.db.models import QuerySet

from .models import IntegrationKey


def integration_key_list(*, user) -> QuerySet[IntegrationKey]:
    return IntegrationKey.objects.restrict(user, "view").select_related("department", "created_by")


def user_is_verified(user) -> bool:
    """Whether this request's session was verified with a second factor (django-otp's middleware
    sets `is_verified`; users from elsewhere, such as an integration key's, never are)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def otp_status(*, user) -> dict:
    """What the account-security page shows: an authenticator or not, backup codes left."""
    from django_otp.plugins.otp_static.models import StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return {
        "has_authenticator": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        "backup_codes_left": StaticToken.objects.filter(device__user=user, device__confirmed=True).count(),
    }
