"""Query budgets: every list costs the same number of queries for 3 rows as for 30.

A constant count is what matters (no N+1 on a page of 50); the upper bound is a sanity check.
Each case grows the list by 3, measures, grows it by 27 more, measures again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

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
from apps.incidents.choices import Category, ReportKind, Severity, Subtype, WarningLevel
from apps.ledger.services import audit_record_standalone
from apps.organizations import services
from apps.organizations.choices import AgreementStatus, LeadingGroupKind, RegionLevel
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


def api_count(response) -> int:
    return response.json()["count"]


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

# The detail page reads the incident, its timeline, reports, clocks, plans and warnings, and the
# caller's departments and office groups for its forms: more queries than a list, still constant.
INCIDENT_DETAIL_MAX_QUERIES = 20


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
