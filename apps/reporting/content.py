"""What a consolidated report and an after-action review say, as JSON-ready snapshots.

Built by the generation job (not on behalf of a user: the report goes to the leading group in
charge, which sees the whole incident), in a fixed number of queries whatever the incident's size:
aggregates run in the database and the task list is one query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from apps.core.scoping import subtree_q
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident, PlanActivation, SituationReport, TimelineEntry
from apps.tasking.choices import DONE_STATUSES, OPEN_STATUSES, TaskEventKind, TaskStatus
from apps.tasking.models import Task, TaskEvent

FIGURES = ("deaths", "injured", "missing", "affected_population", "evacuated")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def incident_header(incident: Incident) -> dict:
    return {
        "id": incident.pk,
        "title": incident.title,
        "category": incident.category,
        "subtype": incident.subtype,
        "severity": incident.severity,
        "status": incident.status,
        "is_drill": incident.is_drill,
        "place": incident.place,
        "region": incident.region.name,
        "regions": [r.name for r in incident.regions.all()],
        "first_seen_at": _iso(incident.first_seen_at),
        "reported_at": _iso(incident.reported_at),
        "closed_at": _iso(incident.closed_at),
        "reporting_department": incident.reporting_department.name,
        "leading_group": incident.leading_group.name if incident.leading_group_id else "",
    }


def latest_reports(incident: Incident) -> list[dict]:
    """Each department's latest situation report on the incident (one query)."""
    latest = (
        SituationReport.objects.filter(incident=incident)
        .values("department_id")
        .annotate(last=Max("id"))
        .values("last")
    )
    rows = SituationReport.objects.filter(pk__in=latest).select_related("department").order_by("department__name")
    return [
        {
            "department": r.department.name,
            "number": r.number,
            "kind": r.kind,
            "submitted_at": _iso(r.submitted_at),
            **{f: getattr(r, f) for f in FIGURES},
            "resources_deployed": r.resources_deployed[:500],
            "text": r.text[:1000],
            "is_late": r.is_late,
        }
        for r in rows
    ]


def task_summary(incident: Incident, now: datetime) -> tuple[list[dict], list[list]]:
    """Task progress per accountable department (one aggregate query) and the full task list."""
    tasks = Task.objects.filter(incident=incident)
    overdue = Q(deadline__lt=now, status__in=OPEN_STATUSES)
    per = {}
    for row in (
        tasks.values("department__name", "status")
        .annotate(n=Count("id"), late=Count("id", filter=overdue))
        .order_by("department__name", "status")
    ):
        entry = per.setdefault(
            row["department__name"], {"department": row["department__name"], "total": 0, "overdue": 0}
        )
        entry["total"] += row["n"]
        entry["overdue"] += row["late"]
        entry[row["status"]] = row["n"]
    listing = [
        [pk, title, dept, status, priority, _iso(deadline), bool(status in OPEN_STATUSES and deadline < now)]
        for pk, title, dept, status, priority, deadline in tasks.order_by("deadline", "id").values_list(
            "pk", "title", "department__name", "status", "priority", "deadline"
        )
    ]
    return list(per.values()), listing


def data_figures(incident: Incident) -> list[dict]:
    """The pooled data opened for this incident: each grant, and how many records it opens."""
    from apps.access.models import DataGrant
    from apps.access.rowfilter import to_q
    from apps.datapool.models import Record

    out = []
    for grant in (
        DataGrant.objects.filter(incident=incident).select_related("dataset__owner", "department").order_by("id")
    ):
        out.append(
            {
                "grant": grant.pk,
                "dataset": grant.dataset.title,
                "owner": grant.dataset.owner.name,
                "department": grant.department.name,
                "records": Record.objects.filter(dataset_id=grant.dataset_id).filter(to_q(grant.row_filter)).count(),
                "valid_until": _iso(grant.valid_until),
                "emergency": grant.is_emergency,
                "revoked": grant.revoked_at is not None,
            }
        )
    return out


def alerts_in(incident: Incident) -> list[dict]:
    """Early-warning alerts in the incident's regions (and below) since it was first seen."""
    from apps.monitoring.models import Alert

    paths = {incident.region.path, *(r.path for r in incident.regions.all())}
    since = incident.first_seen_at - timedelta(days=1)
    rows = (
        Alert.objects.filter(subtree_q("region__path", paths), window_end__gte=since)
        .select_related("rule", "region")
        .order_by("-raised_at")[:200]
    )
    return [
        {
            "rule": a.rule.name,
            "region": a.region.name if a.region_id else "",
            "level": a.level,
            "value": a.value,
            "baseline": a.baseline,
            "window_start": _iso(a.window_start),
            "status": a.status,
        }
        for a in rows
    ]


def situation_content(incident: Incident, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    reports = latest_reports(incident)
    per_department, listing = task_summary(incident, now)
    return {
        "kind": "situation",
        "generated_at": _iso(now),
        "incident": incident_header(incident),
        "figures": {f: sum(r[f] for r in reports) for f in FIGURES},
        "reports": reports,
        "tasks_by_department": per_department,
        "tasks": listing,
        "task_totals": {
            "total": len(listing),
            "open": sum(1 for t in listing if t[3] in OPEN_STATUSES),
            "done": sum(1 for t in listing if t[3] in DONE_STATUSES),
            "overdue": sum(1 for t in listing if t[6]),
        },
        "data": data_figures(incident),
        "alerts": alerts_in(incident),
    }


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds() / 60, 1) if a is not None and b is not None else None


def review_content(incident: Incident, now: datetime | None = None) -> dict:
    """调查评估: the key intervals, the late reports, the declined and transferred tasks, and the
    departments' scorecards during the incident."""
    from apps.tasking.selectors import scorecard_for

    now = now or timezone.now()
    reports = SituationReport.objects.filter(incident=incident)
    first_report = reports.aggregate(at=Min("submitted_at"))["at"]
    verified = TimelineEntry.objects.filter(incident=incident, message="Verified").aggregate(at=Min("occurred_at"))[
        "at"
    ]
    activated = PlanActivation.objects.filter(incident=incident).aggregate(at=Min("activated_at"))["at"]
    tasks = Task.objects.filter(incident=incident)
    events = TaskEvent.objects.filter(task__incident=incident)
    accepted = events.filter(kind=TaskEventKind.ACCEPTED).aggregate(at=Min("at"))["at"]
    first_seen = incident.first_seen_at
    milestones = [
        ("first_seen", first_seen),
        ("first_report", first_report),
        ("verified", verified),
        ("plan_activated", activated),
        ("first_task_accepted", accepted),
        ("closed", incident.closed_at),
    ]
    intervals = []
    previous = first_seen
    for name, at in milestones:
        intervals.append(
            {
                "milestone": name,
                "at": _iso(at),
                "after_first_seen_minutes": _minutes(first_seen, at),
                "after_previous_minutes": _minutes(previous, at) if name != "first_seen" else 0,
            }
        )
        if at is not None:
            previous = at
    late = [
        {
            "department": r.department.name,
            "number": r.number,
            "kind": r.kind,
            "due_at": _iso(r.due_at),
            "submitted_at": _iso(r.submitted_at),
            "late_minutes": round(r.late_by.total_seconds() / 60, 1) if r.late_by else None,
            "reason": r.late_reason[:300],
        }
        for r in reports.filter(is_late=True).select_related("department").order_by("submitted_at", "id")
    ]
    moves = [
        {
            "task": e.task_id,
            "title": e.task.title,
            "kind": e.kind,
            "department": e.department.name,
            "to": e.other_department.name if e.other_department_id else "",
            "at": _iso(e.at),
            "note": e.note[:300],
        }
        for e in events.filter(kind__in=[TaskEventKind.DECLINED, TaskEventKind.TRANSFER_REQUESTED])
        .select_related("task", "department", "other_department")
        .order_by("at", "id")
    ]
    end = incident.closed_at or now
    scores = [
        {
            "department": row.department.name,
            "tasks": row.tasks,
            "median_accept_minutes": row.median_accept_minutes,
            "declines": row.declines,
            "transfers": row.transfers,
            "overdue": row.overdue,
            "overdue_rate": row.overdue_rate,
            "median_completion_minutes": row.median_completion_minutes,
        }
        for row in scorecard_for(tasks=tasks, start=first_seen, end=end + timedelta(seconds=1), now=end)
    ]
    return {
        "kind": "review",
        "generated_at": _iso(now),
        "incident": incident_header(incident),
        "closed": incident.status == IncidentStatus.CLOSED,
        "intervals": intervals,
        "late_reports": late,
        "task_moves": moves,
        "scorecard": scores,
        "task_totals": {
            "total": tasks.count(),
            "declined_or_transferred": len({m["task"] for m in moves}),
            "cancelled": tasks.filter(status=TaskStatus.CANCELLED).count(),
        },
    }
