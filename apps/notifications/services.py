"""Notifications: the in-app rows, the outbox that carries them to e-mail and webhooks, deliveries
that happen once, preferences, the daily digest, and the department's webhook endpoints.

Other apps' services call `notify` / `notify_bulk` inside their own transaction: the Notification
rows and one outbox row per delivery job commit together with the caller's change, or not at all.
After the commit a relay publishes the outbox to Celery (nudged at once, and by beat every few
seconds if the nudge could not reach the broker). See docs/decisions/0006-notification-outbox.md.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import secrets
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime

from celery.exceptions import Retry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core import enqueue
from apps.core.exceptions import AccessDenied, Conflict, ServiceError
from apps.core.scoping import authorize, ensure_in_scope
from apps.ledger.services import audit_record, snapshot

from . import webhooks
from .choices import Channel, OutboxTopic
from .models import Delivery, Notification, NotificationPreference, OutboxMessage, WebhookDelivery, WebhookEndpoint
from .selectors import preference_resolve, seat_notifications

logger = logging.getLogger(__name__)

# Defaults of the NOTIFICATIONS_<NAME> settings (a settings module may override any of them).
DEFAULTS = {
    "OUTBOX_BATCH": 200,  # rows per relay transaction
    "OUTBOX_TIME_BUDGET": 20.0,  # seconds one relay run keeps taking batches
    "OUTBOX_STALE_SECONDS": 15 * 60,  # published this long ago and not completed: publish again
    "OUTBOX_MAX_PUBLISHES": 10,  # … at most this many times in all
    "EMAIL_MAX_RETRIES": 5,
    "WEBHOOK_MAX_RETRIES": 5,
    "WEBHOOK_BACKOFF_SECONDS": 10,  # 10, 20, 40, 80, 160 s
    "WEBHOOK_BACKOFF_MAX_SECONDS": 60 * 60,
    "WEBHOOK_TIMEOUT": 10,
    "SITE_URL": "",  # prefixed to links in e-mails, e.g. https://yingji.example.gov.cn
}


def conf(name: str):
    return getattr(settings, f"NOTIFICATIONS_{name}", DEFAULTS[name])


# Kept importable from here for the modules and tests that used it before apps.core.enqueue.
BROKER_ERRORS = enqueue.BROKER_ERRORS


# --- creating notifications (the public interface for other apps) -------------------------------


@dataclass(frozen=True)
class Message:
    """One notification to one department; `key` makes it idempotent."""

    department_id: int
    kind: str
    title: str
    key: str
    body: str = ""
    link: str = ""
    target_type: str = ""
    target_id: str = ""
    audience_role: str = ""


def notify(
    *,
    departments,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    target=None,
    key: str,
    audience_role: str = "",
) -> int:
    """Create one notification per department unless this `key` was already delivered to it.

    Runs inside the caller's transaction; returns how many new rows were written.
    """
    ids = {getattr(d, "pk", d) for d in departments}
    return notify_bulk(
        [
            Message(
                department_id=pk,
                kind=kind,
                title=str(title)[:200],
                key=f"{key}:{pk}"[:200],
                body=str(body),
                link=link,
                target_type=target._meta.label_lower if target is not None else "",
                target_id=str(target.pk) if target is not None else "",
                audience_role=audience_role,
            )
            for pk in sorted(ids)
        ]
    )


def notify_bulk(messages: list[Message]) -> int:
    """Write many notifications and their delivery jobs in a constant number of statements.

    Known keys are skipped; the new rows get one outbox row each (`notification:<id>`), in the
    caller's transaction, and the relay is nudged once that transaction commits.
    """
    if not messages:
        return 0
    with transaction.atomic():
        by_key = {m.key: m for m in messages}
        known = set(Notification.objects.filter(key__in=list(by_key)).values_list("key", flat=True))
        fresh = [Notification(**m.__dict__) for key, m in by_key.items() if key not in known]
        if not fresh:
            return 0
        Notification.objects.bulk_create(fresh, ignore_conflicts=True)
        ids = Notification.objects.filter(key__in=[n.key for n in fresh]).values_list("pk", flat=True)
        outbox_write(
            [
                OutboxMessage(topic=OutboxTopic.NOTIFICATION, key=f"notification:{pk}", payload={"notification_id": pk})
                for pk in ids
            ]
        )
    return len(fresh)


def message_for(*, department, kind: str, title: str, key: str, target=None, **extra) -> Message:
    """A Message for one department about `target` (the key is made unique per department)."""
    pk = getattr(department, "pk", department)
    return Message(
        department_id=pk,
        kind=kind,
        title=str(title)[:200],
        key=f"{key}:{pk}"[:200],
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        **extra,
    )


# --- the outbox -----------------------------------------------------------------------------------


def outbox_write(rows: list[OutboxMessage]) -> None:
    """Add jobs in the caller's transaction (a key already there is kept) and nudge the relay."""
    if not rows:
        return
    OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    _nudge_relay_on_commit()


def _nudge_relay_on_commit() -> None:
    """Once per transaction, however many notify calls it makes."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(entry[1] is _nudge_relay for entry in connection.run_on_commit):
        return
    transaction.on_commit(_nudge_relay)


def _nudge_relay() -> None:
    """Ask a worker to publish now. The request that committed must not fail because the broker
    is down: the rows are safe in the database and the beat relay publishes them later."""
    from .tasks import outbox_relay_task

    enqueue.publish_quietly(outbox_relay_task)


def _publish(row: OutboxMessage, producer) -> None:
    from .tasks import deliver_notification_task, deliver_webhook_task

    if row.topic == OutboxTopic.NOTIFICATION:
        deliver_notification_task.apply_async(args=[row.payload["notification_id"]], producer=producer)
    elif row.topic == OutboxTopic.WEBHOOK:
        deliver_webhook_task.apply_async(
            args=[row.payload["notification_id"], row.payload["endpoint_id"]], producer=producer
        )
    else:
        raise ValueError(f"unknown outbox topic {row.topic!r}")


def outbox_relay(*, batch: int | None = None, time_budget: float | None = None) -> dict[str, int]:
    """Publish the open outbox rows to Celery and mark them published.

    Rows are taken with `FOR UPDATE SKIP LOCKED`, so the beat relay and the on-commit nudges run
    side by side without publishing one row twice at a time. A row is marked only after the broker
    took it; a relay killed between the two publishes it again later (the tasks are idempotent).
    A broker error stops the run and leaves the rest for the next one. Rows published long ago but
    never completed (a message lost in the broker) are published again, a bounded number of times.
    """
    from celery import current_app

    batch = batch or conf("OUTBOX_BATCH")
    deadline = time.monotonic() + (time_budget if time_budget is not None else conf("OUTBOX_TIME_BUDGET"))
    stats = {"published": 0, "failed": 0, "republished": 0}
    eager = current_app.conf.task_always_eager
    while True:
        stale_before = timezone.now() - timedelta(seconds=conf("OUTBOX_STALE_SECONDS"))
        broker_down = False
        with transaction.atomic():
            rows = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(completed_at__isnull=True)
                .filter(
                    Q(published_at__isnull=True)
                    | Q(published_at__lt=stale_before, attempts__lt=conf("OUTBOX_MAX_PUBLISHES"))
                )
                .order_by("id")[:batch]
            )
            if not rows:
                return stats
            changed: list[OutboxMessage] = []
            try:
                with nullcontext() if eager else current_app.producer_or_acquire() as producer:
                    if producer is not None:
                        enqueue.connect_quickly(producer)
                    for row in rows:
                        try:
                            _publish(row, producer)
                        except Exception as exc:
                            if not eager and isinstance(exc, BROKER_ERRORS):
                                raise
                            # A bad row, or (tasks run eagerly, without a broker) a task that failed or
                            # asked for a retry. Counted as published, so it is tried again only once it
                            # is stale, a bounded number of times, not on every run.
                            if isinstance(exc, Retry):
                                logger.warning("outbox relay: %s will be retried (%s)", row.key, exc)
                            else:
                                logger.exception("outbox relay: publishing %s failed", row.key)
                            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                            stats["failed"] += 1
                        else:
                            row.last_error = ""
                            stats["published"] += 1
                            if row.published_at is not None:
                                stats["republished"] += 1
                        row.published_at = timezone.now()
                        row.attempts += 1
                        changed.append(row)
            except BROKER_ERRORS as exc:
                broker_down = True
                stats["failed"] += 1
                logger.warning("outbox relay: broker unreachable (%s); the rest waits for the next run", exc)
            OutboxMessage.objects.bulk_update(changed, ["published_at", "attempts", "last_error"])
        if broker_down or len(rows) < batch or time.monotonic() > deadline:
            return stats


def outbox_complete(*, key: str) -> None:
    """The job behind `key` is done: the relay never publishes it again."""
    OutboxMessage.objects.filter(key=key, completed_at__isnull=True).update(completed_at=timezone.now())


# --- delivering: claim, send, mark — once per key -----------------------------------------------------


class Outcome(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # already sent by an earlier run
    FAILED = "failed"  # try again later
    GAVE_UP = "gave_up"  # will not be sent (endpoint inactive, permanent refusal, retries exhausted)


def _claim(*, key: str, channel: str, recipient: str, notification_id: int | None) -> Delivery | None:
    """Inside a transaction: the delivery row for `key`, created if needed and locked until the
    transaction ends; None when it was sent already. A second run of the same job waits on the lock
    and then finds it sent."""
    Delivery.objects.bulk_create(
        [Delivery(key=key, channel=channel, recipient=recipient, notification_id=notification_id)],
        ignore_conflicts=True,
    )
    delivery = Delivery.objects.select_for_update().get(key=key)
    return None if delivery.sent_at is not None else delivery


def _send_once(*, key: str, channel: str, recipient: str, notification_id: int | None, send) -> Outcome:
    """Claim `key`, call `send()`, mark it sent — all in one transaction.

    A worker killed after the send but before the commit leaves the row unsent, so the redelivered
    task sends again: the transport sees at-least-once, the database exactly-once. The e-mail's
    Message-ID and the webhook's X-Delivery-Id are derived from `key`, so a receiver can drop that
    repeat (docs/decisions/0006).
    """
    with transaction.atomic():
        delivery = _claim(key=key, channel=channel, recipient=recipient, notification_id=notification_id)
        if delivery is None:
            return Outcome.SKIPPED
        delivery.attempts += 1
        try:
            with transaction.atomic():  # a backend that writes to the database fails only its own savepoint
                send()
        except Exception as exc:  # SMTP refusals, timeouts: recorded, retried by the task
            logger.warning("delivery %s failed: %s", key, exc)
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            delivery.save(update_fields=["attempts", "last_error"])
            return Outcome.FAILED
        delivery.sent_at = timezone.now()
        delivery.last_error = ""
        delivery.save(update_fields=["attempts", "sent_at", "last_error"])
        return Outcome.SENT


def _absolute(link: str) -> str:
    base = conf("SITE_URL")
    return f"{base.rstrip('/')}{link}" if base and link.startswith("/") else link


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _message_id(key: str) -> str:
    """The same Message-ID for every send of one delivery key (receivers collapse repeats)."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{DNS_NAME}>"


def _notification_email(notification: Notification, user, key: str) -> EmailMessage:
    with translation.override(settings.LANGUAGE_CODE):
        subject = _one_line(f"[{notification.department.name}] {notification.title}")
        body = render_to_string(
            "notifications/email/notification.txt",
            {"notification": notification, "user": user, "link": _absolute(notification.link)},
        )
    return EmailMessage(
        subject=subject[:250],
        body=body,
        to=[user.email],
        headers={"Message-ID": _message_id(key), "X-Delivery-Key": key, "X-Notification-Kind": notification.kind},
    )


def email_recipients(notification: Notification) -> list:
    """Active people seated in the notification's department (in its audience role, if it has one)
    with an address and immediate e-mail on for its kind."""
    from apps.organizations.models import Membership

    seats = Membership.objects.filter(department_id=notification.department_id)
    if notification.audience_role:
        seats = seats.filter(role=notification.audience_role)
    users = list(
        get_user_model()
        .objects.filter(pk__in=seats.values("user_id"), is_active=True, is_service=False)
        .exclude(email="")
        .order_by("pk")
    )
    prefs: dict[int, list[NotificationPreference]] = {}
    for row in NotificationPreference.objects.filter(user__in=[u.pk for u in users], kind__in=["", notification.kind]):
        prefs.setdefault(row.user_id, []).append(row)
    return [u for u in users if preference_resolve(prefs.get(u.pk, []), notification.kind).immediate_email]


def notification_deliver(*, notification_id: int) -> dict[str, int]:
    """Deliver one notification: an e-mail to each recipient (each once), and one outbox job per
    active webhook endpoint of the department that takes its kind. Safe to run any number of times.
    The outbox row is completed when nothing is left to retry."""
    counts = {outcome.value: 0 for outcome in Outcome} | {"webhooks": 0}
    notification = Notification.objects.select_related("department").filter(pk=notification_id).first()
    if notification is None:  # deleted with its department since
        outbox_complete(key=f"notification:{notification_id}")
        return counts
    for user in email_recipients(notification):
        key = f"email:{notification.pk}:user:{user.pk}"
        message = _notification_email(notification, user, key)
        outcome = _send_once(
            key=key,
            channel=Channel.EMAIL,
            recipient=f"user:{user.pk}",
            notification_id=notification.pk,
            send=lambda message=message: message.send(fail_silently=False),
        )
        counts[outcome.value] += 1
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(department_id=notification.department_id, is_active=True)
        if e.accepts(notification.kind)
    ]
    with transaction.atomic():
        outbox_write(
            [
                OutboxMessage(
                    topic=OutboxTopic.WEBHOOK,
                    key=f"webhook:{notification.pk}:{endpoint.pk}",
                    payload={"notification_id": notification.pk, "endpoint_id": endpoint.pk},
                )
                for endpoint in endpoints
            ]
        )
        counts["webhooks"] = len(endpoints)
        if not counts[Outcome.FAILED]:
            outbox_complete(key=f"notification:{notification.pk}")
    return counts


def webhook_payload(notification: Notification, delivery_id: str) -> dict:
    return {
        "id": delivery_id,
        "notification_id": notification.pk,
        "kind": notification.kind,
        "department": {"id": notification.department_id, "name": notification.department.name},
        "audience_role": notification.audience_role,
        "title": notification.title,
        "body": notification.body,
        "link": _absolute(notification.link),
        "target": {"type": notification.target_type, "id": notification.target_id},
        "created_at": notification.created_at.isoformat(),
    }


def webhook_deliver(*, notification_id: int, endpoint_id: int) -> Outcome:
    """One attempt to POST a notification to an endpoint, recorded whatever happens.

    The delivery row stays locked during the request, so two runs of the job never post at the same
    time and a run after a success posts nothing. Retrying (and when to stop) is the task's call.
    """
    key = f"webhook:{notification_id}:endpoint:{endpoint_id}"
    with transaction.atomic():
        notification = Notification.objects.select_related("department").filter(pk=notification_id).first()
        endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
        if notification is None or endpoint is None or not endpoint.is_active:
            outbox_complete(key=f"webhook:{notification_id}:{endpoint_id}")
            return Outcome.GAVE_UP
        delivery = _claim(
            key=key, channel=Channel.WEBHOOK, recipient=f"endpoint:{endpoint_id}", notification_id=notification_id
        )
        if delivery is None:
            outbox_complete(key=f"webhook:{notification_id}:{endpoint_id}")
            return Outcome.SKIPPED
        body = webhooks.canonical_body(webhook_payload(notification, key))
        timestamp = str(int(time.time()))
        answer = webhooks.post(
            url=endpoint.url,
            body=body,
            headers={
                webhooks.SIGNATURE_HEADER: webhooks.sign(secret=endpoint.secret, timestamp=timestamp, body=body),
                webhooks.TIMESTAMP_HEADER: timestamp,
                webhooks.DELIVERY_HEADER: key,
                webhooks.KIND_HEADER: notification.kind,
            },
            timeout=conf("WEBHOOK_TIMEOUT"),
        )
        delivery.attempts += 1
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            notification=notification,
            attempt=delivery.attempts,
            status_code=answer.status_code,
            error=answer.error,
            duration_ms=answer.duration_ms,
            succeeded=answer.ok,
        )
        if answer.ok:
            delivery.sent_at = timezone.now()
            delivery.last_error = ""
        else:
            delivery.last_error = answer.error or f"HTTP {answer.status_code}"
        delivery.save(update_fields=["attempts", "sent_at", "last_error"])
        if answer.ok or not answer.retryable:
            outbox_complete(key=f"webhook:{notification_id}:{endpoint_id}")
            return Outcome.SENT if answer.ok else Outcome.GAVE_UP
        return Outcome.FAILED


def webhook_give_up(*, notification_id: int, endpoint_id: int) -> None:
    """Retries are exhausted: the attempts stay on record and the job is closed."""
    logger.error("webhook delivery of notification %s to endpoint %s gave up", notification_id, endpoint_id)
    outbox_complete(key=f"webhook:{notification_id}:{endpoint_id}")


def webhook_backoff(retries: int) -> int:
    """Seconds before retry number `retries + 1`: doubling from the base, capped."""
    return int(min(conf("WEBHOOK_BACKOFF_SECONDS") * (2**retries), conf("WEBHOOK_BACKOFF_MAX_SECONDS")))


# --- the daily digest ----------------------------------------------------------------------------


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, dtime.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), dtime.min))


def digest_send(*, day: date | None = None) -> dict[str, int]:
    """One e-mail per user with the digest on, listing the day's notifications of the kinds they
    digest (default: yesterday, local time). Once per user and day, however often it runs."""
    day = day or timezone.localdate() - timedelta(days=1)
    start, end = _day_bounds(day)
    counts = {outcome.value: 0 for outcome in Outcome}
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_service=False, notification_preferences__daily_digest=True)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    for user in users:
        prefs = list(NotificationPreference.objects.filter(user=user))
        items = [
            n
            for n in seat_notifications(user=user)
            .filter(created_at__gte=start, created_at__lt=end)
            .select_related("department")
            .order_by("created_at", "id")
            if preference_resolve(prefs, n.kind).daily_digest
        ]
        if not items:
            continue
        key = f"digest:{day.isoformat()}:user:{user.pk}"
        with translation.override(settings.LANGUAGE_CODE):
            subject = _one_line(
                ngettext(
                    "Daily digest for %(day)s: %(count)d notification",
                    "Daily digest for %(day)s: %(count)d notifications",
                    len(items),
                )
                % {"day": day, "count": len(items)}
            )
            body = render_to_string(
                "notifications/email/digest.txt",
                {"user": user, "day": day, "items": [(n, _absolute(n.link)) for n in items]},
            )
        message = EmailMessage(
            subject=subject, body=body, to=[user.email], headers={"Message-ID": _message_id(key), "X-Delivery-Key": key}
        )
        outcome = _send_once(
            key=key,
            channel=Channel.DIGEST,
            recipient=f"user:{user.pk}",
            notification_id=None,
            send=lambda message=message: message.send(fail_silently=False),
        )
        counts[outcome.value] += 1
    return counts


# --- the inbox and preferences ----------------------------------------------------------------------


@transaction.atomic
def notification_mark_read(*, actor, notification: Notification) -> Notification:
    """Mark a department's notification read (for the whole department: whoever is on duty saw it).

    Anyone who may see it may mark it; a second mark keeps the first reader and time. Recorded in
    the ledger: acknowledging an escalation is evidence.
    """
    authorize(actor, "view", notification)
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.read_by = actor
        notification.save(update_fields=["read_at", "read_by"])
        audit_record(
            actor=actor,
            action="notification.read",
            target=notification,
            after={"kind": notification.kind, "key": notification.key},
        )
    return notification


KIND_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
WEBHOOK_KIND_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$")


@dataclass(frozen=True)
class PreferenceInput:
    kind: str = ""
    in_app: bool = True
    email: bool = True
    daily_digest: bool = False


@transaction.atomic
def notification_preferences_set(
    *, actor, preferences: list[PreferenceInput], replace: bool = False
) -> list[NotificationPreference]:
    """Save the caller's own preferences, one row per kind (blank: every kind), in one statement.

    `replace`: these rows are the whole set. A kind row that says the same as the blank row is
    dropped (so changing "every kind" later still reaches that kind), and rows not given are deleted.
    """
    if not (actor is not None and actor.is_authenticated and actor.is_active):
        raise AccessDenied(action="change", target=None, hidden=True)
    before = _preference_picture(actor)
    rows: dict[str, NotificationPreference] = {}
    for item in preferences:
        kind = item.kind.strip()
        if kind and (len(kind) > 60 or not KIND_RE.match(kind)):
            raise ServiceError(_("Unknown kind: %(kind)s") % {"kind": kind[:60]}, field="kind")
        rows[kind] = NotificationPreference(
            user=actor, kind=kind, in_app=item.in_app, email=item.email, daily_digest=item.daily_digest
        )
    if replace:
        base = rows.get("")
        values = (base.in_app, base.email, base.daily_digest) if base is not None else (True, True, False)
        rows = {
            kind: row for kind, row in rows.items() if not kind or (row.in_app, row.email, row.daily_digest) != values
        }
        NotificationPreference.objects.filter(user=actor).exclude(kind__in=list(rows)).delete()
    if rows:
        NotificationPreference.objects.bulk_create(
            list(rows.values()),
            update_conflicts=True,
            unique_fields=["user", "kind"],
            update_fields=["in_app", "email", "daily_digest", "updated_at"],
        )
    audit_record(
        actor=actor,
        action="notification.preferences_set",
        target=actor,
        before=before,
        after=_preference_picture(actor),
    )
    return list(NotificationPreference.objects.filter(user=actor, kind__in=list(rows)).order_by("kind"))


def _preference_picture(user) -> dict:
    """The user's preferences as the ledger keeps them: kind ("" for every kind) -> the three switches."""
    return {
        kind: {"in_app": in_app, "email": email, "daily_digest": digest}
        for kind, in_app, email, digest in NotificationPreference.objects.filter(user=user)
        .order_by("kind")
        .values_list("kind", "in_app", "email", "daily_digest")
    }


# --- webhook endpoints ---------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ServiceError(_("Enter an http:// or https:// URL."), field="url") from None
    if "@" in url.split("//", 1)[1].split("/", 1)[0]:
        raise ServiceError(_("Do not put credentials in the URL."), field="url")
    if len(url) > 500:
        raise ServiceError(_("The URL is too long."), field="url")
    return url


def _clean_kinds(kinds) -> list[str]:
    cleaned = sorted({str(k).strip() for k in kinds or [] if str(k).strip()})
    bad = [k for k in cleaned if len(k) > 60 or not WEBHOOK_KIND_RE.match(k)]
    if bad:
        raise ServiceError(_("Unknown kind: %(kind)s") % {"kind": bad[0][:60]}, field="kinds")
    return cleaned


ENDPOINT_AUDIT_FIELDS = ("name", "url", "kinds", "is_active")


@transaction.atomic
def webhook_endpoint_create(*, actor, department, name: str, url: str, kinds=()) -> WebhookEndpoint:
    """Register a department's webhook (heads of the department). The signing secret is generated
    here and shown to the heads; it is stored as is, because signing needs it."""
    authorize(actor, "change", department)
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Give the endpoint a name."), field="name")
    endpoint = WebhookEndpoint.objects.create(
        department=department,
        name=name[:100],
        url=_clean_url(url),
        kinds=_clean_kinds(kinds),
        secret=secrets.token_urlsafe(32),
        created_by=actor,
    )
    ensure_in_scope(actor, endpoint, "change")
    audit_record(
        actor=actor,
        action="webhook_endpoint.create",
        target=endpoint,
        after=snapshot(endpoint, ENDPOINT_AUDIT_FIELDS),
        region=department.region,
    )
    return endpoint


_UNCHANGED = object()


@transaction.atomic
def webhook_endpoint_update(
    *, actor, endpoint: WebhookEndpoint, name=_UNCHANGED, url=_UNCHANGED, kinds=_UNCHANGED, is_active=_UNCHANGED
) -> WebhookEndpoint:
    """Change or (de)activate an endpoint (heads of its department)."""
    authorize(actor, "change", endpoint)
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("department__region").get(pk=endpoint.pk)
    before = snapshot(endpoint, ENDPOINT_AUDIT_FIELDS)
    if name is not _UNCHANGED:
        if not (name or "").strip():
            raise ServiceError(_("Give the endpoint a name."), field="name")
        endpoint.name = name.strip()[:100]
    if url is not _UNCHANGED:
        endpoint.url = _clean_url(url)
    if kinds is not _UNCHANGED:
        endpoint.kinds = _clean_kinds(kinds)
    if is_active is not _UNCHANGED:
        endpoint.is_active = bool(is_active)
    after = snapshot(endpoint, ENDPOINT_AUDIT_FIELDS)
    if after == before:
        return endpoint
    endpoint.save(update_fields=["name", "url", "kinds", "is_active"])
    action = "webhook_endpoint.update"
    if before["is_active"] != after["is_active"]:
        action = "webhook_endpoint.activate" if after["is_active"] else "webhook_endpoint.deactivate"
    audit_record(actor=actor, action=action, target=endpoint, before=before, after=after)
    return endpoint


@transaction.atomic
def webhook_endpoint_deactivate(*, actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop deliveries to an endpoint; its attempts stay on record."""
    authorize(actor, "change", endpoint)
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists():
        raise Conflict(_("This endpoint is already inactive."))
    return webhook_endpoint_update(actor=actor, endpoint=endpoint, is_active=False)
