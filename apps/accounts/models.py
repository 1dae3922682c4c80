import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.scoping import ScopedModel


class User(AbstractUser):
    """A member of staff (or an integration's service account). Acts only through memberships."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    is_service = models.BooleanField(
        _("service account"), default=False, help_text=_("Used by an integration key, never for portal login.")
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


class IntegrationKey(ScopedModel):
    """An API key for another system, scoped to exactly one department. Only its hash is stored."""

    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="integration_keys",
        verbose_name=_("department"),
    )
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="integration_keys", verbose_name=_("service account")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(_("key hash"), max_length=64)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("integration key")
        verbose_name_plural = _("integration keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_secret(secret: str) -> str:
        # Keys are 256-bit random values, so a fast hash is enough (no dictionary to attack).
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return Q(department_id__in=principal.department_ids(roles))
