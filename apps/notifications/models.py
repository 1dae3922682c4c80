from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.scoping import ScopedModel

from .choices import Channel, OutboxTopic


class Notification(ScopedModel):
    """An in-app message to a department (never to one person: whoever is on duty reads it).

    `key` makes delivery idempotent: the same step of the same clock or task, run twice, creates
    one row per department. Read/unread is per department: the first member who reads it marks it.
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
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("read by"),
    )

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["department", "-created_at"], name="notification_dept_created")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        q = Q(pk__in=[])
        for seat in principal.seats_for(roles):
            q |= Q(department_id=seat.department_id) & (Q(audience_role="") | Q(audience_role=seat.role))
        return q


class OutboxMessage(models.Model):
    """A job for a Celery worker, written in the same transaction as the change that needs it.

    The relay publishes rows that are not published yet and marks them; so a dispatch committed
    while the broker is down is published once it is back (docs/decisions/0006). The worker marks
    the row completed when the job is done; a row published long ago and still not completed (a
    message lost in the broker) is published again, up to a limit. `key` keeps one row per job.
    """

    topic = models.CharField(_("topic"), max_length=60, choices=OutboxTopic.choices)
    key = models.CharField(_("key"), max_length=200)
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("times published"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["key"], name="notification_outbox_key_unique")]
        indexes = [
            # The relay scans only the open rows; a partial index keeps that scan small forever.
            models.Index(fields=["id"], name="notification_outbox_open", condition=Q(completed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.key


class Delivery(models.Model):
    """One message to one recipient over one channel, sent at most once.

    The row is claimed (INSERT … ON CONFLICT DO NOTHING, then locked) before sending and marked
    `sent_at` in the same transaction after the send, so a task that runs twice, or a worker killed
    before the commit, never records two deliveries for one `key`.
    """

    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("notification"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=200)
    key = models.CharField(_("idempotency key"), max_length=200)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["key"], name="notification_delivery_key_unique")]

    def __str__(self) -> str:
        return self.key


class NotificationPreference(models.Model):
    """How one user wants one kind of notification (blank kind: every kind without its own row).

    Without any row a user gets everything in the inbox and by e-mail at once. `daily_digest`
    replaces the immediate e-mails of that kind with one e-mail a day.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=60, blank=True, help_text=_("Empty: every kind."))
    in_app = models.BooleanField(_("in the inbox"), default=True)
    email = models.BooleanField(_("by e-mail"), default=True)
    daily_digest = models.BooleanField(_("daily digest"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        ordering = ["user_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique_kind")]

    def __str__(self) -> str:
        return f"{self.user} · {self.kind or '*'}"


class WebhookEndpoint(ScopedModel):
    """A department's integration URL that receives its notifications, signed with `secret`.

    Heads of the department manage it. `kinds` empty: every kind; `task.*` matches a prefix.
    Endpoints are deactivated, never deleted: their delivery attempts are evidence.
    """

    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
        verbose_name=_("department"),
    )
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100)
    kinds = models.JSONField(_("kinds"), default=list, blank=True, help_text=_("Empty: every kind."))
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def accepts(self, kind: str) -> bool:
        if not self.kinds:
            return True
        return any(kind == k or (k.endswith(".*") and kind.startswith(k[:-1])) for k in self.kinds)

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return Q(department_id__in=principal.department_ids(roles))


class WebhookDelivery(models.Model):
    """One attempt to POST one notification to one endpoint, kept whatever its outcome."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="webhook_deliveries", verbose_name=_("notification")
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    succeeded = models.BooleanField(_("succeeded"), default=False)

    class Meta:
        verbose_name = _("webhook delivery attempt")
        verbose_name_plural = _("webhook delivery attempts")
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "notification", "attempt"], name="notification_webhook_attempt_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} #{self.notification_id} ({self.attempt})"
