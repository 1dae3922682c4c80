"""Query budgets: every list costs the same number of queries for 3 rows as for 30.

A constant count is what matters (no N+1 on a page of 50); the upper bound is a sanity check.
Each case grows the list by 3, measures, grows it by 27 more, measures again.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import integration_key_create
from apps.core.permissions import Role
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, ClockKind, ReportKind, Severity, Subtype, WarningLevel
from apps.incidents.models import PlanActivation, PlannedDispatch, PlanTaskTemplate, ReportingClock, ResponsePlan
from apps.ledger.services import audit_record_standalone
from apps.organizations import services
from apps.organizations.choices import AgreementStatus, DepartmentType, LeadingGroupKind, RegionLevel
from tests import factories as f
from tests.matrix.harness import State, World
from tests.matrix.incidents_world import reporter

pytestmark = pytest.mark.django_db

MAX_QUERIES = 15  # sanity bound (7-9 today) per request (session, user, principal, count, page, prefetches)
SMALL, LARGE = 3, 30


def grow_regions(w: World, n: int) -> None:
    for _ in range(n):
        f.region(parent=w.region, level=RegionLevel.COUNTY)


def grow_departments(w: World, n: int) -> None:
    for _ in range(n):
        f.department(region=w.region)


def grow_members(w: World, n: int) -> None:
    for _ in range(n):
        f.member(w.department)


def grow_agreements(w: World, n: int) -> None:
    for i in range(n):
        agreement = services.agreement_create(
            actor=w.admin,
            title=f"Accord {i}",
            parties=[w.province_a, w.province_c],
            valid_from=timezone.now(),
        )
        # active agreements also take part in every request's principal
        services.agreement_set_status(actor=w.admin, agreement=agreement, status=AgreementStatus.ACTIVE)


def grow_leading_groups(w: World, n: int) -> None:
    for i in range(n):
        services.leading_group_create(
            actor=w.admin,
            name=f"Group {i}",
            kind=LeadingGroupKind.STANDING,
            regions=[w.province_a, w.province_c],
            information_office=w.department,
            big_data_center=w.third_party,
            members=[w.neighbour],
        )


def grow_dashboard(w: World, n: int) -> None:
    """The dashboard lists the caller's seats and leading groups: grow both."""
    grow_leading_groups(w, n)
    head = w.user(State.IN_SCOPE, Role.HEAD)
    for _ in range(n):
        f.member(f.department(region=w.region), Role.STAFF, user=head)


def grow_events(w: World, n: int) -> None:
    for _ in range(n):
        audit_record_standalone(actor=w.admin, action="matrix.filler", region=w.region)


def grow_keys(w: World, n: int) -> None:
    for i in range(n):
        integration_key_create(actor=w.admin, department=w.department, name=f"Key {i}")


def grow_incidents(w: World, n: int) -> None:
    for i in range(n):
        incident_services.incident_report(
            actor=reporter(w),
            department=w.department,
            title=f"Incident {i}",
            category=Category.ACCIDENT,
            subtype=Subtype.FIRE,
            severity=Severity.IV,
            place="Alpha",
            first_seen_at=timezone.now(),
            regions=[w.region, w.province_a],
        )


def grow_warnings(w: World, n: int) -> None:
    for i in range(n):
        incident_services.warning_draft(
            actor=reporter(w),
            issuer=w.department,
            region=w.region,
            level=WarningLevel.BLUE,
            title=f"Warning {i}",
            area="Alpha",
            starts_at=timezone.now(),
            expected_hours=6,
            measures="Stay indoors",
            incident=w.incident,
        )


def grow_reports(w: World, n: int) -> None:
    """Each situation report also adds one entry to the incident's timeline."""
    for i in range(n):
        incident_services.report_submit(
            actor=reporter(w), incident=w.incident, department=w.department, kind=ReportKind.FOLLOW_UP, text=f"{i}"
        )


def grow_plans(w: World, n: int) -> None:
    """Response plans with two task templates each (the templates are prefetched)."""
    for _ in range(n):
        plan = ResponsePlan.objects.create(
            name=f"Plan {next(_plan_seq)}",
            category=Category.ACCIDENT,
            subtype=Subtype.FIRE,
            severity=Severity.IV,
            lead_department_type=DepartmentType.FIRE,
        )
        PlanTaskTemplate.objects.bulk_create(
            PlanTaskTemplate(
                plan=plan, title=f"Step {j}", target_department_type=DepartmentType.FIRE, deadline_minutes=60
            )
            for j in range(2)
        )


_plan_seq = itertools.count()


def grow_clocks(w: World, n: int) -> None:
    """Reporting clocks of the target incident, each for a department of its own."""
    for i in range(n):
        ReportingClock.objects.create(
            incident=w.incident,
            department=f.department(region=w.region),
            kind=ClockKind.FOLLOW_UP,
            due_at=timezone.now() + timedelta(hours=1 + i),
        )


def grow_activations(w: World, n: int) -> None:
    """Plan activations of the target incident, each with two planned dispatches."""
    grow_plans(w, n)
    plans = ResponsePlan.objects.exclude(activations__incident=w.incident).order_by("-pk")[:n]
    for plan in plans:
        activation = PlanActivation.objects.create(
            incident=w.incident, plan=plan, severity=plan.severity, activated_by=reporter(w)
        )
        PlannedDispatch.objects.bulk_create(
            PlannedDispatch(
                activation=activation,
                template=template,
                department=f.department(region=w.region),
                title=template.title,
                deadline=timezone.now() + timedelta(hours=1),
            )
            for template in plan.task_templates.all()
        )


def api_count(response) -> int:
    return response.json()["count"]


def csv_rows(response) -> int:
    """Data rows of a CSV download (after the BOM and the header)."""
    return len(response.content.decode("utf-8").lstrip("\ufeff").splitlines()) - 1


def page_count(response) -> int:
    return response.context["paginator"].count


@dataclass(frozen=True)
class Budget:
    name: str
    grow: Callable[[World, int], None]
    size: Callable
    kwargs: Callable[[World], dict] | None = None
    rows_per_unit: int = 1  # rows one unit of growth adds to `size`

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")


BUDGETS = [
    Budget("api:region-list", grow_regions, api_count),
    Budget("api:department-list", grow_departments, api_count),
    Budget("api:membership-list", grow_members, api_count),
    Budget("api:agreement-list", grow_agreements, api_count),
    Budget("api:leading-group-list", grow_leading_groups, api_count),
    Budget("api:audit-event-list", grow_events, api_count),
    Budget("api:integration-key-list", grow_keys, api_count),
    Budget("portal:region-list", grow_regions, page_count),
    Budget("portal:department-list", grow_departments, page_count),
    Budget("portal:agreement-list", grow_agreements, page_count),
    Budget("portal:leading-group-list", grow_leading_groups, page_count),
    Budget("portal:ledger-list", grow_events, page_count),
    Budget(
        "portal:dashboard",
        grow_dashboard,
        lambda r: len(r.context["seats"]) + len(r.context["leading_groups"]),
        rows_per_unit=2,
    ),
    Budget(
        "portal:department-detail",
        grow_members,
        lambda r: len(r.context["members"]),
        kwargs=lambda w: {"pk": w.department.pk},
    ),
    Budget("api:incident-list", grow_incidents, api_count),
    Budget("api:warning-list", grow_warnings, api_count),
    Budget("api:situation-report-list", grow_reports, api_count),
    Budget("api:incident-timeline", grow_reports, api_count, kwargs=lambda w: {"pk": w.incident.pk}),
    Budget("api:response-plan-list", grow_plans, api_count),
    Budget("api:incident-reports", grow_reports, api_count, kwargs=lambda w: {"pk": w.incident.pk}),
    Budget("api:incident-clocks", grow_clocks, api_count, kwargs=lambda w: {"pk": w.incident.pk}),
    Budget("api:incident-activations", grow_activations, api_count, kwargs=lambda w: {"pk": w.incident.pk}),
    Budget("api:incident-timeline-csv", grow_reports, csv_rows, kwargs=lambda w: {"pk": w.incident.pk}),
    Budget("portal:incident-timeline-csv", grow_reports, csv_rows, kwargs=lambda w: {"pk": w.incident.pk}),
]


def _shape(sql: str) -> str:
    return re.sub(r"\b\d+\b", "N", sql)


def _growth(small, large) -> str:
    """The query shapes that ran more often for the larger list (the N+1 to fix)."""
    before = Counter(_shape(q["sql"]) for q in small.captured_queries)
    after = Counter(_shape(q["sql"]) for q in large.captured_queries)
    return "\n".join(f"  +{after[s] - before[s]}x {s[:300]}" for s in after if after[s] > before[s])


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: b.name)
def test_list_query_count_does_not_grow_with_the_rows(budget, world):
    head = world.user(State.IN_SCOPE, Role.HEAD)  # sees everything these lists hold for city A1
    client = APIClient() if budget.is_api else Client()
    client.force_login(head)
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    grown = (LARGE - SMALL) * budget.rows_per_unit
    assert large_size - small_size == grown, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= MAX_QUERIES, f"{budget.name}: {len(large)} queries"


# =============================================================================================
# Incident portal pages (owned by the incident portal work; API entries live in BUDGETS above).
# Self-contained: its own growth helpers and imports, so the two blocks can change independently.
# =============================================================================================

# The detail page reads the incident, its timeline, reports, photos, clocks, plans and warnings, and
# the caller's departments and office groups for its forms (the report and the photo form each list
# the departments): more queries than a list, still constant.
INCIDENT_DETAIL_MAX_QUERIES = 23


def portal_grow_incidents(w: World, n: int) -> None:
    from apps.incidents import services as incident_services
    from apps.incidents.choices import Category, Severity, Subtype
    from tests.matrix.incidents_world import reporter

    for i in range(n):
        incident_services.incident_report(
            actor=reporter(w),
            department=w.department,
            title=f"Portal incident {i}",
            category=Category.ACCIDENT,
            subtype=Subtype.FIRE,
            severity=Severity.IV,
            place="Alpha",
            first_seen_at=timezone.now(),
            regions=[w.region, w.province_a],  # two affected regions per row: the prefetch must hold
        )


def portal_grow_warnings(w: World, n: int) -> None:
    from apps.incidents import services as incident_services
    from apps.incidents.choices import WarningLevel
    from tests.matrix.incidents_world import reporter

    for i in range(n):
        incident_services.warning_draft(
            actor=reporter(w),
            issuer=w.department,
            region=w.region,
            level=WarningLevel.BLUE,
            title=f"Portal warning {i}",
            area="Alpha",
            starts_at=timezone.now(),
            expected_hours=6,
            measures="Stay indoors",
            incident=w.incident,
        )


def portal_grow_incident_history(w: World, n: int) -> None:
    """One situation report and, with it, one timeline entry per unit."""
    from apps.incidents import services as incident_services
    from apps.incidents.choices import ReportKind
    from tests.matrix.incidents_world import reporter

    for i in range(n):
        incident_services.report_submit(
            actor=reporter(w), incident=w.incident, department=w.department, kind=ReportKind.FOLLOW_UP, text=f"{i}"
        )


def portal_grow_linked_timeline(w: World, n: int) -> None:
    """Per unit, a warning and a task of the incident: two timeline entries whose links need the
    reader's scope of their own objects (checked once per type on the page, never per entry)."""
    from apps.incidents import services as incident_services
    from apps.incidents.choices import WarningLevel
    from apps.tasking import services as task_services
    from tests.matrix import tasking_world  # noqa: F401  (registers `task_issuer`, `task_issuer_head`)
    from tests.matrix.incidents_world import reporter

    for i in range(n):
        incident_services.warning_draft(
            actor=reporter(w),
            issuer=w.department,
            region=w.region,
            level=WarningLevel.BLUE,
            title=f"Linked warning {i}",
            area="Alpha",
            starts_at=timezone.now(),
            expected_hours=6,
            measures="Stay indoors",
            incident=w.incident,
        )
        task_services.task_dispatch(
            actor=w.task_issuer_head,
            issuer_department=w.task_issuer,
            departments=[w.department],
            title=f"Linked task {i}",
            deadline=timezone.now() + timedelta(hours=1 + i),
            incident=w.incident,
        )


PORTAL_INCIDENT_BUDGETS = [
    (Budget("portal:incident-list", portal_grow_incidents, page_count), MAX_QUERIES),
    (Budget("portal:warning-list", portal_grow_warnings, page_count), MAX_QUERIES),
    (
        Budget(
            "portal:incident-detail",
            portal_grow_incident_history,
            lambda r: len(r.context["reports"]) + len(r.context["timeline"]),
            kwargs=lambda w: {"pk": w.incident.pk},
            rows_per_unit=2,
        ),
        INCIDENT_DETAIL_MAX_QUERIES,
    ),
    (
        Budget(
            "portal:incident-detail",
            portal_grow_linked_timeline,
            lambda r: len(r.context["timeline"]),
            kwargs=lambda w: {"pk": w.incident.pk},
            rows_per_unit=2,
        ),
        INCIDENT_DETAIL_MAX_QUERIES + 1,  # the tasks the reader sees among those linked: one query per page
    ),
]


@pytest.mark.parametrize(("budget", "ceiling"), PORTAL_INCIDENT_BUDGETS, ids=lambda b: getattr(b, "name", ""))
def test_incident_portal_query_count_does_not_grow_with_the_rows(budget, ceiling, world):
    head = world.user(State.IN_SCOPE, Role.HEAD)  # an emergency head: the detail page shows the command forms
    client = Client()
    client.force_login(head)
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()
    budget.grow(world, SMALL)
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == (LARGE - SMALL) * budget.rows_per_unit, "the grown rows are not on the page"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= ceiling, f"{budget.name}: {len(large)} queries"


# ============================ end of the incident portal block ===============================


# =============================================================================================
# Tasks API lists (owned by the tasks API work). Self-contained: its own growth helpers and
# imports, so this block and the others can change independently.
# =============================================================================================


def api_grow_inbox_tasks(w: World, n: int) -> None:
    """Tasks issued to the target department (its list and its inbox); one dispatch each, so the
    rows differ in issuer, batch and deadline like real ones."""
    from datetime import timedelta

    from apps.tasking import services as task_services
    from tests.matrix import tasking_world  # noqa: F401  (registers `task_issuer`, `task_issuer_head`)

    for i in range(n):
        task_services.task_dispatch(
            actor=w.task_issuer_head,
            issuer_department=w.task_issuer,
            departments=[w.department],
            title=f"Inbox task {i}",
            deadline=timezone.now() + timedelta(hours=1 + i),
        )


def api_grow_board_tasks(w: World, n: int) -> None:
    """Tasks the target department issues to its neighbour (its board); the neighbour asks for the
    first of each batch to be transferred back, so rows with `transfer_to` are on the page too."""
    from datetime import timedelta

    from apps.tasking import services as task_services

    head = w.user(State.IN_SCOPE, Role.HEAD)
    neighbour_head = w.user(State.SAME_REGION_OTHER_DEPT, Role.HEAD)
    for i in range(n):
        [task] = task_services.task_dispatch(
            actor=head,
            issuer_department=w.department,
            departments=[w.neighbour],
            title=f"Board task {i}",
            deadline=timezone.now() + timedelta(hours=1 + i),
        )
        if i == 0:
            task_services.task_request_transfer(
                actor=neighbour_head, task=task, to_department=w.department, reason="Yours"
            )


TASK_API_BUDGETS = [
    Budget("api:task-list", api_grow_inbox_tasks, api_count),
    Budget("api:task-inbox", api_grow_inbox_tasks, api_count),
    Budget("api:task-board", api_grow_board_tasks, api_count),
]


@pytest.mark.parametrize("budget", TASK_API_BUDGETS, ids=lambda b: b.name)
def test_task_api_list_query_count_does_not_grow_with_the_rows(budget, world):
    head = world.user(State.IN_SCOPE, Role.HEAD)  # the target department's head: its inbox and its board
    client = APIClient()
    client.force_login(head)
    url = reverse(budget.name)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == LARGE - SMALL, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= MAX_QUERIES, f"{budget.name}: {len(large)} queries"


# ============================== end of the tasks API block ===================================


# =============================================================================================
# Task portal pages (owned by the task portal work: inbox, board, task page, scorecard).
# Self-contained: its own growth helpers and imports, so this block and the others can change
# independently.
# =============================================================================================

# The task page reads the task, five permission checks (respond, work, take_transfer, control,
# rule), its history, comments and attachments, and the department choices of its forms: more
# queries than a list, still constant.
TASK_DETAIL_MAX_QUERIES = 25


def portal_grow_inbox_tasks(w: World, n: int) -> None:
    """Tasks issued to the target department; every third one overdue, every third one accepted,
    so the page shows its badges, overdue rows and the counts for several states."""
    from datetime import timedelta

    from apps.tasking import services as task_services
    from apps.tasking.models import Task
    from tests.matrix import tasking_world  # noqa: F401  (registers `task_issuer`, `task_issuer_head`)

    head = w.user(State.IN_SCOPE, Role.HEAD)
    for i in range(n):
        [task] = task_services.task_dispatch(
            actor=w.task_issuer_head,
            issuer_department=w.task_issuer,
            departments=[w.department],
            title=f"Portal inbox task {i}",
            priority=("urgent", "high", "normal", "low")[i % 4],
            deadline=timezone.now() + timedelta(hours=1 + i),
        )
        if i % 3 == 1:
            task_services.task_accept(actor=head, task=task)
        elif i % 3 == 2:
            Task.objects.filter(pk=task.pk).update(deadline=timezone.now() - timedelta(minutes=i))


def portal_grow_board_tasks(w: World, n: int) -> None:
    """Tasks the target department issues to its neighbour; every other one is declined or has a
    transfer requested back, so the board shows several groups and `transfer_to` rows."""
    from datetime import timedelta

    from apps.tasking import services as task_services

    head = w.user(State.IN_SCOPE, Role.HEAD)
    neighbour_head = w.user(State.SAME_REGION_OTHER_DEPT, Role.HEAD)
    for i in range(n):
        [task] = task_services.task_dispatch(
            actor=head,
            issuer_department=w.department,
            departments=[w.neighbour],
            title=f"Portal board task {i}",
            deadline=timezone.now() + timedelta(hours=1 + i),
        )
        if i % 3 == 1:
            task_services.task_decline(actor=neighbour_head, task=task, reason="Not ours")
        elif i % 3 == 2:
            task_services.task_request_transfer(
                actor=neighbour_head, task=task, to_department=w.department, reason="Yours"
            )


def portal_task_history_target(w: World):
    """The world task, accepted once (so the page offers the work forms), for the history budget."""
    from apps.tasking import services as task_services
    from apps.tasking.choices import TaskStatus
    from tests.matrix import tasking_world  # noqa: F401  (registers `task`)

    if w.task.status == TaskStatus.ISSUED:
        w.task = task_services.task_accept(actor=w.user(State.IN_SCOPE, Role.HEAD), task=w.task)
    return w.task


def portal_grow_task_history(w: World, n: int) -> None:
    """One progress update (a history entry and a comment) and one comment from the issuer per unit."""
    from apps.tasking import services as task_services

    task = portal_task_history_target(w)
    worker = w.user(State.LOWER_ROLE, Role.HEAD)  # staff of the accountable department
    for i in range(n):
        task_services.task_progress(actor=worker, task=task, body=f"Progress {i}")
        task_services.task_comment(actor=w.task_issuer_head, task=task, body=f"Comment {i}")


def portal_grow_scorecard(w: World, n: int) -> None:
    """One more department per unit, each with a task it accepted: one more scorecard row each."""
    from datetime import timedelta

    from apps.tasking import services as task_services

    issuer_head = w.user(State.IN_SCOPE, Role.HEAD)
    for _ in range(n):
        department = f.department(region=w.region)
        [task] = task_services.task_dispatch(
            actor=issuer_head,
            issuer_department=w.department,
            departments=[department],
            title="Scored",
            deadline=timezone.now() + timedelta(hours=2),
        )
        task_services.task_accept(actor=f.member(department, Role.HEAD), task=task)


PORTAL_TASK_BUDGETS = [
    (Budget("portal:task-inbox", portal_grow_inbox_tasks, page_count), MAX_QUERIES),
    (Budget("portal:task-board", portal_grow_board_tasks, page_count), MAX_QUERIES),
    (
        Budget(
            "portal:task-detail",
            portal_grow_task_history,
            lambda r: len(r.context["events"]) + len(r.context["comments"]),
            kwargs=lambda w: {"pk": portal_task_history_target(w).pk},
            rows_per_unit=3,  # a progress entry in the history, the update and a comment in the comments
        ),
        TASK_DETAIL_MAX_QUERIES,
    ),
    (Budget("portal:scorecard", portal_grow_scorecard, lambda r: len(r.context["rows"])), MAX_QUERIES),
]


@pytest.mark.parametrize(("budget", "ceiling"), PORTAL_TASK_BUDGETS, ids=lambda b: getattr(b, "name", ""))
def test_task_portal_query_count_does_not_grow_with_the_rows(budget, ceiling, world):
    head = world.user(State.IN_SCOPE, Role.HEAD)  # the target department's head: its inbox, board, task page
    client = Client()
    client.force_login(head)
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == (LARGE - SMALL) * budget.rows_per_unit, "the grown rows are not on the page"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= ceiling, f"{budget.name}: {len(large)} queries"


# ============================ end of the task portal block ===================================


# =============================================================================================
# Notifications: the inbox, webhook endpoints and their delivery attempts, preferences (owned
# by the notifications work). Self-contained: its own growth helpers and imports.
# =============================================================================================


def notif_grow_inbox(w: World, n: int) -> None:
    """Notifications to the target department; every other one read (the reader is on the row)."""
    from apps.notifications import services as notification_services
    from apps.notifications.models import Notification

    reader = w.user(State.LOWER_ROLE, Role.HEAD)
    start = Notification.objects.count()
    for i in range(start, start + n):
        notification_services.notify(
            departments=[w.department], kind=f"matrix.kind{i % 3}", title=f"Inbox notice {i}", key=f"qc:{i}"
        )
        if i % 2:
            notification_services.notification_mark_read(
                actor=reader, notification=Notification.objects.get(key=f"qc:{i}:{w.department.pk}")
            )


def notif_endpoint(w: World):
    from apps.notifications import services as notification_services
    from apps.notifications.models import WebhookEndpoint

    return WebhookEndpoint.objects.filter(name="QC-Endpoint").first() or notification_services.webhook_endpoint_create(
        actor=w.admin, department=w.department, name="QC-Endpoint", url="https://hooks.example.org/qc"
    )


def notif_grow_endpoints(w: World, n: int) -> None:
    from apps.notifications import services as notification_services

    head = w.user(State.IN_SCOPE, Role.HEAD)
    for i in range(n):
        notification_services.webhook_endpoint_create(
            actor=head, department=w.department, name=f"Hook {i}", url=f"https://hooks.example.org/{i}"
        )


def notif_grow_attempts(w: World, n: int) -> None:
    """Delivery attempts to one endpoint, each for its own notification (as the worker writes them)."""
    from apps.notifications import services as notification_services
    from apps.notifications.models import Notification, WebhookDelivery

    endpoint = notif_endpoint(w)
    start = WebhookDelivery.objects.count()
    for i in range(start, start + n):
        notification_services.notify(departments=[w.department], kind="matrix.hook", title=f"N{i}", key=f"qa:{i}")
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            notification=Notification.objects.get(key=f"qa:{i}:{w.department.pk}"),
            attempt=1,
            status_code=200 if i % 2 else 500,
            succeeded=bool(i % 2),
        )


def notif_grow_preferences(w: World, n: int) -> None:
    from apps.notifications import services as notification_services
    from apps.notifications.models import NotificationPreference

    head = w.user(State.IN_SCOPE, Role.HEAD)
    start = NotificationPreference.objects.filter(user=head).count()
    notification_services.notification_preferences_set(
        actor=head,
        preferences=[
            notification_services.PreferenceInput(kind=f"matrix.k{i}", email=False) for i in range(start, start + n)
        ],
    )


def notif_endpoint_kwargs(w: World) -> dict:
    return {"pk": notif_endpoint(w).pk}


NOTIFICATION_BUDGETS = [
    Budget("api:notification-list", notif_grow_inbox, api_count),
    Budget("portal:notification-list", notif_grow_inbox, page_count),
    Budget("api:notification-webhook-endpoint-list", notif_grow_endpoints, api_count),
    Budget("portal:notification-webhook-list", notif_grow_endpoints, page_count),
    Budget(
        "api:notification-webhook-endpoint-deliveries", notif_grow_attempts, api_count, kwargs=notif_endpoint_kwargs
    ),
    Budget(
        "portal:notification-webhook-detail",
        notif_grow_attempts,
        lambda r: len(r.context["deliveries"]),
        kwargs=notif_endpoint_kwargs,
    ),
    Budget("api:notification-preference-list", notif_grow_preferences, lambda r: len(r.json())),
]


@pytest.mark.parametrize("budget", NOTIFICATION_BUDGETS, ids=lambda b: b.name)
def test_notification_query_count_does_not_grow_with_the_rows(budget, world):
    head = world.user(State.IN_SCOPE, Role.HEAD)  # the target department's head: its inbox and its webhooks
    client = APIClient() if budget.is_api else Client()
    client.force_login(head)
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == LARGE - SMALL, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= MAX_QUERIES, f"{budget.name}: {len(large)} queries"


# ============================ end of the notifications block =================================


# =============================================================================================
# Data-pool API lists (owned by the data-pool API work). Self-contained: its own growth helpers
# and imports, so this block and the others can change independently. The world objects come
# from tests/matrix/datapool_world.py.
# =============================================================================================

_pool_seq = iter(range(1, 1_000_000))


def pool_grow_datasets(w: World, n: int) -> None:
    """Datasets of the target department, each with a tag (the catalog and the asset register)."""
    from apps.datapool import services as pool_services
    from tests.matrix import datapool_world  # noqa: F401  (registers the pool_* world objects)

    for _ in range(n):
        pool_services.dataset_create(
            actor=w.pool_steward,
            owner=w.department,
            standard=w.pool_standard,
            title=f"Pool dataset {next(_pool_seq)}",
            tags=[w.pool_tag],
        )


def pool_grow_jobs(w: World, n: int) -> None:
    """Queued uploads into the target dataset (each a different file)."""
    from django.db import transaction

    from apps.datapool import services as pool_services
    from apps.datapool.demo import csv_bytes, resident_rows

    for _ in range(n):
        data = csv_bytes(resident_rows(1, seed=next(_pool_seq)))
        with transaction.atomic():
            pool_services.ingestion_submit_file(
                actor=w.pool_steward, dataset=w.pool_dataset, upload=pool_services.spool_upload(data)
            )


def pool_grow_records(w: World, n: int) -> None:
    """One load of `n` records into the target dataset."""
    from apps.datapool.demo import csv_bytes, resident_rows
    from tests.matrix.datapool_world import load

    job = load(w.pool_steward, w.pool_dataset, csv_bytes(resident_rows(n, seed=next(_pool_seq))))
    assert job.rows_accepted == n, job.error_message()


def pool_grow_rejects(w: World, n: int) -> None:
    from apps.datapool.models import RejectedRow

    start = RejectedRow.objects.filter(job=w.pool_job).count() + 100
    RejectedRow.objects.bulk_create(
        RejectedRow(job=w.pool_job, line=start + i, field="age", reason="type", raw={"年龄": "abc"}) for i in range(n)
    )


def pool_grow_standards(w: World, n: int) -> None:
    """Standards with a quality rule and a tagging rule each (the list renders both)."""
    from apps.datapool.models import DataStandard, QualityRule, TagRule

    fields = [{"name": "code", "label": "编码", "type": "string", "required": True}]
    for _ in range(n):
        standard = DataStandard.objects.create(code=f"pool-std-{next(_pool_seq)}", name="Pool standard", fields=fields)
        QualityRule.objects.create(standard=standard, kind="required", field="code")
        TagRule.objects.create(standard=standard, tag=w.pool_tag, field="code", op="eq", value="x")


def pool_grow_mappings(w: World, n: int) -> None:
    from apps.datapool import services as pool_services

    for _ in range(n):
        pool_services.mapping_save(
            actor=w.pool_steward, dataset=w.pool_dataset, name=f"Mapping {next(_pool_seq)}", columns={"name": "N"}
        )


def pool_on_dataset(w: World) -> dict:
    from tests.matrix import datapool_world  # noqa: F401  (registers the pool_* world objects)

    return {"pk": w.pool_dataset.pk}


def pool_on_job(w: World) -> dict:
    from tests.matrix import datapool_world  # noqa: F401

    return {"pk": w.pool_job.pk}


def pool_rows(response) -> int:
    """Rows on a cursor page (no COUNT(*) on records)."""
    return len(response.json()["results"])


POOL_API_BUDGETS = [
    Budget("api:dataset-list", pool_grow_datasets, api_count),
    Budget("api:asset-list", pool_grow_datasets, api_count),
    Budget("api:ingestion-job-list", pool_grow_jobs, api_count),
    Budget("api:dataset-records", pool_grow_records, pool_rows, kwargs=pool_on_dataset),
    Budget("api:ingestion-job-rejects", pool_grow_rejects, api_count, kwargs=pool_on_job),
    Budget("api:data-standard-list", pool_grow_standards, api_count),
    Budget("api:dataset-mappings", pool_grow_mappings, api_count, kwargs=pool_on_dataset),
]


@pytest.mark.parametrize("budget", POOL_API_BUDGETS, ids=lambda b: b.name)
def test_datapool_api_list_query_count_does_not_grow_with_the_rows(budget, world):
    from tests.matrix import datapool_world  # noqa: F401  (registers the pool_* world objects)

    head = world.user(State.IN_SCOPE, Role.HEAD)  # the target department's head: its datasets, loads, records
    client = APIClient()
    client.force_login(head)
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page_size": 100})
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == LARGE - SMALL, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    # a page of records is also a ledger event (the read) and a usage count: three more statements
    limit = MAX_QUERIES + 3 if budget.name == "api:dataset-records" else MAX_QUERIES
    assert len(large) <= limit, f"{budget.name}: {len(large)} queries"


# ============================== end of the data-pool API block ===============================


# =============================================================================================
# Data-pool portal pages (owned by the data-pool portal work: catalog, records table, loads,
# asset register). Self-contained: its own growth helpers and imports, so this block and the
# others can change independently.
# =============================================================================================

# The records page also counts the read (the asset register's usage) and labels the tags.
POOL_PORTAL_MAX_QUERIES = 18


def pool_portal_grow_datasets(w: World, n: int) -> None:
    """Datasets of the target department, each with two tags (the prefetch must hold)."""
    from apps.datapool import services as pool_services
    from apps.datapool.models import Dataset, Tag
    from tests.matrix import datapool_world  # noqa: F401  (registers `pool_standard`, `pool_steward`)

    start = Dataset.objects.count()
    tags = list(Tag.objects.filter(code__in=["flood", "vulnerable"])) if w.pool_standard else []
    for i in range(start, start + n):
        pool_services.dataset_create(
            actor=w.pool_steward,
            owner=w.department,
            standard=w.pool_standard,
            title=f"Portal dataset {i}",
            tags=tags,
        )


def pool_portal_grow_records(w: World, n: int) -> None:
    """`n` more records of `pool_dataset`, loaded through the upload channel (a new file each time)."""
    from apps.datapool.demo import csv_bytes, resident_rows
    from apps.datapool.models import Record
    from tests.matrix.datapool_world import load

    seed = 1000 + Record.objects.filter(dataset=w.pool_dataset).count()
    job = load(w.pool_steward, w.pool_dataset, csv_bytes(resident_rows(n, seed=seed)), name=f"grow-{seed}.csv")
    assert job.rows_accepted == n, job.error_message()


def pool_portal_grow_jobs(w: World, n: int) -> None:
    """`n` more loads into `pool_dataset`, one record each (every other one with a rejected row)."""
    from apps.datapool.demo import csv_bytes, resident_rows
    from apps.datapool.models import IngestionJob
    from tests.matrix.datapool_world import load

    start = IngestionJob.objects.count()
    for i in range(start, start + n):
        rows = resident_rows(1, seed=2000 + i, bad=i % 2)
        load(w.pool_steward, w.pool_dataset, csv_bytes(rows), name=f"job-{i}.csv")


def pool_portal_grow_assets(w: World, n: int) -> None:
    """Datasets of the target department, each read by two departments today."""
    from apps.datapool import services as pool_services
    from apps.datapool.models import Dataset

    start = Dataset.objects.count()
    pool_portal_grow_datasets(w, n)
    for dataset in Dataset.objects.order_by("id")[start:]:
        pool_services.dataset_use(dataset=dataset, department=w.department, rows=5)
        pool_services.dataset_use(dataset=dataset, department=w.neighbour, rows=2)


def pool_records_kwargs(w: World) -> dict:
    return {"pk": w.pool_dataset.pk}


POOL_PORTAL_BUDGETS = [
    Budget("portal:dataset-list", pool_portal_grow_datasets, page_count),
    Budget(
        "portal:dataset-records",
        pool_portal_grow_records,
        lambda r: len(r.context["rows"]),
        kwargs=pool_records_kwargs,
    ),
    Budget("portal:ingestion-list", pool_portal_grow_jobs, page_count),
    Budget("portal:asset-register", pool_portal_grow_assets, page_count),
]


@pytest.mark.parametrize("budget", POOL_PORTAL_BUDGETS, ids=lambda b: b.name)
def test_datapool_portal_query_count_does_not_grow_with_the_rows(budget, world):
    head = world.user(State.IN_SCOPE, Role.HEAD)  # the target department's head: its records, loads, assets
    client = Client()
    client.force_login(head)
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions, the first read's usage row) outside the measurement
    budget.grow(world, SMALL)
    measure()  # the first page with rows creates the day's usage row; later reads only update it
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == LARGE - SMALL, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= POOL_PORTAL_MAX_QUERIES, f"{budget.name}: {len(large)} queries"


# =========================== end of the data-pool portal block ===============================


# =============================================================================================
# Data-access portal pages (owned by the data-access portal work: requests, the approval queue,
# grants, the records table through a grant, the demand board). Self-contained: its own growth
# helpers and imports, so this block and the others can change independently.
# =============================================================================================

# A records page also writes its ledger event and the usage row (services.read_record).
ACCESS_PORTAL_MAX_QUERIES = 20


def access_grow_requests(w: World, n: int) -> None:
    """Submitted requests of the neighbouring department for `access_dataset` (the target
    department's): received by the target department, all waiting for its head."""
    from tests.matrix.access_world import request_for

    for i in range(n):
        request_for(w, w.neighbour, purpose=f"Budget request {i}")


def access_grow_grants(w: World, n: int) -> None:
    """Grants the target department holds on a dataset of its neighbour, each approved by the
    neighbour's head (some with an incident, so the page shows it)."""
    from apps.access import services as access_services
    from apps.datapool import services as pool_services
    from apps.datapool.models import Dataset
    from tests.matrix.access_world import request_for

    head = w.user(State.SAME_REGION_OTHER_DEPT, Role.HEAD)
    dataset = Dataset.objects.filter(owner=w.neighbour, title="Budget-Neighbour-Dataset").first()
    if dataset is None:
        dataset = pool_services.dataset_create(
            actor=head, owner=w.neighbour, standard=w.access_standard, title="Budget-Neighbour-Dataset"
        )
    steward = w.user(State.IN_SCOPE, Role.STEWARD)
    for i in range(n):
        req = request_for(
            w, w.department, actor=steward, dataset=dataset, incident=w.access_incident if i % 2 else None
        )
        access_services.request_decide(actor=head, request=req, decision="approve")


def access_grow_records(w: World, n: int) -> None:
    """`n` more records of `access_dataset`, loaded through the upload channel."""
    from apps.datapool.demo import csv_bytes, resident_rows
    from apps.datapool.models import Record
    from tests.matrix.access_world import owner_steward
    from tests.matrix.datapool_world import load

    seed = 3000 + Record.objects.filter(dataset=w.access_dataset).count()
    job = load(owner_steward(w), w.access_dataset, csv_bytes(resident_rows(n, seed=seed)), name=f"acc-{seed}.csv")
    assert job.rows_accepted == n, job.error_message()


def access_grow_demands(w: World, n: int) -> None:
    """Open demands of the neighbouring department, each matching (so suggesting) `access_dataset`."""
    from apps.access import services as access_services

    steward = w.user(State.SAME_REGION_OTHER_DEPT, Role.STEWARD)
    for _ in range(n):  # titles differ: the same need posted twice is one demand
        access_services.demand_post(
            actor=steward,
            department=w.neighbour,
            title=f"Budget demand {next(_access_demand_seq)}",
            standard_code=w.access_standard.code,
        )


_access_demand_seq = itertools.count()


def access_grantee(w: World):
    """A staff member of the guardian department, which holds a grant on `access_dataset`."""
    from tests.matrix.access_world import grant_for

    grant_for(w, w.guardian_department)
    return w.user(State.GUARDIAN_GRANT, Role.STAFF)


@dataclass(frozen=True)
class AccessBudget:
    name: str
    grow: Callable[[World, int], None]
    size: Callable
    user: Callable[[World], object]
    kwargs: Callable[[World], dict] | None = None


def access_owner_head(w: World):
    from tests.matrix import access_world  # noqa: F401  (registers the access_* world objects)

    assert w.access_dataset
    return w.user(State.IN_SCOPE, Role.HEAD)


ACCESS_PORTAL_BUDGETS = [
    AccessBudget("portal:data-request-list", access_grow_requests, page_count, access_owner_head),
    AccessBudget("portal:data-approval-queue", access_grow_requests, page_count, access_owner_head),
    AccessBudget("portal:data-grant-list", access_grow_grants, page_count, access_owner_head),
    AccessBudget(
        "portal:data-records",
        access_grow_records,
        lambda r: len(r.context["rows"]),
        access_grantee,
        kwargs=lambda w: {"pk": w.access_dataset.pk},
    ),
    AccessBudget(
        "portal:data-records",
        access_grow_records,
        lambda r: len(r.context["rows"]),
        access_owner_head,
        kwargs=lambda w: {"pk": w.access_dataset.pk},
    ),
    AccessBudget("portal:data-demand-list", access_grow_demands, page_count, access_owner_head),
]


@pytest.mark.parametrize(
    "budget",
    ACCESS_PORTAL_BUDGETS,
    ids=lambda b: f"{b.name}-{b.user.__name__}",
)
def test_access_portal_query_count_does_not_grow_with_the_rows(budget, world):
    client = Client()
    client.force_login(budget.user(world))
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    measure()  # the first read with rows creates the day's usage row; later reads only update it
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == LARGE - SMALL, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= ACCESS_PORTAL_MAX_QUERIES, f"{budget.name}: {len(large)} queries"


# ========================== end of the data-access portal block ==============================


# =============================================================================================
# Data-access API lists (owned by the data-access API work: requests, grants, the demand board,
# subscriptions, and records read through a grant by cursor). Self-contained: its own growth
# helpers and imports, so this block and the others can change independently. The world objects
# come from tests/matrix/access_world.py.
# =============================================================================================

# A records page also writes its ledger event and the usage row (services.read_record).
ACCESS_API_MAX_QUERIES = 20
_accapi_seq = iter(range(1, 1_000_000))


def accapi_grow_requests(w: World, n: int) -> None:
    """Submitted requests of the neighbouring department for `access_dataset` (received by the
    target department), every other one naming an incident."""
    from tests.matrix.access_world import request_for

    for i in range(n):
        request_for(w, w.neighbour, purpose=f"Api budget request {i}", incident=w.access_incident if i % 2 else None)


def accapi_grow_grants(w: World, n: int) -> None:
    """Grants the target department holds on datasets of its neighbour, approved by its head."""
    from apps.access import services as access_services
    from apps.datapool import services as pool_services
    from tests.matrix.access_world import request_for

    head = w.user(State.SAME_REGION_OTHER_DEPT, Role.HEAD)
    steward = w.user(State.IN_SCOPE, Role.STEWARD)
    for i in range(n):
        dataset = pool_services.dataset_create(
            actor=head, owner=w.neighbour, standard=w.access_standard, title=f"Api budget dataset {next(_accapi_seq)}"
        )
        req = request_for(
            w, w.department, actor=steward, dataset=dataset, incident=w.access_incident if i % 2 else None
        )
        access_services.request_decide(actor=head, request=req, decision="approve")


def accapi_grow_demands(w: World, n: int) -> None:
    """Open demands of the neighbouring department, each suggesting `access_dataset` (titles
    differ: the same need posted twice is one demand)."""
    from apps.access import services as access_services

    steward = w.user(State.SAME_REGION_OTHER_DEPT, Role.STEWARD)
    for _ in range(n):
        access_services.demand_post(
            actor=steward,
            department=w.neighbour,
            title=f"Api budget demand {next(_accapi_seq)}",
            standard_code=w.access_standard.code,
            tags=[],
        )


def accapi_grow_subscriptions(w: World, n: int) -> None:
    """The target department follows `n` more of its own datasets."""
    from apps.access import services as access_services
    from apps.datapool import services as pool_services

    head = w.user(State.IN_SCOPE, Role.HEAD)
    for _ in range(n):
        dataset = pool_services.dataset_create(
            actor=head, owner=w.department, standard=w.access_standard, title=f"Api followed {next(_accapi_seq)}"
        )
        access_services.subscribe(actor=head, department=w.department, dataset=dataset)


def accapi_grow_records(w: World, n: int) -> None:
    """`n` more records of `access_dataset`, loaded through the upload channel."""
    from apps.datapool.demo import csv_bytes, resident_rows
    from tests.matrix.access_world import owner_steward
    from tests.matrix.datapool_world import load

    seed = 5000 + next(_accapi_seq)
    job = load(owner_steward(w), w.access_dataset, csv_bytes(resident_rows(n, seed=seed)), name=f"api-{seed}.csv")
    assert job.rows_accepted == n, job.error_message()


def accapi_owner_head(w: World):
    from tests.matrix import access_world  # noqa: F401  (registers the access_* world objects)

    assert w.access_dataset
    return w.user(State.IN_SCOPE, Role.HEAD)


def accapi_grantee(w: World):
    """A staff member of the guardian department, which holds a grant on `access_dataset`."""
    from tests.matrix.access_world import grant_for

    accapi_owner_head(w)
    grant_for(w, w.guardian_department)
    return w.user(State.GUARDIAN_GRANT, Role.STAFF)


def accapi_rows(response) -> int:
    return len(response.json()["results"])


@dataclass(frozen=True)
class AccessApiBudget:
    name: str
    grow: Callable[[World, int], None]
    size: Callable
    user: Callable[[World], object]
    kwargs: Callable[[World], dict] | None = None


def accapi_on_dataset(w: World) -> dict:
    return {"pk": w.access_dataset.pk}


ACCESS_API_BUDGETS = [
    AccessApiBudget("api:data-request-list", accapi_grow_requests, api_count, accapi_owner_head),
    AccessApiBudget("api:data-grant-list", accapi_grow_grants, api_count, accapi_owner_head),
    AccessApiBudget("api:data-demand-list", accapi_grow_demands, api_count, accapi_owner_head),
    AccessApiBudget("api:subscription-list", accapi_grow_subscriptions, api_count, accapi_owner_head),
    AccessApiBudget(
        "api:dataset-granted-records", accapi_grow_records, accapi_rows, accapi_grantee, kwargs=accapi_on_dataset
    ),
    AccessApiBudget(
        "api:dataset-granted-records", accapi_grow_records, accapi_rows, accapi_owner_head, kwargs=accapi_on_dataset
    ),
]


@pytest.mark.parametrize("budget", ACCESS_API_BUDGETS, ids=lambda b: f"{b.name}-{b.user.__name__}")
def test_access_api_list_query_count_does_not_grow_with_the_rows(budget, world):
    client = APIClient()
    client.force_login(budget.user(world))
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page_size": 100})
        assert response.status_code == 200, response.content[:300]
        return budget.size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    measure()  # the first read with rows creates the day's usage row; later reads only update it
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == LARGE - SMALL, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= ACCESS_API_MAX_QUERIES, f"{budget.name}: {len(large)} queries"


# ============================ end of the data-access API block ===============================
