"""Query budget of the role dashboard: the page and its live fragment cost the same number of
queries for 3 of everything as for 9 (incidents with tasks, situation reports and consolidated
reports, alerts, inbox tasks, datasets, grants), and stay under a ceiling.

The caller is the target department's head (an emergency-management department of city A1): it
sees the incidents its department reports, commands them, receives their tasks and owns datasets,
so every block and every list of the dashboard is on the page. Owned by the dashboard work; the
growth report comes from tests/matrix/test_query_counts.py.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.access import services as access_services
from apps.core.permissions import Role
from apps.datapool import services as pool_services
from apps.datapool.demo import standards_ensure
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, ReportKind, Subtype
from apps.monitoring import services as monitoring_services
from apps.monitoring.choices import Aggregate, Comparator, RuleKind, Window
from apps.reporting.choices import JobStatus
from apps.reporting.models import Report
from apps.tasking import services as task_services
from tests import factories as f
from tests.matrix.datapool_world import load
from tests.matrix.harness import State, World
from tests.matrix.test_query_counts import _growth

pytestmark = pytest.mark.django_db

SMALL, LARGE = 3, 9  # ×3
# session, user, principal (4), seats, leading groups, the counters (one round trip), then one
# query per list: incidents (figures and consolidated reports as subqueries), task states per
# department, alerts, inbox, datasets, grants. 15 today.
DASHBOARD_MAX_QUERIES = 16
_seq = itertools.count(1)
HEADER = "测站,行政区划代码,水位(米),警戒水位(米),观测时间\n"


class Scene:
    """What the target department's head sees grow; built through the services."""

    def __init__(self, w: World):
        self.w = w
        self.head = w.user(State.IN_SCOPE, Role.HEAD)
        self.steward = f.member(w.department, Role.STEWARD, display_name="Dash-Steward")
        self.neighbour_head = w.user(State.SAME_REGION_OTHER_DEPT, Role.HEAD)
        self.neighbour_steward = f.member(w.neighbour, Role.STEWARD, display_name="Dash-Neighbour-Steward")
        standards = standards_ensure()
        self.resident = standards["resident"]
        self.gauges = pool_services.dataset_create(
            actor=self.steward, owner=w.department, standard=standards["river-level"], title="Dash-Gauges"
        )
        self.rule = None
        self.day = timezone.localdate() - timedelta(days=40)

    def grow(self, n: int) -> None:
        w = self.w
        now = timezone.now()
        for i in range(n):
            k = next(_seq)
            incident = incident_services.incident_report(
                actor=self.head,
                department=w.department,
                title=f"Dash incident {k}",
                category=Category.NATURAL_DISASTER,
                subtype=Subtype.FLOOD,
                severity=1 + k % 4,
                place="Alpha",
                first_seen_at=now - timedelta(hours=1),
                regions=[w.region],
            )
            for department in (w.department, w.department):  # two reports: only the latest counts
                incident_services.report_submit(
                    actor=self.head,
                    incident=incident,
                    department=department,
                    kind=ReportKind.FOLLOW_UP,
                    text=f"Report {k}",
                    deaths=k,
                    affected_population=10 * k,
                )
            done_report(incident, self.head)
            # one task for the department (its inbox), one for the neighbour; every other one overdue
            task_services.task_dispatch(
                actor=self.head,
                issuer_department=w.department,
                departments=[w.department, w.neighbour],
                title=f"Dash task {k}",
                deadline=now + timedelta(hours=-1 if i % 2 else 2),
                now=now - timedelta(hours=3),
                incident=incident,
            )
            pool_services.dataset_create(
                actor=self.steward, owner=w.department, standard=self.resident, title=f"Dash dataset {k}"
            )
            theirs = pool_services.dataset_create(
                actor=self.neighbour_steward, owner=w.neighbour, standard=self.resident, title=f"Dash theirs {k}"
            )
            request = access_services.request_create(
                actor=self.steward,
                department=w.department,
                dataset=theirs,
                fields=["name", "age"],
                purpose="Dash purpose",
                legal_basis="Dash basis",
                duration_hours=24 + k,
            )
            access_services.request_decide(actor=self.neighbour_head, request=request, decision="approve")
        self._alerts(n)

    def _alerts(self, n: int) -> None:
        """One alert per new day: a gauge above the threshold in the target department's city."""
        rows = []
        for _ in range(n):
            self.day += timedelta(days=1)
            rows.append(f"S1,{self.w.region.code},9.5,8.0,{self.day.isoformat()} 08:00\n")
        job = load(self.steward, self.gauges, (HEADER + "".join(rows)).encode("utf-8"), name=f"g{next(_seq)}.csv")
        assert job.rows_accepted == n, job.error_message()
        if self.rule is None:
            self.rule = monitoring_services.rule_create(
                actor=self.steward,
                department=self.w.department,
                dataset=self.gauges,
                name="Dash gauge rule",
                kind=RuleKind.THRESHOLD,
                field="level_m",
                aggregate=Aggregate.MAX,
                comparator=Comparator.GE,
                threshold=8.0,
                window=Window.DAY,
                level="red",
            )
        evaluation = monitoring_services.rule_evaluate(rule_id=self.rule.pk)
        assert evaluation.alerts == n, (evaluation.outcome, evaluation.message)


def done_report(incident, user) -> Report:
    """A finished consolidated report, as the generation job leaves it (the dashboard only links
    it; the reporting services are exercised in tests/reporting)."""
    now = timezone.now()
    return Report.objects.create(
        incident=incident,
        number=Report.objects.filter(incident=incident).count() + 1,
        status=JobStatus.DONE,
        progress=100,
        requested_by=user,
        started_at=now,
        finished_at=now,
        content={"figures": {}},
    )


def shown(response) -> int:
    """Rows of every list on the page (all must grow, or the budget proves nothing)."""
    command, department = response.context["command"], response.context["department"]
    return (
        len(command.incidents)
        + len(command.figure_rows)
        + sum(d.total for d in command.departments)
        + len(command.alerts)
        + len(department.inbox)
        + len(department.datasets)
        + len(department.grants)
    )


# incidents, figure rows, 2 tasks, alerts, inbox task, own dataset, grant (+ the gauges dataset once)
ROWS_PER_UNIT = 8


@pytest.mark.parametrize("name", ["portal:dashboard", "portal:dashboard-live"])
def test_dashboard_query_count_does_not_grow_with_the_data(name, world):
    scene = Scene(world)
    client = Client()
    client.force_login(scene.head)
    url = reverse(name)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return shown(response), queries

    scene.grow(1)
    measure()  # warm caches (content types, permissions) outside the measurement
    scene.grow(SMALL - 1)
    small_size, small = measure()
    scene.grow(LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == (LARGE - SMALL) * ROWS_PER_UNIT, "the grown rows are not on the page"
    assert len(large) == len(small), (
        f"{name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= DASHBOARD_MAX_QUERIES, f"{name}: {len(large)} queries"
    print(f"{name}: {len(large)} queries")  # noqa: T201 - the measured figure, shown with -s


def test_an_empty_dashboard_queries_no_list(world):
    """A head with nothing to show: the counters only (lists whose count is zero are not read)."""
    head = world.user(State.IN_SCOPE, Role.HEAD)
    client = Client()
    client.force_login(head)
    client.get(reverse("portal:dashboard-live"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("portal:dashboard-live"))
    assert response.status_code == 200
    assert response.context["command"] is None and response.context["department"].inbox == []
    assert len(queries) <= 7, "\n".join(q["sql"][:200] for q in queries.captured_queries)
