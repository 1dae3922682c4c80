"""The role dashboard: the leading group's situation picture (map, counts by severity, task states
per department, latest figures, consolidated report, data access, alerts), a department's own
work, the live fragment htmx polls, and that nothing leaks across provinces.

The scene uses real division codes (Jiangsu 320000 with Nanjing 320100 and Gulou 320106; Anhui
340000 with Ma'anshan 340500), so the shipped outlines draw a real map. Everything is built
through the services, except the finished consolidated report (its generation job has its own
tests; the dashboard only links it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.access import services as access_services
from apps.core.permissions import Role
from apps.datapool import services as pool_services
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, ReportKind, Severity, Subtype
from apps.incidents.models import Incident
from apps.monitoring import services as monitoring_services
from apps.monitoring.choices import Aggregate, Comparator, RuleKind, Window
from apps.monitoring.models import Alert
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType as T
from apps.organizations.choices import LeadingGroupKind, RegionLevel
from apps.reporting.choices import JobStatus
from apps.reporting.models import Report
from apps.tasking import services as task_services
from apps.tasking.models import Task
from tests import factories as f
from tests.datapool.world import load_bytes

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
FLOOD = "秦淮河南京段洪水"
FIRE = "鼓楼区化工仓库火灾"
SPILL = "马鞍山长江段油污泄漏"
DYKE_TASK = "加固秦淮河堤防"
CLINIC_TASK = "设置临时医疗点"
ANHUI_TASK = "布设围油栏"
RULE = "秦淮河水位超警戒"
FIRE_DATASET = "鼓楼区重点关爱人员台账"
GAUGES_HEADER = "测站,行政区划代码,水位(米),警戒水位(米),观测时间\n"


@dataclass
class Scene:
    nanjing: object
    gulou: object
    office: object
    fire_nj: object
    health_nj: object
    em_nj: object
    em_mas: object
    group: object
    office_head: object  # the leading group's information office: sees the group's whole picture
    fire_staff: object  # a Nanjing department: its inbox
    mas_staff: object  # a department of another province
    flood: Incident
    fire: Incident
    spill: Incident
    dyke: Task
    alert: Alert
    report: Report
    gauges: object  # the water authority's dataset, which the fire brigade holds a grant on
    fire_dataset: object  # a dataset the fire brigade owns


def done_report(incident, user) -> Report:
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


def report(actor, department, title, *, severity, latitude=None, longitude=None, regions=None):
    return incident_services.incident_report(
        actor=actor,
        department=department,
        title=title,
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=severity,
        place="江堤",
        first_seen_at=timezone.now() - timedelta(hours=2),
        latitude=latitude,
        longitude=longitude,
        regions=regions,
    )


def scene() -> Scene:
    admin = f.admin_user()
    jiangsu = f.region(name="江苏省", code="320000", level=RegionLevel.PROVINCE)
    nanjing = f.region(parent=jiangsu, name="南京市", code="320100", level=RegionLevel.CITY)
    gulou = f.region(parent=nanjing, name="鼓楼区", code="320106", level=RegionLevel.COUNTY)
    anhui = f.region(name="安徽省", code="340000", level=RegionLevel.PROVINCE)
    maanshan = f.region(parent=anhui, name="马鞍山市", code="340500", level=RegionLevel.CITY)
    d = f.department
    office = d(region=jiangsu, type=T.RESEARCH, name="江苏省应急信息办")
    center = d(region=nanjing, type=T.BIG_DATA_COMPANY, name="南京市大数据管理中心")
    em_nj = d(region=nanjing, type=T.EMERGENCY, name="南京市应急管理局")
    fire_nj = d(region=nanjing, type=T.FIRE, name="南京市消防救援支队")
    health_nj = d(region=nanjing, type=T.HEALTH, name="南京市卫生健康委员会")
    water_nj = d(region=nanjing, type=T.ENVIRONMENT, name="南京市水务局")
    em_mas = d(region=maanshan, type=T.EMERGENCY, name="马鞍山市应急管理局")
    fire_mas = d(region=maanshan, type=T.FIRE, name="马鞍山市消防救援支队")
    group = org_services.leading_group_create(
        actor=admin,
        name="南京防汛信息化应急领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[nanjing],
        information_office=office,
        big_data_center=center,
        members=[fire_nj],
    )
    office_head = f.member(office, Role.HEAD, display_name="信息办主任")
    em_staff = f.member(em_nj, Role.STAFF)
    fire_staff = f.member(fire_nj, Role.STAFF, display_name="消防值班员")
    mas_staff = f.member(em_mas, Role.STAFF, display_name="马鞍山值班员")
    mas_head = f.member(em_mas, Role.HEAD)

    flood = report(
        em_staff, em_nj, FLOOD, severity=Severity.II, latitude=Decimal("32.0400"), longitude=Decimal("118.7800")
    )
    fire = report(em_staff, em_nj, FIRE, severity=Severity.I, regions=[gulou])  # no coordinates: placed by region
    spill = report(mas_staff, em_mas, SPILL, severity=Severity.III)
    flood = incident_services.incident_assign_leading_group(actor=office_head, incident=flood, group=group)

    # the group's tasks on the flood: one overdue (issued three hours ago, due an hour ago)
    now = timezone.now()
    [dyke] = task_services.task_dispatch(
        actor=office_head,
        issuer_department=office,
        issuer_group=group,
        departments=[fire_nj],
        title=DYKE_TASK,
        deadline=now - timedelta(hours=1),
        now=now - timedelta(hours=3),
        incident=flood,
    )
    task_services.task_dispatch(
        actor=office_head,
        issuer_department=office,
        issuer_group=group,
        departments=[health_nj],
        title=CLINIC_TASK,
        deadline=now + timedelta(hours=4),
        incident=flood,
    )
    task_services.task_dispatch(
        actor=mas_head,
        issuer_department=em_mas,
        departments=[fire_mas, em_mas],
        title=ANHUI_TASK,
        deadline=now + timedelta(hours=2),
        incident=spill,
    )

    # situation reports: only each department's latest counts (deaths 1 → 2)
    submit = incident_services.report_submit
    submit(actor=em_staff, incident=flood, department=em_nj, kind=ReportKind.INITIAL, text="初报", deaths=1, injured=2)
    submit(
        actor=em_staff,
        incident=flood,
        department=em_nj,
        kind=ReportKind.FOLLOW_UP,
        text="续报",
        deaths=2,
        injured=4,
        affected_population=5000,
    )
    submit(actor=fire_staff, incident=flood, department=fire_nj, kind=ReportKind.INITIAL, text="转移", evacuated=1200)
    consolidated = done_report(flood, office_head)

    # an early-warning alert on Gulou, raised to the information office
    water_steward = f.member(water_nj, Role.STEWARD)
    gauges = pool_services.dataset_create(
        actor=water_steward, owner=water_nj, standard=standards_ensure()["river-level"], title="秦淮河水位"
    )
    body = GAUGES_HEADER + "东山站,320106,9.2,8.0,2026-07-01 08:00\n"
    job = load_bytes(water_steward, gauges, body.encode("utf-8"))
    assert job.rows_accepted == 1
    rule = monitoring_services.rule_create(
        actor=water_steward,
        department=water_nj,
        dataset=gauges,
        name=RULE,
        kind=RuleKind.THRESHOLD,
        field="level_m",
        aggregate=Aggregate.MAX,
        comparator=Comparator.GE,
        threshold=8.0,
        window=Window.DAY,
        level="red",
        notify_departments=[office],
    )
    monitoring_services.rule_evaluate(rule_id=rule.pk)

    # the fire brigade's own dataset, and its grant on the water authority's gauges
    fire_steward = f.member(fire_nj, Role.STEWARD)
    fire_dataset = pool_services.dataset_create(
        actor=fire_steward, owner=fire_nj, standard=standards_ensure()["resident"], title=FIRE_DATASET
    )
    job = load_bytes(fire_steward, fire_dataset, csv_bytes(resident_rows(12)))
    assert job.rows_accepted == 12
    request = access_services.request_create(
        actor=fire_steward,
        department=fire_nj,
        dataset=gauges,
        fields=["station", "place_code", "level_m"],
        purpose="堤防巡查力量调度",
        legal_basis="《中华人民共和国防洪法》",
        duration_hours=72,
        incident=flood,
    )
    access_services.request_decide(actor=f.member(water_nj, Role.HEAD), request=request, decision="approve")
    return Scene(
        nanjing=nanjing,
        gulou=gulou,
        office=office,
        fire_nj=fire_nj,
        health_nj=health_nj,
        em_nj=em_nj,
        em_mas=em_mas,
        group=group,
        office_head=office_head,
        fire_staff=fire_staff,
        mas_staff=mas_staff,
        flood=flood,
        fire=fire,
        spill=spill,
        dyke=dyke,
        alert=Alert.objects.get(rule=rule),
        report=consolidated,
        gauges=gauges,
        fire_dataset=fire_dataset,
    )


@pytest.fixture
def s() -> Scene:
    return scene()


def get(user, name="portal:dashboard", **headers):
    client = Client()
    client.force_login(user)
    return client.get(reverse(name), **(EN | headers))


def svg_of(page: str) -> str:
    match = re.search(r'<svg class="region-map-svg".*?</svg>', page, re.S)
    assert match, "no region map on the page"
    return match.group(0)


def test_the_leading_group_sees_the_map_with_its_incidents(s):
    page = get(s.office_head).content.decode()

    svg = svg_of(page)
    assert 'data-code="320100"' in svg and 'data-code="320000"' in svg  # Nanjing inside Jiangsu
    assert f'<a class="region-map-marker severity-2" href="/incidents/{s.flood.pk}/">' in svg
    assert f'<a class="region-map-marker severity-1" href="/incidents/{s.fire.pk}/">' in svg
    assert "340500" not in svg and SPILL not in page  # Anhui is not the group's
    # the same incidents as text beside the map, most severe first
    listing = re.search(r'<ol class="dash-list" id="dash-incident-list">(.*?)</ol>', page, re.S).group(1)
    assert listing.index(FIRE) < listing.index(FLOOD)
    # the group's office reads the situation first
    assert page.index('id="dash-command-h"') < page.index('id="dash-department-h"')


def test_the_leading_group_sees_counts_tasks_figures_and_alerts(s):
    response = get(s.office_head)
    page = response.content.decode()
    command = response.context["command"]

    # counts by severity, as tiles and as the doughnut's data
    assert [(c.severity, c.count) for c in command.severities] == [(1, 1), (2, 1), (3, 0), (4, 0)]
    assert re.search(r'href="/incidents/\?severity=1"><span class="n">1</span>', page)
    chart = json.loads(
        re.search(r'<script id="dash-severity-data" type="application/json">(.*?)</script>', page).group(1)
    )
    assert chart["data"] == [1, 1, 0, 0] and chart["colours"] == ["#c0392b", "#e67e22", "#f1c40f", "#2e86c1"]

    # task states per accountable department, with the overdue one
    rows = {d.name: (d.open, d.done, d.overdue, d.total) for d in command.departments}
    assert rows == {s.fire_nj.name: (1, 0, 1, 1), s.health_nj.name: (1, 0, 0, 1)}
    assert command.tasks_overdue == 1 and '<span class="n" id="dash-overdue-tasks">1</span>' in page
    tasks = json.loads(re.search(r'<script id="dash-tasks-data" type="application/json">(.*?)</script>', page).group(1))
    assert tasks["labels"][0] == s.fire_nj.name and tasks["overdue"]["data"] == [1, 0]

    # the latest figures: each department's latest report, summed; the consolidated report linked
    figures = re.search(r'<table class="list dash-table dash-figures" id="dash-figures">(.*?)</table>', page, re.S)
    row = re.search(rf"<tr>\s*<td><a href=\"/incidents/{s.flood.pk}/\">.*?</tr>", figures.group(1), re.S).group(0)
    assert re.findall(r'<td class="num"[^>]*>(\d+)</td>', row) == ["2", "4", "0", "5000", "1200"]
    assert f'href="/reports/{s.report.pk}/"' in row

    # alerts, linked to their page
    assert command.alerts_open == 1
    assert f'<a href="/monitoring/alerts/{s.alert.pk}/">{RULE}</a>' in page


def test_another_province_sees_none_of_jiangsu(s):
    for name in ("portal:dashboard", "portal:dashboard-live"):
        page = get(s.mas_staff, name).content.decode()
        for secret in (FLOOD, FIRE, DYKE_TASK, CLINIC_TASK, RULE, s.fire_nj.name, s.health_nj.name, s.group.name):
            assert secret not in page, f"{name} leaks {secret!r}"
        # its own province's incident and task are there, on a map of Anhui only
        assert SPILL in page and ANHUI_TASK in page
        svg = svg_of(page)
        assert 'data-code="340500"' in svg and "320100" not in svg
        # outside any leading group: its own work comes before the situation overview
        assert page.index('id="dash-department-h"') < page.index('id="dash-command-h"')


def test_a_department_sees_its_inbox_with_the_overdue_task(s):
    response = get(s.fire_staff)
    page = response.content.decode()
    department = response.context["department"]
    assert [t.title for t in department.inbox] == [DYKE_TASK]
    assert department.inbox_overdue == 1 and department.inbox_open == 1
    inbox = re.search(r'<ul class="dash-list" id="dash-inbox-list">(.*?)</ul>', page, re.S).group(1)
    assert '<li class="overdue">' in inbox and f'href="/tasks/{s.dyke.pk}/"' in inbox
    # a member of the group (not its office) sees the group's incidents, but only its own tasks
    assert FLOOD in page and CLINIC_TASK not in page


def test_a_department_sees_its_datasets_and_its_grants(s):
    response = get(s.fire_staff)
    page = response.content.decode()
    department = response.context["department"]
    assert [d.title for d in department.datasets] == [FIRE_DATASET] and department.datasets_owned == 1
    assets = re.search(r'<table class="list dash-table assets" id="dash-assets">(.*?)</table>', page, re.S).group(1)
    assert f'href="/data/assets/{s.fire_dataset.pk}/"' in assets and "Fresh" in assets
    assert re.search(r'<span class="quality q-\w+"', assets), "no quality score"
    assert [g.dataset.title for g in department.grants] == [s.gauges.title] and department.grants_held == 1
    grants = re.search(r'<ul class="dash-list" id="dash-grant-list">(.*?)</ul>', page, re.S).group(1)
    assert s.gauges.title in grants and "Time left" in grants
    # the owner sees the grant it gave, not as one it holds
    owner = get(f.member(s.gauges.owner, Role.STAFF)).context["department"]
    assert (owner.grants_given, owner.grants_held, owner.grants) == (1, 0, [])


def test_the_page_loads_its_scripts_locally_and_runs_no_inline_script(s):
    page = get(s.office_head).content.decode()
    for src in (
        "/static/vendor/htmx/htmx.min.js",
        "/static/vendor/chartjs/chart.umd.min.js",
        "/static/portal/dashboard.js",
    ):
        assert f'<script src="{src}" defer></script>' in page
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert inline and all('type="application/json"' in attrs for attrs in inline)
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page


def test_the_live_fragment_has_the_same_blocks_and_polls(s, settings):
    settings.DASHBOARD_POLL_SECONDS = 7
    response = get(s.office_head, "portal:dashboard-live")
    page = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert page.lstrip().startswith('<div id="dashboard-live"') and "<html" not in page
    assert 'hx-get="/dashboard/live/" hx-trigger="every 7s" hx-swap="outerHTML"' in page
    assert f'href="/incidents/{s.fire.pk}/"' in svg_of(page)
    assert 'id="dash-severity-data"' in page and 'id="dash-tasks-data"' in page and RULE in page
    full = get(s.office_head).content.decode()
    assert 'hx-trigger="every 7s"' in full and 'id="dash-command-h"' in full and 'id="dash-command-h"' in page


def test_the_live_fragment_follows_new_data(s):
    before = get(s.office_head, "portal:dashboard-live").context["command"].open_incidents
    report(s.fire_staff, s.fire_nj, "玄武湖堤段渗水", severity=Severity.IV)
    page = get(s.office_head, "portal:dashboard-live").content.decode()
    assert "玄武湖堤段渗水" in page and f'<span class="n" id="dash-open-incidents">{before + 1}</span>' in page


def test_the_live_fragment_needs_a_login():
    url = reverse("portal:dashboard-live")
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))
    # an htmx poll after the session ended: the whole page goes to the login page
    response = Client().get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{reverse('portal:login')}?next=/"


def test_a_user_without_a_seat_gets_no_blocks():
    user = f.UserFactory()
    response = get(user)
    assert response.status_code == 200
    assert response.context["command"] is None and response.context["department"] is None
    assert 'id="dashboard-live"' in response.content.decode()
