"""Reads for the role dashboard: the caller's seats and groups, the leading group's situation
picture (command block) and a department's own work (department block).

Every figure starts from a restricted selector of its app, so the dashboard shows exactly what
the list pages would. The page costs a bounded number of queries whatever the data size: all
counters come back in ONE round trip (`count_all`), each list is one query bounded by a top N
and aggregated in the database, and a list whose counter is zero is not queried at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from apps.access.models import DataGrant
from apps.access.selectors import approval_queue, grant_list, my_grants
from apps.core.permissions import Role
from apps.core.scoping import Principal, principal_for
from apps.datapool.models import Dataset
from apps.datapool.selectors import asset_register
from apps.incidents.choices import OPEN_STATUSES as INCIDENT_OPEN_STATUSES
from apps.incidents.choices import Severity
from apps.incidents.models import Incident, SituationReport
from apps.incidents.selectors import incident_list, report_list
from apps.monitoring.selectors import open_alerts
from apps.organizations.selectors import leading_group_list, membership_list
from apps.reporting.choices import JobStatus, ReportKind
from apps.reporting.models import Report
from apps.tasking.choices import OPEN_STATUSES as TASK_OPEN_STATUSES
from apps.tasking.choices import TaskStatus
from apps.tasking.selectors import task_inbox, task_list

from .geo import SEVERITY_COLOURS, Marker, RegionMap, region_map

INCIDENT_LIMIT = 50  # open incidents on the map and in the list beside it (most severe first)
DEPARTMENT_LIMIT = 12  # departments in the task-state chart (most overdue first)
TOP = 10  # rows of every other list
FIGURES = ("deaths", "injured", "missing", "affected_population", "evacuated")
LEVEL_ORDER = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
# Task states in the stacked chart, in the order a task moves, with their colours (static/portal/dashboard.js).
TASK_STATUS_COLOURS = {
    TaskStatus.ISSUED: "#1a5fb4",
    TaskStatus.ACCEPTED: "#62a0ea",
    TaskStatus.IN_PROGRESS: "#e5a50a",
    TaskStatus.TRANSFER_REQUESTED: "#9141ac",
    TaskStatus.DECLINED: "#a51d2d",
    TaskStatus.DISPUTED: "#e66100",
    TaskStatus.COMPLETED: "#2ec27e",
    TaskStatus.VERIFIED: "#1e7e34",
    TaskStatus.CANCELLED: "#9a9996",
}
OVERDUE_COLOUR = "#c0392b"


# --- one round trip for every counter ---------------------------------------------------------


def count_all(**querysets: QuerySet) -> dict[str, int]:
    """COUNT(*) of each queryset, all in one query: each is compiled by the ORM (its permission
    filter included) and wrapped as a scalar subquery, `SELECT (SELECT COUNT(*) FROM (…)), …`.
    A queryset that can match nothing (`none()`, an empty scope) counts 0 without SQL."""
    counts = dict.fromkeys(querysets, 0)
    parts, params, names = [], [], []
    for i, (name, queryset) in enumerate(querysets.items()):
        try:
            sql, sql_params = queryset.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:
            continue
        # the ORM compiled `sql` from the queryset; every value travels in `sql_params`
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS dashboard_c{i})")  # noqa: S608
        params.extend(sql_params)
        names.append(name)
    if parts:
        with connections[next(iter(querysets.values())).db].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            counts.update(zip(names, cursor.fetchone(), strict=True))
    return counts


# --- blocks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityCount:
    severity: int
    label: str
    colour: str
    count: int


@dataclass
class DepartmentTasks:
    department_id: int
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def open(self) -> int:
        return sum(n for status, n in self.counts.items() if status in TASK_OPEN_STATUSES)

    @property
    def done(self) -> int:
        return self.counts.get(TaskStatus.COMPLETED, 0) + self.counts.get(TaskStatus.VERIFIED, 0)


@dataclass
class CommandBlock:
    """The leading group's picture: open incidents, their tasks, figures, data access and alerts."""

    open_incidents: int
    severities: list[SeverityCount]
    incidents: list[Incident]  # most severe first, each with figures and its latest consolidated report
    region_map: RegionMap
    departments: list[DepartmentTasks]  # top DEPARTMENT_LIMIT
    more_departments: int
    tasks_total: int
    tasks_overdue: int
    to_approve: int
    grants_held: int
    grants_given: int
    alerts: list  # top TOP open alerts, most severe level first
    alerts_open: int
    severity_chart: dict
    task_chart: dict

    @property
    def more_incidents(self) -> int:
        return max(self.open_incidents - len(self.incidents), 0)

    @property
    def figure_rows(self) -> list[Incident]:
        """The most severe incidents that have situation reports, with their latest figures."""
        return [i for i in self.incidents if i.has_reports][:TOP]


@dataclass
class DepartmentBlock:
    """A department's own work: its inbox, its datasets, the grants it holds."""

    inbox: list  # top TOP open tasks, nearest deadline first
    inbox_counts: list[tuple[str, str, int]]  # (status, label, n) over the open states
    inbox_open: int
    inbox_overdue: int
    datasets: list[Dataset]
    datasets_owned: int
    grants: list[DataGrant]
    grants_held: int
    grants_given: int
    to_approve: int


def _region_codes(principal: Principal) -> list[str]:
    """The codes of the caller's own regions and of the regions its offices oversee (no query:
    a path holds the codes from the root, "320000/320100/")."""
    paths = {s.region_path for s in principal.seats} | set(principal.office_region_paths)
    return sorted({p.rstrip("/").rsplit("/", 1)[-1] for p in paths if p.strip("/")})


def _latest_figures(reports: QuerySet[SituationReport], name: str) -> Coalesce:
    """The sum of `name` over each department's latest situation report on the outer incident."""
    later = SituationReport.objects.filter(
        incident=OuterRef("incident"), department=OuterRef("department"), pk__gt=OuterRef("pk")
    )
    latest = reports.filter(incident=OuterRef("pk")).filter(~Exists(later)).order_by()
    total = latest.values("incident").annotate(total=Sum(name)).values("total")[:1]
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def _incidents(*, user, open_incidents: QuerySet[Incident]) -> list[Incident]:
    reports = report_list(user=user)
    consolidated = (
        Report.objects.restrict(user, "view")
        .filter(incident=OuterRef("pk"), kind=ReportKind.SITUATION, status=JobStatus.DONE)
        .order_by("-finished_at", "-pk")
    )
    rows = list(
        open_incidents.annotate(
            **{f"fig_{name}": _latest_figures(reports, name) for name in FIGURES},
            latest_report_id=Subquery(consolidated.values("pk")[:1]),
            latest_report_at=Subquery(consolidated.values("finished_at")[:1]),
        ).order_by("severity", "-first_seen_at", "-pk")[:INCIDENT_LIMIT]
    )
    for incident in rows:
        incident.has_reports = incident.report_count > 0
        incident.url = reverse("portal:incident-detail", args=[incident.pk])
        incident.latest_report_url = f"/reports/{incident.latest_report_id}/" if incident.latest_report_id else ""
    return rows


def _department_tasks(tasks: QuerySet, now: datetime) -> list[DepartmentTasks]:
    overdue = Q(deadline__lt=now, status__in=TASK_OPEN_STATUSES)
    per: dict[int, DepartmentTasks] = {}
    for row in (
        tasks.order_by()
        .values("department_id", "department__name", "status")
        .annotate(n=Count("pk"), late=Count("pk", filter=overdue))
    ):
        entry = per.setdefault(row["department_id"], DepartmentTasks(row["department_id"], row["department__name"]))
        entry.counts[row["status"]] = row["n"]
        entry.overdue += row["late"]
    return sorted(per.values(), key=lambda d: (-d.overdue, -d.open, -d.total, d.name))


def _task_chart(departments: list[DepartmentTasks]) -> dict:
    present = [s for s in TASK_STATUS_COLOURS if any(d.counts.get(s) for d in departments)]
    return {
        "labels": [d.name for d in departments],
        "series": [
            {
                "label": str(TaskStatus(s).label),
                "colour": TASK_STATUS_COLOURS[s],
                "data": [d.counts.get(s, 0) for d in departments],
            }
            for s in present
        ],
        "overdue": {"colour": OVERDUE_COLOUR, "data": [d.overdue for d in departments]},
    }


def _alerts(user):
    level_rank = Case(
        *(When(level=level, then=Value(rank)) for level, rank in LEVEL_ORDER.items()),
        default=Value(len(LEVEL_ORDER)),
        output_field=IntegerField(),
    )
    alerts = list(
        open_alerts(user=user).annotate(level_rank=level_rank).order_by("level_rank", "-raised_at", "-pk")[:TOP]
    )
    for alert in alerts:
        alert.url = f"/monitoring/alerts/{alert.pk}/"
    return alerts


def _counters(*, user, principal: Principal, open_incidents, now: datetime) -> dict[str, int]:
    mine = principal.department_ids()
    active = DataGrant.active_q(now)
    inbox = task_inbox(user=user)
    return count_all(
        **{f"severity_{s.value}": open_incidents.filter(severity=s.value) for s in Severity},
        incident_tasks=task_list(user=user).filter(incident_id__in=open_incidents.values("pk")),
        to_approve=approval_queue(user=user),
        grants_held=my_grants(user=user, now=now),
        grants_given=grant_list(user=user).filter(active, dataset__owner_id__in=mine),
        alerts_open=open_alerts(user=user),
        **{f"inbox_{s}": inbox.filter(status=s) for s in TASK_OPEN_STATUSES},
        inbox_overdue=inbox.filter(status__in=TASK_OPEN_STATUSES, deadline__lt=now),
        datasets_owned=Dataset.objects.restrict(user, "assets").filter(owner_id__in=mine),
    )


def dashboard_live_for(*, user, now: datetime | None = None) -> dict:
    """The part of the dashboard that refreshes itself: the command block (shown to whoever sits
    in a leading group or can see an open incident) and the department block (to whoever holds a
    seat). A bounded number of queries: one for all counters, then one per non-empty list."""
    principal = principal_for(user)
    if principal is None:
        return {"command": None, "department": None, "command_first": False, "updated_at": timezone.now()}
    now = now or timezone.now()
    open_incidents = incident_list(user=user).prefetch_related(None).filter(status__in=INCIDENT_OPEN_STATUSES)
    counts = _counters(user=user, principal=principal, open_incidents=open_incidents, now=now)
    open_total = sum(counts[f"severity_{s.value}"] for s in Severity)

    command = None
    if open_total or principal.leading_group_ids() or principal.is_superuser:
        incidents = _incidents(user=user, open_incidents=open_incidents) if open_total else []
        tasks = task_list(user=user).filter(incident_id__in=open_incidents.values("pk"))
        departments = _department_tasks(tasks, now) if counts["incident_tasks"] else []
        shown = departments[:DEPARTMENT_LIMIT]
        severities = [
            SeverityCount(s.value, str(s.label), SEVERITY_COLOURS[s], counts[f"severity_{s.value}"]) for s in Severity
        ]
        markers = [Marker(i.latitude, i.longitude, i.region.code, i.severity, i.title, i.url) for i in incidents]
        command = CommandBlock(
            open_incidents=open_total,
            severities=severities,
            incidents=incidents,
            region_map=region_map(_region_codes(principal), markers),
            departments=shown,
            more_departments=len(departments) - len(shown),
            tasks_total=counts["incident_tasks"],
            tasks_overdue=sum(d.overdue for d in departments),
            to_approve=counts["to_approve"],
            grants_held=counts["grants_held"],
            grants_given=counts["grants_given"],
            alerts=_alerts(user) if counts["alerts_open"] else [],
            alerts_open=counts["alerts_open"],
            severity_chart={
                "labels": [s.label for s in severities],
                "colours": [s.colour for s in severities],
                "data": [s.count for s in severities],
            },
            task_chart=_task_chart(shown),
        )

    department = None
    if principal.department_ids():
        inbox_open = sum(counts[f"inbox_{s}"] for s in TASK_OPEN_STATUSES)
        mine = principal.department_ids()
        department = DepartmentBlock(
            inbox=(
                list(task_inbox(user=user).filter(status__in=TASK_OPEN_STATUSES).order_by("deadline", "pk")[:TOP])
                if inbox_open
                else []
            ),
            inbox_counts=[(s, str(TaskStatus(s).label), counts[f"inbox_{s}"]) for s in TASK_OPEN_STATUSES],
            inbox_open=inbox_open,
            inbox_overdue=counts["inbox_overdue"],
            datasets=(
                list(asset_register(user=user).filter(owner_id__in=mine)[:TOP]) if counts["datasets_owned"] else []
            ),
            datasets_owned=counts["datasets_owned"],
            grants=list(my_grants(user=user, now=now).order_by("valid_until", "pk")[:TOP])
            if counts["grants_held"]
            else [],
            grants_held=counts["grants_held"],
            grants_given=counts["grants_given"],
            to_approve=counts["to_approve"],
        )
    # the leading group's members read the situation first; everyone else their own work first
    command_first = bool(principal.leading_group_ids() or principal.is_superuser)
    return {"command": command, "department": department, "command_first": command_first, "updated_at": now}


def dashboard_for(*, user) -> dict:
    """What the role dashboard shows: the user's seats and groups, and the live blocks."""
    principal = principal_for(user)
    seats = list(membership_list(user=user).filter(user=user))
    return {
        "seats": seats,
        # names and kinds only: the group list page's prefetches (regions, seats) are not needed here
        "leading_groups": list(leading_group_list(user=user).prefetch_related(None)),
        "roles": sorted({s.role for s in principal.seats}) if principal else [],
        "Role": Role,
    } | dashboard_live_for(user=user)
