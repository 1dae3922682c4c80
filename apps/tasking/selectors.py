"""Reads for tasks: the department inbox, the issuer's board, history, and scorecards."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.organizations.models import Department

from .choices import DONE_STATUSES, TaskEventKind, TaskStatus
from .models import Task, TaskComment, TaskEvent


def task_list(*, user) -> QuerySet[Task]:
    return Task.objects.restrict(user, "view").select_related(
        "department__region", "issuer_department", "issuer_group", "transfer_to", "incident"
    )


def task_inbox(*, user) -> QuerySet[Task]:
    """Tasks my departments are accountable for or are asked to take over."""
    from apps.core.scoping import principal_for

    principal = principal_for(user)
    mine = principal.department_ids() if principal else set()
    return task_list(user=user).filter(Q(department_id__in=mine) | Q(transfer_to_id__in=mine))


def task_board(*, user) -> QuerySet[Task]:
    """Tasks issued by my departments or by the leading groups whose information office I sit in."""
    from apps.core.scoping import principal_for

    principal = principal_for(user)
    if principal is None:
        return Task.objects.none()
    q = Q(issuer_department_id__in=principal.department_ids())
    offices = principal.office_group_ids()
    if offices:
        q |= Q(issuer_group_id__in=offices)
    return task_list(user=user).filter(q)


def task_counts(queryset: QuerySet[Task]) -> dict[str, int]:
    rows = queryset.order_by().values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(TaskStatus.values, 0) | {r["status"]: r["n"] for r in rows}
    counts["overdue"] = queryset.filter(
        deadline__lt=timezone.now(), status__in=[s for s in TaskStatus.values if s not in (*DONE_STATUSES, "cancelled")]
    ).count()
    return counts


def task_can(*, user, task: Task, action: str) -> bool:
    return Task.objects.restrict(user, action).filter(pk=task.pk).exists()


def task_events(*, task: Task) -> QuerySet[TaskEvent]:
    """History of a task the caller already obtained through `task_list` (so it is in scope)."""
    return task.events.select_related("department", "other_department")


def task_comments(*, task: Task) -> QuerySet[TaskComment]:
    return task.comments.select_related("author", "department")


@dataclass
class ScoreRow:
    department: Department
    tasks: int
    median_accept_minutes: float | None
    declines: int
    transfers: int
    overdue: int
    overdue_rate: float | None
    median_completion_minutes: float | None


def _median_minutes(values) -> float | None:
    values = [v.total_seconds() / 60 for v in values]
    return round(statistics.median(values), 1) if values else None


def _accountable_at(handovers: list[tuple[datetime, int]], moment: datetime, *, default: int) -> int:
    """The department of the last handover at or before `moment` (handovers are in time order)."""
    dept = None
    for at, department_id in handovers:
        if at > moment:
            break
        dept = department_id
    return default if dept is None else dept


def scorecard(*, user, start: datetime, end: datetime, now: datetime | None = None) -> list[ScoreRow]:
    """Per-department evidence over [start, end), computed from the task history (TaskEvent rows,
    each tied to its ledger event), for the tasks the caller may see. Ranked: lowest overdue rate,
    then fastest median acceptance."""
    return scorecard_for(tasks=task_list(user=user), start=start, end=end, now=now)


def scorecard_for(
    *, tasks: QuerySet[Task], start: datetime, end: datetime, now: datetime | None = None
) -> list[ScoreRow]:
    """The scorecard over a given set of tasks (an incident's, for its after-action review)."""
    now = now or timezone.now()
    tasks = tasks.filter(issued_at__lt=end)
    task_ids = tasks.values("pk")
    events = list(
        TaskEvent.objects.filter(task_id__in=task_ids, at__gte=start, at__lt=end)
        .values_list("task_id", "kind", "at", "department_id")
        .order_by("at", "id")
    )
    assigned_at: dict[tuple[int, int], datetime] = {}
    # who was accountable when, per task, in order (issue, re-assignment, transfer, ruling)
    handovers: dict[int, list[tuple[datetime, int]]] = {}
    for task_id, at, dept in (
        TaskEvent.objects.filter(
            task_id__in=task_ids,
            at__lt=end,
            kind__in=[
                TaskEventKind.ISSUED,
                TaskEventKind.REASSIGNED,
                TaskEventKind.TRANSFER_ACCEPTED,
                TaskEventKind.RULED,
            ],
        )
        .values_list("task_id", "at", "department_id")
        .order_by("at", "id")
    ):
        assigned_at.setdefault((task_id, dept), at)
        handovers.setdefault(task_id, []).append((at, dept))
    per: dict[int, dict] = {}

    def row(dept_id):
        return per.setdefault(dept_id, {"accept": [], "complete": [], "declines": 0, "transfers": 0})

    for task_id, kind, at, dept in events:
        since = assigned_at.get((task_id, dept))
        if kind == TaskEventKind.ACCEPTED and since is not None:
            row(dept)["accept"].append(at - since)
        elif kind == TaskEventKind.COMPLETED and since is not None:
            row(dept)["complete"].append(at - since)
        elif kind == TaskEventKind.DECLINED:
            row(dept)["declines"] += 1
        elif kind == TaskEventKind.TRANSFER_REQUESTED:
            row(dept)["transfers"] += 1
    due = list(
        tasks.filter(deadline__gte=start, deadline__lt=end)
        .exclude(status=TaskStatus.CANCELLED)
        .values_list("pk", "department_id", "deadline", "completed_at", "status")
    )
    totals: dict[int, list[int]] = {}
    for task_id, current, deadline, completed_at, status in due:
        # a deadline is charged to the department accountable when it fell (or now, if it has not
        # fallen yet): handing a task on after missing its deadline does not hand on the miss
        dept = _accountable_at(handovers.get(task_id, []), min(deadline, now), default=current)
        t = totals.setdefault(dept, [0, 0])
        t[0] += 1
        late = (completed_at > deadline) if completed_at else (status not in DONE_STATUSES and now > deadline)
        t[1] += int(late)
    departments = Department.objects.select_related("region").in_bulk(set(per) | set(totals))
    rows = [
        ScoreRow(
            department=departments[d],
            tasks=totals.get(d, [0, 0])[0],
            median_accept_minutes=_median_minutes(per.get(d, {}).get("accept", [])),
            declines=per.get(d, {}).get("declines", 0),
            transfers=per.get(d, {}).get("transfers", 0),
            overdue=totals.get(d, [0, 0])[1],
            overdue_rate=round(totals[d][1] / totals[d][0], 3) if totals.get(d, [0])[0] else None,
            median_completion_minutes=_median_minutes(per.get(d, {}).get("complete", [])),
        )
        for d in departments
    ]
    # a missing figure ranks after every real one (never accepted is not "fastest")
    rows.sort(
        key=lambda r: (
            r.overdue_rate is None,
            r.overdue_rate or 0,
            r.median_accept_minutes is None,
            r.median_accept_minutes or 0,
            r.department.name,
        )
    )
    return rows
