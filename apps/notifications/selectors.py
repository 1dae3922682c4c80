"""Reads for notifications. Every list starts from `restrict`; preferences are the caller's own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from apps.core.permissions import roles_for
from apps.core.scoping import principal_for
from apps.organizations.models import Department

from .models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint


def notification_list(*, user) -> QuerySet[Notification]:
    """The notifications of the caller's departments (for their role), unread first."""
    return (
        Notification.objects.restrict(user, "view")
        .select_related("department", "read_by")
        .annotate(unread=ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField()))
        .order_by("-unread", "-created_at", "-id")
    )


def notification_inbox(*, user) -> QuerySet[Notification]:
    """`notification_list` without the kinds the caller switched off for the inbox."""
    queryset = notification_list(user=user)
    if not getattr(user, "is_authenticated", False):
        return queryset
    rows = {
        kind: in_app for kind, in_app in NotificationPreference.objects.filter(user=user).values_list("kind", "in_app")
    }
    if rows.get("", True):
        muted = [kind for kind, on in rows.items() if kind and not on]
        return queryset.exclude(kind__in=muted) if muted else queryset
    return queryset.filter(kind__in=[kind for kind, on in rows.items() if kind and on])


def notification_unread_count(*, user) -> int:
    return notification_inbox(user=user).filter(read_at__isnull=True).count()


def notification_kinds(*, user) -> list[str]:
    """The kinds the caller has received or has a preference for (the rows of the preferences page)."""
    seen = set(Notification.objects.restrict(user, "view").order_by().values_list("kind", flat=True).distinct()[:200])
    seen |= set(preference_list(user=user).exclude(kind="").values_list("kind", flat=True))
    return sorted(seen)


def seat_notifications(*, user) -> QuerySet[Notification]:
    """What the user's own seats receive (their departments, for their role): the audience of
    e-mails and digests. Unlike `restrict`, a platform administrator gets only their seats' mail."""
    principal = principal_for(user)
    if principal is None:
        return Notification.objects.none()
    return Notification.objects.filter(Notification.scope_q(principal, "view", roles_for(Notification, "view")))


# --- preferences ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """A user's resolved preference for one kind."""

    in_app: bool = True
    email: bool = True
    daily_digest: bool = False

    @property
    def immediate_email(self) -> bool:
        return self.email and not self.daily_digest


DEFAULT_CHOICE = Choice()


def preference_list(*, user) -> QuerySet[NotificationPreference]:
    """The caller's own preferences (nobody reads another user's)."""
    if not (user is not None and getattr(user, "is_authenticated", False) and user.is_active):
        return NotificationPreference.objects.none()
    return NotificationPreference.objects.filter(user=user).order_by("kind")


def preference_resolve(rows: Iterable[NotificationPreference], kind: str) -> Choice:
    """A kind's own row wins over the blank-kind row; without either, everything is on."""
    by_kind = {row.kind: row for row in rows}
    row = by_kind.get(kind) or by_kind.get("")
    return Choice(row.in_app, row.email, row.daily_digest) if row is not None else DEFAULT_CHOICE


# --- webhooks -----------------------------------------------------------------------------------


def webhook_endpoint_list(*, user) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.restrict(user, "view").select_related("department", "created_by")


def webhook_delivery_list(*, user) -> QuerySet[WebhookDelivery]:
    """Delivery attempts to the endpoints the caller may see (their scope is the endpoint's)."""
    return (
        WebhookDelivery.objects.filter(endpoint__in=WebhookEndpoint.objects.restrict(user, "view").values("pk"))
        .select_related("endpoint", "notification")
        .order_by("-sent_at", "-id")
    )


def webhook_departments(*, user) -> QuerySet[Department]:
    """Departments whose webhooks the caller may manage (their head seats)."""
    return Department.objects.restrict(user, "change").select_related("region").order_by("name")
