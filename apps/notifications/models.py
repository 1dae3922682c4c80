from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.scoping import ScopedModel


class Notification(ScopedModel):
    """An in-app message to a department (never to one person: whoever is on duty reads it).

    `key` makes delivery idempotent: the same step of the same clock or task, run twice, creates
    one row per department.
    """

    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("department"),
    )
    kind = models.CharField(_("kind"), max_length=60)
    audience_role = models.CharField(
        _("for role"), max_length=16, blank=True, help_text=_("Empty: everyone in the department.")
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    target_type = models.CharField(_("target type"), max_length=80, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        q = Q(pk__in=[])
        for seat in principal.seats_for(roles):
            q |= Q(department_id=seat.department_id) & (Q(audience_role="") | Q(audience_role=seat.role))
        return q
