"""Platform records that belong to no tenant: the delivery count of task messages that came back
after their worker died, and the dead letters taken off the queue after too many such deaths
(docs/decisions/0013-dead-letters.md). Only platform administrators see them."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TaskDelivery(models.Model):
    """A task message delivered again after a worker died running it: how often it has started.

    Written by the task base class (`apps.core.task_base`) in its own commit before the task body
    runs, so a SIGKILL cannot undo the count, and only for redelivered messages: a first delivery
    costs nothing. Deleted when the task returns (whatever it returned); a row that stays is a
    message that is still dying or was never seen again.
    """

    key = models.CharField(_("key"), max_length=200, help_text=_("Task id and retry number."))
    task_id = models.CharField(_("task id"), max_length=200)
    task_name = models.CharField(_("task"), max_length=200)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=2)
    first_seen_at = models.DateTimeField(_("first redelivered at"), default=timezone.now)
    last_started_at = models.DateTimeField(_("last started at"), default=timezone.now)
    last_worker = models.CharField(_("last worker"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("task redelivery")
        verbose_name_plural = _("task redeliveries")
        ordering = ["-last_started_at"]
        constraints = [models.UniqueConstraint(fields=["key"], name="core_taskdelivery_key_unique")]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.key}]"


class DeadLetter(models.Model):
    """A task message that killed its worker on each of its `TASK_MAX_DELIVERIES` runs.

    It is acknowledged (taken off the queue, so it no longer blocks or crashes workers) and kept
    here with what is needed to run it again once the cause is fixed: an administrator requeues it
    from the console (`dead_letter_requeue`). One row per message (task id and retry number).
    """

    key = models.CharField(_("key"), max_length=200, help_text=_("Task id and retry number."))
    task_id = models.CharField(_("task id"), max_length=200)
    task_name = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    queue = models.CharField(_("queue"), max_length=200, blank=True)
    attempts = models.PositiveIntegerField(_("runs"), help_text=_("Times it started and its worker died."))
    last_error = models.TextField(_("last error"), blank=True)
    first_seen_at = models.DateTimeField(_("first redelivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("dead-lettered at"), default=timezone.now, db_index=True)
    requeued_at = models.DateTimeField(_("requeued at"), null=True, blank=True)
    requeued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requeued by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    requeued_task_id = models.CharField(_("requeued as task"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["key"], name="core_deadletter_key_unique")]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"
