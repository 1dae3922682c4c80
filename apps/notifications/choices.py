"""Notification vocabularies: delivery channels and outbox topics."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Webhook")
    DIGEST = "digest", _("Daily digest")


class OutboxTopic(models.TextChoices):
    """What a published outbox row asks a worker to do (the relay maps each topic to one task)."""

    NOTIFICATION = "notification.deliver", _("Deliver a notification")
    WEBHOOK = "webhook.deliver", _("Deliver a notification to a webhook")
