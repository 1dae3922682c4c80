"""Sending in-app notifications. Callers are services: they pass the departments and a stable key."""

from django.db import transaction

from .models import Notification


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
    rows = [
        Notification(
            department_id=getattr(d, "pk", d),
            kind=kind,
            audience_role=audience_role,
            title=str(title)[:200],
            body=str(body),
            link=link,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            key=f"{key}:{getattr(d, 'pk', d)}"[:200],
        )
        for d in {getattr(d, "pk", d): d for d in departments}.values()
    ]
    if not rows:
        return 0
    with transaction.atomic():
        existing = set(Notification.objects.filter(key__in=[r.key for r in rows]).values_list("key", flat=True))
        fresh = [r for r in rows if r.key not in existing]
        Notification.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)
