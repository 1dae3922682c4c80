"""Writes for accounts: users (by administrators) and integration keys (by department heads)."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import Conflict, ServiceError
from apps.core.permissions import Role
from apps.core.scoping import authorize
from apps.ledger.services import audit_record

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
