"""Incidents API wiring: one service per write, the error format, ignored fields, lateness,
idempotency, the spreadsheet-safe timeline download. (Scope per route and state: the matrix.)"""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.csv import csv_cell
from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import (
    Category,
    IncidentStatus,
    ReportKind,
    Severity,
    Subtype,
    TimelineKind,
    WarningLevel,
    WarningStatus,
)
from apps.incidents.models import Incident, PlanTaskTemplate, ResponsePlan, SituationReport, Warning
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType, LeadingGroupKind
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def province(admin):
    return f.region(name="江苏省")


@pytest.fixture
def city(province):
    return f.region(parent=province, name="南京市")


@pytest.fixture
def dept(city):
    return f.department(region=city, name="南京市应急管理局")


@pytest.fixture
def staff(dept):
    return f.member(dept, Role.STAFF)


@pytest.fixture
def head(dept):
    return f.member(dept, Role.HEAD)


def report(actor, dept, **kwargs):
    values = {
        "title": "长江堤防管涌",
        "category": Category.NATURAL_DISASTER,
        "subtype": Subtype.FLOOD,
        "severity": Severity.III,
        "place": "浦口区江堤",
        "first_seen_at": timezone.now() - timedelta(minutes=20),
    } | kwargs
    return services.incident_report(actor=actor, department=dept, **values)


def payload(dept, **kwargs):
    return {
        "department": dept.pk,
        "title": "化工园区泄漏",
        "description": "储罐阀门泄漏",
        "category": Category.ACCIDENT,
        "subtype": Subtype.CHEMICAL_SPILL,
        "severity": Severity.II,
        "place": "江北新区化工园",
        "latitude": "32.150000",
        "longitude": "118.700000",
        "first_seen_at": (timezone.now() - timedelta(minutes=15)).isoformat(),
        "is_drill": False,
    } | kwargs


def assert_error(response, status: int, code: str, fields=()):
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, error
    assert error["message"] and error["request_id"] == response["X-Request-ID"]
    for name in fields:
        assert name in error["fields"], error
    return error


# --- reporting --------------------------------------------------------------------------------


def test_reporting_an_incident_answers_201_and_records_a_ledger_event(api_client, dept, staff, city):
    county = f.region(parent=city, name="浦口区")
    api_client.force_authenticate(staff)
    response = api_client.post("/api/v1/incidents/", payload(dept, regions=[county.code, city.code]), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    incident = Incident.objects.get(pk=body["id"])
    assert body["status"] == IncidentStatus.REPORTED and body["region"] == city.code
    assert sorted(body["regions"]) == sorted([county.code, city.code])
    assert body["reporting_department"] == {"id": dept.pk, "name": dept.name, "type": DepartmentType.EMERGENCY}
    assert body["leading_group"] is None and body["latitude"] == "32.150000"
    assert body["counts"] == {"reports": 0, "warnings": 0, "activations": 0, "timeline_entries": 1}
    event = AuditEvent.objects.get(action="incident.report", target_id=str(incident.pk))
    assert event.actor_id == staff.pk and event.target_type == "incidents.incident"


def test_the_reporting_department_defaults_the_affected_regions(api_client, dept, staff, city):
    api_client.force_authenticate(staff)
    response = api_client.post("/api/v1/incidents/", payload(dept), format="json")
    assert response.status_code == 201
    assert response.json()["regions"] == [city.code]


def test_a_subtype_outside_its_category_is_a_400_naming_the_field(api_client, dept, staff):
    api_client.force_authenticate(staff)
    response = api_client.post(
        "/api/v1/incidents/", payload(dept, category=Category.ACCIDENT, subtype=Subtype.EARTHQUAKE), format="json"
    )
    assert_error(response, 400, "invalid", fields=["subtype"])
    assert not Incident.objects.exists()


def test_invalid_input_lists_every_bad_field(api_client, dept, staff):
    api_client.force_authenticate(staff)
    response = api_client.post(
        "/api/v1/incidents/",
        payload(dept, severity=9, latitude="91", category="weather", title=""),
        format="json",
    )
    error = assert_error(response, 400, "invalid", fields=["severity", "latitude", "category", "title"])
    assert "subtype" not in error["fields"]


def test_an_unknown_or_unseen_affected_region_is_a_400_and_a_probe_is_recorded(api_client, dept, staff):
    elsewhere = f.region(name="浙江省")
    api_client.force_authenticate(staff)
    unseen = api_client.post("/api/v1/incidents/", payload(dept, regions=[elsewhere.code]), format="json")
    missing = api_client.post("/api/v1/incidents/", payload(dept, regions=["999999"]), format="json")
    assert_error(unseen, 400, "invalid", fields=["regions"])
    assert_error(missing, 400, "invalid", fields=["regions"])
    # an unseen region reads exactly like a nonexistent one
    [unseen_message] = unseen.json()["error"]["fields"]["regions"]
    [missing_message] = missing.json()["error"]["fields"]["regions"]
    assert unseen_message.replace(elsewhere.code, "999999") == missing_message
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(elsewhere.pk)).exists()
    assert not Incident.objects.exists()


def test_reporting_for_a_department_out_of_scope_is_a_recorded_404(api_client, staff):
    other = f.department(region=f.region(name="浙江省"))
    api_client.force_authenticate(staff)
    response = api_client.post("/api/v1/incidents/", payload(other), format="json")
    assert_error(response, 404, "not_found")
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(other.pk)).exists()
    assert not Incident.objects.exists()


def test_reporting_for_a_visible_department_that_is_not_ones_own_is_a_403(api_client, dept, city):
    neighbour = f.member(f.department(region=city, name="南京市消防救援支队"), Role.HEAD)
    api_client.force_authenticate(neighbour)
    response = api_client.post("/api/v1/incidents/", payload(dept), format="json")
    assert_error(response, 403, "permission_denied")
    assert not Incident.objects.exists()


def test_fields_outside_the_writable_set_are_ignored_on_create(api_client, dept, staff, admin):
    other_region, other_user = f.region(name="浙江省"), f.UserFactory()
    api_client.force_authenticate(staff)
    response = api_client.post(
        "/api/v1/incidents/",
        payload(
            dept,
            status=IncidentStatus.CLOSED,
            region=other_region.pk,
            created_by=other_user.pk,
            report_count=99,
            reported_at="2000-01-01T00:00:00Z",
            closed_at="2000-01-01T00:00:00Z",
            leading_group=1,
            id=424242,
        ),
        format="json",
    )
    assert response.status_code == 201
    incident = Incident.objects.get()
    assert incident.pk != 424242
    assert (incident.status, incident.region_id, incident.created_by_id, incident.report_count) == (
        IncidentStatus.REPORTED,
        dept.region_id,
        staff.pk,
        0,
    )
    assert incident.closed_at is None and incident.leading_group_id is None
    assert incident.reported_at.year == timezone.now().year


# --- list, detail, filters --------------------------------------------------------------------


def test_the_list_is_newest_first_and_filters_with_the_shared_filterset(api_client, dept, staff):
    old = report(staff, dept, title="旧事件", first_seen_at=timezone.now() - timedelta(days=2))
    new = report(staff, dept, title="新事件", severity=Severity.IV)
    drill = report(staff, dept, title="演练", is_drill=True, first_seen_at=timezone.now() - timedelta(days=1))
    api_client.force_authenticate(staff)
    rows = api_client.get("/api/v1/incidents/").json()["results"]
    assert [r["id"] for r in rows] == [new.pk, drill.pk, old.pk]
    assert [r["id"] for r in api_client.get("/api/v1/incidents/?severity=4").json()["results"]] == [new.pk]
    assert [r["id"] for r in api_client.get("/api/v1/incidents/?is_drill=true").json()["results"]] == [drill.pk]
    assert [r["id"] for r in api_client.get("/api/v1/incidents/?q=旧").json()["results"]] == [old.pk]
    assert_error(api_client.get("/api/v1/incidents/?status=nonsense"), 400, "invalid", fields=["status"])


def test_detail_holds_regions_departments_and_counts(api_client, dept, staff, city):
    incident = report(staff, dept)
    services.report_submit(actor=staff, incident=incident, department=dept, kind=ReportKind.INITIAL, text="初报")
    services.warning_draft(
        actor=staff,
        issuer=dept,
        region=city,
        level=WarningLevel.BLUE,
        title="蓝色预警",
        area="江堤",
        starts_at=timezone.now(),
        expected_hours=6,
        measures="远离江堤",
        incident=incident,
    )
    api_client.force_authenticate(staff)
    body = api_client.get(f"/api/v1/incidents/{incident.pk}/").json()
    assert body["regions"] == [city.code] and body["description"] == ""
    assert body["counts"] == {"reports": 1, "warnings": 1, "activations": 0, "timeline_entries": 3}
    assert body["report_count"] == 1


# --- command ----------------------------------------------------------------------------------


@pytest.fixture
def plan():
    plan = ResponsePlan.objects.create(
        name="防汛三级应急预案",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        lead_department_type=DepartmentType.EMERGENCY,
    )
    PlanTaskTemplate.objects.create(
        plan=plan, title="转移群众", target_department_type=DepartmentType.EMERGENCY, deadline_minutes=60
    )
    return plan


def test_verify_activates_the_plan_and_the_activation_lists_its_dispatches(api_client, dept, staff, head, plan):
    incident = report(staff, dept)
    api_client.force_authenticate(head)
    response = api_client.post(f"/api/v1/incidents/{incident.pk}/verify/", {"status": "closed"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == IncidentStatus.VERIFIED and response.json()["counts"]["activations"] == 1
    rows = api_client.get(f"/api/v1/incidents/{incident.pk}/activations/").json()["results"]
    assert [r["plan"]["name"] for r in rows] == [plan.name]
    assert [(d["title"], d["department"]["id"]) for d in rows[0]["dispatches"]] == [("转移群众", dept.pk)]
    # the plan itself is published to every seat
    assert api_client.get(f"/api/v1/response-plans/{plan.pk}/").json()["task_templates"][0]["title"] == "转移群众"


def test_staff_cannot_command(api_client, dept, staff):
    incident = report(staff, dept)
    api_client.force_authenticate(staff)
    assert_error(api_client.post(f"/api/v1/incidents/{incident.pk}/verify/"), 403, "permission_denied")
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.REPORTED


def test_status_severity_and_their_errors(api_client, dept, staff, head):
    incident = report(staff, dept)
    api_client.force_authenticate(head)
    url = f"/api/v1/incidents/{incident.pk}"
    bad = api_client.post(f"{url}/status/", {"status": IncidentStatus.RECOVERING}, format="json")
    assert_error(bad, 400, "invalid_transition", fields=["status"])
    same = api_client.post(f"{url}/severity/", {"severity": Severity.III, "reason": "复核"}, format="json")
    assert_error(same, 409, "conflict")
    no_reason = api_client.post(f"{url}/severity/", {"severity": Severity.II}, format="json")
    assert_error(no_reason, 400, "invalid", fields=["reason"])
    raised = api_client.post(
        f"{url}/severity/", {"severity": Severity.II, "reason": "水位上涨", "status": "closed"}, format="json"
    )
    assert raised.status_code == 200 and raised.json()["severity"] == Severity.II
    assert raised.json()["status"] == IncidentStatus.REPORTED  # `status` is not a field of this action
    closed = api_client.post(f"{url}/status/", {"status": IncidentStatus.CLOSED, "note": "误报"}, format="json")
    assert closed.status_code == 200 and closed.json()["closed_at"]
    assert AuditEvent.objects.get(action="incident.status").after["note"] == "误报"


def test_the_information_office_puts_an_incident_in_its_groups_charge(api_client, dept, staff, province):
    office = f.department(region=province, name="省应急信息办")
    office_head = f.member(office, Role.HEAD)
    group = org_services.leading_group_create(
        actor=f.admin_user(),
        name="省防汛抗旱指挥部",
        kind=LeadingGroupKind.STANDING,
        regions=[province],
        information_office=office,
        big_data_center=f.department(region=province, name="省大数据中心"),
    )
    incident = report(staff, dept)
    api_client.force_authenticate(office_head)
    response = api_client.post(f"/api/v1/incidents/{incident.pk}/leading-group/", {"group": group.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["leading_group"] == {"id": group.pk, "name": group.name}
    again = api_client.post(f"/api/v1/incidents/{incident.pk}/leading-group/", {"group": group.pk}, format="json")
    assert_error(again, 409, "conflict")
    unknown = api_client.post(f"/api/v1/incidents/{incident.pk}/leading-group/", {"group": 987654}, format="json")
    assert_error(unknown, 400, "invalid", fields=["group"])


# --- situation reports ------------------------------------------------------------------------


def test_a_late_report_needs_a_reason(api_client, dept, staff):
    incident = report(staff, dept, first_seen_at=timezone.now() - timedelta(hours=10))  # initial due after 3 h
    api_client.force_authenticate(staff)
    url = f"/api/v1/incidents/{incident.pk}/reports/"
    body = {"department": dept.pk, "kind": ReportKind.INITIAL, "text": "江堤出现管涌三处", "evacuated": 120}
    late = api_client.post(url, body, format="json")
    assert_error(late, 400, "late_reason_required", fields=["late_reason"])
    assert not SituationReport.objects.exists()

    response = api_client.post(url, body | {"late_reason": "通信中断"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["is_late"] is True and data["late_reason"] == "通信中断" and data["late_by"]
    assert data["number"] == 1 and data["evacuated"] == 120 and data["department"]["id"] == dept.pk


def test_a_timely_report_is_not_late_and_keeps_no_reason(api_client, dept, staff):
    incident = report(staff, dept)
    api_client.force_authenticate(staff)
    response = api_client.post(
        f"/api/v1/incidents/{incident.pk}/reports/",
        {"department": dept.pk, "kind": ReportKind.INITIAL, "text": "初报", "late_reason": "无"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["is_late"] is False and response.json()["late_reason"] == ""


def test_the_same_idempotency_key_twice_makes_one_report(api_client, dept, staff):
    incident = report(staff, dept)
    api_client.force_authenticate(staff)
    url = f"/api/v1/incidents/{incident.pk}/reports/"
    body = {"department": dept.pk, "kind": ReportKind.INITIAL, "text": "初报"}
    first = api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="county-sys-0001")
    second = api_client.post(url, body | {"text": "重发"}, format="json", HTTP_IDEMPOTENCY_KEY="county-sys-0001")
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] == second.json()["id"] and second.json()["text"] == "初报"
    assert SituationReport.objects.count() == 1
    assert SituationReport.objects.get().idempotency_key == "county-sys-0001"
    # the body key works the same way; the header wins over it
    third = api_client.post(url, body | {"idempotency_key": "county-sys-0001"}, format="json")
    assert third.json()["id"] == first.json()["id"]
    fourth = api_client.post(
        url, body | {"idempotency_key": "county-sys-0001"}, format="json", HTTP_IDEMPOTENCY_KEY="county-sys-0002"
    )
    assert fourth.status_code == 201 and fourth.json()["id"] != first.json()["id"]
    assert Incident.objects.get(pk=incident.pk).report_count == 2
    too_long = api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 65)
    assert_error(too_long, 400, "invalid", fields=["idempotency_key"])


def test_fields_outside_the_writable_set_are_ignored_on_report(api_client, dept, staff):
    incident = report(staff, dept)
    other = report(staff, dept, title="另一事件")
    api_client.force_authenticate(staff)
    response = api_client.post(
        f"/api/v1/incidents/{incident.pk}/reports/",
        {
            "department": dept.pk,
            "kind": ReportKind.INITIAL,
            "text": "初报",
            "number": 99,
            "is_late": True,
            "late_by": "10:00:00",
            "incident": other.pk,
            "submitted_by": f.UserFactory().pk,
            "due_at": "2000-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201
    saved = SituationReport.objects.get()
    assert (saved.incident_id, saved.number, saved.is_late, saved.late_by, saved.submitted_by_id) == (
        incident.pk,
        1,
        False,
        None,
        staff.pk,
    )


def test_reports_list_under_the_incident_and_across_incidents(api_client, dept, staff):
    incident = report(staff, dept)
    other = report(staff, dept, title="另一事件")
    services.report_submit(actor=staff, incident=incident, department=dept, kind=ReportKind.INITIAL, text="一")
    services.report_submit(actor=staff, incident=other, department=dept, kind=ReportKind.INITIAL, text="二")
    api_client.force_authenticate(staff)
    nested = api_client.get(f"/api/v1/incidents/{incident.pk}/reports/").json()
    assert [r["text"] for r in nested["results"]] == ["一"]
    assert api_client.get(f"/api/v1/incidents/{incident.pk}/reports/?is_late=true").json()["count"] == 0
    flat = api_client.get(f"/api/v1/situation-reports/?incident={other.pk}").json()
    assert [r["text"] for r in flat["results"]] == ["二"]


# --- timeline and clocks ----------------------------------------------------------------------


def test_the_timeline_is_in_order_and_filters_by_kind(api_client, dept, staff, head):
    incident = report(staff, dept)
    services.report_submit(actor=staff, incident=incident, department=dept, kind=ReportKind.INITIAL, text="初报")
    services.incident_verify(actor=head, incident=incident)
    api_client.force_authenticate(staff)
    rows = api_client.get(f"/api/v1/incidents/{incident.pk}/timeline/").json()["results"]
    assert [r["kind"] for r in rows] == [TimelineKind.REPORTED, TimelineKind.REPORT, TimelineKind.STATUS]
    assert all(r["ledger_seq"] for r in rows)
    reports_only = api_client.get(f"/api/v1/incidents/{incident.pk}/timeline/?kind=report").json()["results"]
    assert [r["kind"] for r in reports_only] == [TimelineKind.REPORT]


def test_timeline_entries_carry_the_api_url_of_their_object(api_client, dept, staff, head, province):
    incident = report(staff, dept)
    submitted = services.report_submit(
        actor=staff, incident=incident, department=dept, kind=ReportKind.INITIAL, text="初报"
    )
    warning = services.warning_draft(
        actor=staff,
        issuer=dept,
        region=dept.region,
        level=WarningLevel.BLUE,
        title="蓝色预警",
        area="沿江",
        starts_at=timezone.now(),
        expected_hours=6,
        measures="远离江堤",
        incident=incident,
    )
    office = f.department(region=province, name="省应急信息办")
    group = org_services.leading_group_create(
        actor=f.admin_user(),
        name="省防汛领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[province],
        information_office=office,
        big_data_center=f.department(region=province, name="省大数据中心"),
    )
    services.incident_assign_leading_group(actor=f.member(office, Role.HEAD), incident=incident, group=group)
    incident.timeline.filter(kind=TimelineKind.LEADING_GROUP).update(target_type="", target_id="")  # no object
    api_client.force_authenticate(staff)

    rows = api_client.get(f"/api/v1/incidents/{incident.pk}/timeline/").json()["results"]

    assert [(r["kind"], r["url"]) for r in rows] == [
        (TimelineKind.REPORTED, f"/api/v1/incidents/{incident.pk}/"),
        (TimelineKind.REPORT, f"/api/v1/situation-reports/{submitted.pk}/"),
        (TimelineKind.WARNING, f"/api/v1/warnings/{warning.pk}/"),
        (TimelineKind.LEADING_GROUP, None),
    ]
    assert api_client.get(rows[1]["url"]).json()["id"] == submitted.pk  # the link works


def test_clocks_show_the_statutory_deadlines(api_client, dept, staff):
    incident = report(staff, dept)
    api_client.force_authenticate(staff)
    rows = api_client.get(f"/api/v1/incidents/{incident.pk}/clocks/").json()["results"]
    assert [(r["department"]["id"], r["kind"], r["is_open"]) for r in rows] == [(dept.pk, "initial", True)]


def read_csv(response):
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # the BOM lets spreadsheet programs read UTF-8 Chinese text
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_timeline_csv_has_a_header_and_escapes_formula_cells(api_client, dept, staff, province):
    office = f.department(region=province, name="省应急信息办")
    office_head = f.member(office, Role.HEAD, username="@SUM(1+1)", display_name="@SUM(1+1)")
    group = org_services.leading_group_create(
        actor=f.admin_user(),
        name='=HYPERLINK("http://evil.example","click")',
        kind=LeadingGroupKind.STANDING,
        regions=[province],
        information_office=office,
        big_data_center=f.department(region=province, name="省大数据中心"),
    )
    incident = report(staff, dept, title="=cmd|' /C calc'!A0")
    services.incident_assign_leading_group(actor=office_head, incident=incident, group=group)
    api_client.force_authenticate(staff)

    response = api_client.get(f"/api/v1/incidents/{incident.pk}/timeline.csv/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="incident-{incident.pk}-timeline.csv"'
    header, *rows = read_csv(response)
    assert header == [
        "incident",
        "occurred_at",
        "kind",
        "kind_label",
        "summary",
        "actor",
        "target_type",
        "target_id",
        "ledger_seq",
    ]
    assert [r[2] for r in rows] == [TimelineKind.REPORTED, TimelineKind.LEADING_GROUP]
    assert {r[0] for r in rows} == {"'=cmd|' /C calc'!A0"}  # the title, quoted: shown, never evaluated
    assert rows[1][4].startswith("'=HYPERLINK(") and rows[1][5] == "'@SUM(1+1)"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_csv_cells_are_escaped_only_when_they_look_like_formulas():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "a=b", "", None, 42)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@A1",
        "'\t=1",
        "'\r=1",
        "a=b",
        "",
        "",
        "42",
    ]


def test_the_timeline_csv_of_a_hidden_incident_is_a_json_404(api_client, dept, staff):
    incident = report(staff, dept)
    outsider = f.member(f.department(region=f.region(name="浙江省")))
    api_client.force_authenticate(outsider)
    response = api_client.get(f"/api/v1/incidents/{incident.pk}/timeline.csv/", HTTP_ACCEPT="text/csv")
    assert_error(response, 404, "not_found")
    assert response["Content-Type"] == "application/json"


# --- warnings ---------------------------------------------------------------------------------


def warning_payload(dept, **kwargs):
    return {
        "issuer": dept.pk,
        "level": WarningLevel.ORANGE,
        "title": "暴雨橙色预警",
        "area": "南京市主城区",
        "starts_at": timezone.now().isoformat(),
        "expected_hours": 12,
        "measures": "停止户外作业",
    } | kwargs


def test_a_warning_is_drafted_reviewed_published_and_withdrawn(api_client, dept, staff, city, admin):
    incident = report(staff, dept)
    api_client.force_authenticate(staff)
    response = api_client.post(
        "/api/v1/warnings/",
        warning_payload(
            dept,
            incident=incident.pk,
            region=city.code,
            status=WarningStatus.PUBLISHED,
            reviewed_by=admin.pk,
            published_at="2000-01-01T00:00:00Z",
            created_by=admin.pk,
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["region"], body["incident"], body["reviewed_by"], body["published_at"]) == (
        WarningStatus.DRAFT,
        city.code,
        incident.pk,
        None,
        None,
    )
    warning = Warning.objects.get(pk=body["id"])
    assert warning.created_by_id == staff.pk
    url = f"/api/v1/warnings/{warning.pk}"
    assert_error(api_client.post(f"{url}/review/"), 403, "permission_denied")  # the issuer does not review

    api_client.force_authenticate(admin)
    assert api_client.post(f"{url}/review/").json()["status"] == WarningStatus.REVIEWED
    assert api_client.post(f"{url}/return/").json()["status"] == WarningStatus.DRAFT
    assert_error(api_client.post(f"{url}/publish/"), 400, "invalid_transition", fields=["status"])
    api_client.post(f"{url}/review/")
    published = api_client.post(f"{url}/publish/").json()
    assert published["status"] == WarningStatus.PUBLISHED and published["published_at"]

    api_client.force_authenticate(staff)
    assert api_client.post(f"{url}/withdraw/").json()["status"] == WarningStatus.WITHDRAWN
    events = AuditEvent.objects.filter(target_type="incidents.warning", target_id=str(warning.pk)).order_by("seq")
    actions = list(events.values_list("action", flat=True))
    assert [a for a in actions if a.startswith("warning.")] == [
        "warning.draft",
        "warning.review",
        "warning.return",
        "warning.review",
        "warning.publish",
        "warning.withdraw",
    ]


def test_the_information_office_head_reviews_and_its_staff_cannot(api_client, dept, staff, province):
    office = f.department(region=province, name="省应急信息办")
    org_services.leading_group_create(
        actor=f.admin_user(),
        name="省防汛抗旱指挥部",
        kind=LeadingGroupKind.STANDING,
        regions=[province],
        information_office=office,
        big_data_center=f.department(region=province, name="省大数据中心"),
    )
    api_client.force_authenticate(staff)
    warning_id = api_client.post("/api/v1/warnings/", warning_payload(dept), format="json").json()["id"]
    api_client.force_authenticate(f.member(office, Role.STAFF))
    assert_error(api_client.post(f"/api/v1/warnings/{warning_id}/review/"), 403, "permission_denied")
    api_client.force_authenticate(f.member(office, Role.HEAD))
    assert api_client.post(f"/api/v1/warnings/{warning_id}/review/").json()["status"] == WarningStatus.REVIEWED


def test_a_warning_on_an_unseen_incident_or_region_is_a_400(api_client, dept, staff):
    elsewhere = f.department(region=f.region(name="浙江省"))
    hidden = report(f.member(elsewhere), elsewhere)
    api_client.force_authenticate(staff)
    on_hidden = api_client.post("/api/v1/warnings/", warning_payload(dept, incident=hidden.pk), format="json")
    assert_error(on_hidden, 400, "invalid", fields=["incident"])
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(hidden.pk)).exists()
    in_hidden = api_client.post("/api/v1/warnings/", warning_payload(dept, region=elsewhere.region.code), format="json")
    assert_error(in_hidden, 400, "invalid", fields=["region"])
    no_measures = api_client.post("/api/v1/warnings/", warning_payload(dept, measures="  "), format="json")
    assert_error(no_measures, 400, "invalid", fields=["measures"])
    assert not Warning.objects.exists()


# --- the error format and the schema ------------------------------------------------------------


def test_hidden_and_nonexistent_incidents_answer_the_same_404(api_client, dept, staff):
    incident = report(staff, dept)
    outsider = f.member(f.department(region=f.region(name="浙江省")), Role.HEAD)
    api_client.force_authenticate(outsider)
    for suffix in ("", "verify/", "reports/", "timeline/", "clocks/", "activations/"):
        method = api_client.post if suffix == "verify/" else api_client.get
        hidden = assert_error(method(f"/api/v1/incidents/{incident.pk}/{suffix}"), 404, "not_found")
        ghost = assert_error(method(f"/api/v1/incidents/2147483000/{suffix}"), 404, "not_found")
        assert {k: v for k, v in hidden.items() if k != "request_id"} == {
            k: v for k, v in ghost.items() if k != "request_id"
        }
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.REPORTED


def test_anonymous_callers_get_401_in_the_error_format(api_client):
    assert_error(api_client.get("/api/v1/incidents/"), 401, "not_authenticated")
    assert_error(api_client.post("/api/v1/warnings/", {}, format="json"), 401, "not_authenticated")


def test_the_schema_documents_the_incident_routes(client, staff):
    client.force_login(staff)
    schema = client.get("/api/v1/schema/").content.decode()
    for path in (
        "/api/v1/incidents/{id}/reports/",
        "/api/v1/incidents/{id}/timeline.csv/",
        "/api/v1/incidents/{id}/leading-group/",
        "/api/v1/warnings/{id}/return/",
        "/api/v1/response-plans/",
        "Idempotency-Key",
        "text/csv",
    ):
        assert path in schema, path


def test_the_same_idempotency_key_reports_an_incident_once(api_client):
    """A retried or double-clicked report with the same Idempotency-Key creates one incident."""
    from apps.incidents.models import Incident

    region = f.region()
    dept = f.department(region=region)
    staff = f.member(dept, Role.STAFF)
    api_client.force_authenticate(staff)
    body = {
        "department": dept.pk,
        "title": "重复提交测试",
        "category": "natural_disaster",
        "subtype": "flood",
        "severity": 3,
        "place": "江边",
        "first_seen_at": "2026-11-24T08:00:00+08:00",
        "regions": [region.code],
    }
    first = api_client.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api_client.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Incident.objects.filter(title="重复提交测试").count() == 1
