"""Test helpers for sessions verified with a second factor (django-otp)."""

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def authenticator(user) -> TOTPDevice:
    """The user's confirmed authenticator (created if missing)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def code_for(device_or_key, *, offset_steps: int = 0) -> str:
    """The current 6-digit code of a device (or of a hex key), as the phone would show it."""
    import time
    from binascii import unhexlify

    key = device_or_key.bin_key if isinstance(device_or_key, TOTPDevice) else unhexlify(device_or_key)
    totp = TOTP(key, step=30, t0=0, digits=6, drift=0)
    totp.time = time.time() + 30 * offset_steps
    return f"{totp.token():06d}"


def verified_login(client, user) -> TOTPDevice:
    """Log `client` in as `user` with a session verified by their authenticator, as after the
    verify page (django_otp.login)."""
    client.force_login(user)
    device = authenticator(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
