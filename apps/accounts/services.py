"""Writes for accounts: users (by administrators) and integration keys (by department heads)."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import Conflict, SecondFactorRequired, ServiceError
from apps.core.permissions import Role
from apps.core.scoping import authorize
from apps.ledger.services import audit_record, audit_record_standalone

from .models import IntegrationKey

User = get_user_model()


@transaction.atomic
def user_create(*, actor, username: str, password: str, display_name: str = "", email: str = "") -> User:
    authorize(actor, "add", User)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(_("This username is taken."), field="username")
    user = User(username=username, display_name=display_name, email=email)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    audit_record(actor=actor, action="user.create", target=user, after={"username": username})
    return user


@transaction.atomic
def integration_key_create(*, actor, department, name: str) -> tuple[IntegrationKey, str]:
    """Issue a key for `department`. Returns the key and its secret, shown once and stored hashed."""
    from apps.organizations.models import Membership

    authorize(actor, "manage_members", department)
    if not name.strip():
        raise ServiceError(_("Give the key a name."), field="name")
    service_user = User.objects.create(
        username=f"svc-{department.pk}-{secrets.token_hex(4)}",
        is_service=True,
        display_name=f"{department.name} · {name}"[:100],
    )
    service_user.set_unusable_password()
    service_user.save(update_fields=["password"])
    Membership.objects.create(user=service_user, department=department, role=Role.STAFF)
    service_user.groups.add(department.group)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = IntegrationKey.objects.create(
        department=department,
        user=service_user,
        name=name,
        prefix=prefix,
        key_hash=IntegrationKey.hash_secret(secret),
        created_by=actor,
    )
    audit_record(actor=actor, action="integration_key.create", target=key, after={"name": name, "prefix": prefix})
    return key, f"{prefix}.{secret}"


def integration_key_failure_record(*, prefix: str, reason: str, key: IntegrationKey | None = None) -> None:
    """A refused `Authorization: Key ...` header: one `auth.key_failed` event per attempt, in its own
    transaction, so it stays in the ledger although the request answers 401 (like a failed password
    login). Only the key's public prefix is recorded, never any part of the secret."""
    audit_record_standalone(
        actor=None,
        action="auth.key_failed",
        target=key,
        target_repr=key.prefix if key is not None else "",
        after={"prefix": prefix[: IntegrationKey._meta.get_field("prefix").max_length], "reason": reason},
    )


@transaction.atomic
def integration_key_revoke(*, actor, key: IntegrationKey) -> IntegrationKey:
    authorize(actor, "change", key)
    key = IntegrationKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise Conflict(_("This key is already revoked."))
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="integration_key.revoke", target=key, before={"prefix": key.prefix})
    return key


@transaction.atomic
def integration_key_rotate(*, actor, key: IntegrationKey) -> tuple[IntegrationKey, str]:
    """Give a key a new secret (and prefix): the old secret stops working at once, the key keeps
    its department, service account and history. Returns the key and its new secret, shown once."""
    authorize(actor, "change", key)
    key = IntegrationKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise Conflict(_("A revoked key cannot be rotated; issue a new one."))
    old_prefix = key.prefix
    key.prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key.key_hash = IntegrationKey.hash_secret(secret)
    key.save(update_fields=["prefix", "key_hash"])
    audit_record(
        actor=actor,
        action="integration_key.rotate",
        target=key,
        before={"prefix": old_prefix},
        after={"prefix": key.prefix},
    )
    return key, f"{key.prefix}.{secret}"


USER_AUDIT_FIELDS = ("username", "display_name", "email", "is_active", "is_staff", "is_superuser")


@transaction.atomic
def user_admin_save(*, actor, user: User, changed: list[str], created: bool) -> User:
    """The admin console's save of an account (Django's forms already validated and hashed the password)."""
    authorize(actor, "add" if created else "change", User)
    before = None
    if not created:
        old = User.objects.select_for_update().get(pk=user.pk)
        before = {f: getattr(old, f) for f in USER_AUDIT_FIELDS}
    user.save()
    after = {f: getattr(user, f) for f in USER_AUDIT_FIELDS}
    if "password" in changed or "password1" in changed:
        after["password_changed"] = True
    audit_record(
        actor=actor, action="user.create" if created else "user.update", target=user, before=before, after=after
    )
    return user


# --- second factor (django-otp; docs/decisions/0012) ---------------------------------------------

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator"
BACKUP_DEVICE_NAME = "backup codes"


def otp_totp_key_new() -> str:
    """A fresh authenticator secret (hex, 160 bits): kept in the enrolling session until confirmed."""
    from django_otp.plugins.otp_totp.models import default_key

    return default_key()


def _normalise(token: str) -> str:
    return "".join(str(token or "").split()).replace("-", "").lower()


def _enrolled(user) -> bool:
    from django_otp import devices_for_user

    return any(True for _ in devices_for_user(user, confirmed=True))


def otp_totp_enrol(*, actor, key: str, token: str, verified: bool):
    """Confirm an authenticator app: `token` must be the current code for `key`. The new
    authenticator replaces any earlier one. A person who already has a second factor needs a
    verified session to change it, so a password alone never adds an attacker's authenticator;
    the first enrolment is trust on first use (recorded in the ledger)."""
    from binascii import unhexlify

    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not verified and _enrolled(actor):
        raise SecondFactorRequired(_("Enter a code from your current authenticator first."))
    token = _normalise(token)
    totp = TOTP(unhexlify(key.encode()), step=30, t0=0, digits=6, drift=0)
    if not (token.isdigit() and len(token) == 6 and totp.verify(int(token), tolerance=1)):
        audit_record_standalone(
            actor=actor,
            action="otp.verify_failed",
            target=actor,
            target_repr=actor.get_username(),
            after={"during": "enrol"},
        )
        raise ServiceError(_("That code does not match. Enter the 6-digit code the app shows now."), field="token")
    with transaction.atomic():
        replaced = TOTPDevice.objects.filter(user=actor).delete()[0]
        device = TOTPDevice.objects.create(
            user=actor,
            name=TOTP_DEVICE_NAME,
            key=key,
            confirmed=True,
            last_t=totp.t(),  # the code is spent
        )
        audit_record(
            actor=actor,
            action="otp.device_enrol",
            target=actor,
            target_repr=actor.get_username(),
            after={"device": "totp", "replaced": replaced},
        )
    return device


@transaction.atomic
def otp_backup_codes_generate(*, actor, verified: bool) -> list[str]:
    """Ten single-use backup codes for when the authenticator is lost; earlier codes stop
    working. Returned once, to show once. Needs a verified session (they are a second factor)."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    if not verified:
        raise SecondFactorRequired(_("Enter a code from your authenticator before creating backup codes."))
    device, _created = StaticDevice.objects.select_for_update().get_or_create(
        user=actor, name=BACKUP_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    audit_record(
        actor=actor,
        action="otp.backup_codes_generate",
        target=actor,
        target_repr=actor.get_username(),
        after={"count": BACKUP_CODE_COUNT},
    )
    return codes


def otp_verify(*, actor, token: str):
    """Check a code from the authenticator (6 digits) or a backup code (used up) and return the
    device that accepted it; the interface then marks the session verified (`django_otp.login`).
    Each device row is locked while it checks, so a code is accepted once; wrong codes slow
    further tries down (django-otp's throttling) and each is an `otp.verify_failed` event."""
    from django_otp import devices_for_user
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    token = _normalise(token)
    kind = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    for device in devices_for_user(actor, confirmed=True):
        if token and isinstance(device, kind):
            with transaction.atomic():
                locked = kind.objects.select_for_update().get(pk=device.pk)
                if locked.verify_token(token):
                    left = locked.token_set.count() if kind is StaticDevice else None
                    audit_record(
                        actor=actor,
                        action="otp.verify",
                        target=actor,
                        target_repr=actor.get_username(),
                        after={"device": "backup_code" if kind is StaticDevice else "totp", "codes_left": left},
                    )
                    return locked
    audit_record_standalone(
        actor=actor,
        action="otp.verify_failed",
        target=actor,
        target_repr=actor.get_username(),
        after={"during": "verify"},
    )
    raise ServiceError(_("That code is not valid. Wait for a new code and try again."), field="token")


@transaction.atomic
def otp_devices_reset(*, actor, user) -> int:
    """An administrator removes a person's authenticator and backup codes (a lost phone). The
    person enrols again; their verified sessions lose that status at their next request."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    authorize(actor, "change", User)
    removed = TOTPDevice.objects.filter(user=user).delete()[1].get(
        "otp_totp.TOTPDevice", 0
    ) + StaticDevice.objects.filter(user=user).delete()[1].get("otp_static.StaticDevice", 0)
    audit_record(
        actor=actor,
        action="otp.devices_reset",
        target=user,
        target_repr=user.get_username(),
        after={"removed": removed},
    )
    return removed
