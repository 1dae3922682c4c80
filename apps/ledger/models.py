from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.scoping import ScopedModel, subtree_q

GENESIS_HASH = "0" * 64


class AuditEvent(ScopedModel):
    """One entry of the append-only, hash-chained ledger.

    `hash = sha256(prev_hash || canonical(event))`; `seq` is gapless. Written only by
    `apps.ledger.services.audit_record`, in the transaction of the change it records. On
    PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE.
    """

    seq = models.BigIntegerField(_("sequence"), unique=True)
    created_at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    region = models.ForeignKey(
        "organizations.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
    )
    region_path = models.CharField(_("region path"), max_length=120, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    target_type = models.CharField(_("target type"), max_length=80, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("target"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("ledger event")
        verbose_name_plural = _("ledger events")
        ordering = ["-seq"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="ledger_target_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return subtree_q("region_path", principal.region_paths(roles))


class LedgerHead(models.Model):
    """A single row locked by every ledger write, so sequence numbers are gapless and the chain linear."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = _("ledger head")
        verbose_name_plural = _("ledger heads")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ledger_head_singleton")]

    def __str__(self) -> str:
        return f"head #{self.seq}"
