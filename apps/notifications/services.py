"""Sending in-app notifications. Callers are services: they pass the departments and a stable key."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .models import Notification


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
    """Deliver many notifications with two statements (look up known keys, insert the rest)."""
    if not messages:
        return 0
    with transaction.atomic():
        known = set(Notification.objects.filter(key__in=[m.key for m in messages]).values_list("key", flat=True))
        fresh = [Notification(**m.__dict__) for m in messages if m.key not in known]
        Notification.objects.bulk_create(fresh, ignore_conflicts=True)
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
