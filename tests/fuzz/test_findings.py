"""Regression tests for what the schema fuzzer (test_api_schema_fuzz.py) found, one per finding,
each checking the behaviour and, where the finding was a schema mismatch, the response against
the schema the application serves."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.permissions import Role
from apps.datapool import services as pool_services
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, ReportKind, Severity, Subtype
from apps.organizations.choices import DepartmentType
from apps.tasking import services as task_services
from tests import factories as f
from tests.fuzz.conformance import assert_documented
from tests.matrix.datapool_world import load

pytestmark = pytest.mark.django_db


@pytest.fixture
def province(admin):
    return f.region(name="Finding-Province")


@pytest.fixture
def dept(province):
    city = f.region(parent=province, name="Finding-City")
    return f.department(region=city, type=DepartmentType.EMERGENCY, name="Finding-Emergency")


@pytest.fixture
def staff(dept):
    return f.member(dept, Role.STAFF)


@pytest.fixture
def head(dept):
    return f.member(dept, Role.HEAD)


@pytest.fixture
def incident(dept, staff):
    return incident_services.incident_report(
        actor=staff,
        department=dept,
        title="Finding flood",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place="river bank",
        first_seen_at=timezone.now() - timedelta(minutes=10),
        regions=[dept.region],
    )


def _error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if field:
        assert field in error["fields"], error
    return error


# --- error answers ------------------------------------------------------------------------------


def test_every_operation_documents_the_error_answers_in_the_error_format(api_client, staff):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            writes = method in ("post", "put", "patch", "delete")
            expected = {"400", "401", "403", "404"} | ({"409"} if writes else set())
            assert expected <= set(operation["responses"]), f"{method.upper()} {path}"
            assert operation["responses"]["404"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
    api_client.force_authenticate(staff)
    response = api_client.get("/api/v1/tasks/2147483000/")
    assert _error(response, 404)["code"] == "not_found"
    assert_documented(response, "get", "/api/v1/tasks/{id}/")


def test_an_api_url_that_matches_no_route_is_a_404_in_the_error_format(api_client, client, staff):
    api_client.force_authenticate(staff)
    response = api_client.get("/api/v1/alerts/not-a-number/")
    assert response["Content-Type"] == "application/json"
    error = _error(response, 404)
    assert (error["code"], error["request_id"]) == ("not_found", response["X-Request-ID"])
    assert_documented(response, "get", "/api/v1/alerts/{id}/")
    # the portal keeps its own page
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


# --- query parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "[]"])
def test_a_page_size_that_is_not_a_whole_number_of_at_least_one_is_invalid_input(api_client, staff, value):
    api_client.force_authenticate(staff)
    response = api_client.get("/api/v1/departments/", {"page_size": value})
    assert _error(response, 400, "page_size")["code"] == "invalid"
    assert_documented(response, "get", "/api/v1/departments/")


def test_an_empty_page_size_is_the_default_and_a_large_one_is_capped(api_client, staff, dept):
    f.department(region=dept.region)
    api_client.force_authenticate(staff)
    assert api_client.get("/api/v1/departments/", {"page_size": ""}).json()["count"] == 2
    assert len(api_client.get("/api/v1/departments/", {"page_size": "1"}).json()["results"]) == 1
    assert api_client.get("/api/v1/departments/", {"page_size": "100000"}).status_code == 200


@pytest.mark.parametrize(
    ("url", "field"),
    [("/api/v1/tasks/", "overdue"), ("/api/v1/notifications/", "unread"), ("/api/v1/tasks/inbox/", "overdue")],
)
def test_a_boolean_filter_given_something_else_than_true_or_false_is_invalid_input(api_client, staff, url, field):
    api_client.force_authenticate(staff)
    for value in ("yes", "2", "-2123", "2.8e16"):
        assert _error(api_client.get(url, {field: value}), 400, field)["code"] == "invalid"


def test_boolean_filters_read_true_false_and_empty(api_client, staff, dept):
    issuer = f.department(region=dept.region, name="Finding-Issuer")
    issuer_head = f.member(issuer, Role.HEAD)
    [task] = task_services.task_dispatch(
        actor=issuer_head,
        issuer_department=issuer,
        departments=[dept],
        title="Finding task",
        deadline=timezone.now() + timedelta(hours=2),
    )
    api_client.force_authenticate(staff)

    def listed(value):
        return [t["id"] for t in api_client.get("/api/v1/tasks/", {"overdue": value}).json()["results"]]

    assert listed("false") == listed("0") == listed("False") == listed("") == [task.pk]
    assert listed("true") == listed("1") == []


def test_boolean_filters_of_nested_lists_are_strict_too(api_client, head, incident, dept, staff):
    incident_services.report_submit(
        actor=staff, incident=incident, department=dept, kind=ReportKind.INITIAL, text="Finding report"
    )
    api_client.force_authenticate(head)
    url = f"/api/v1/incidents/{incident.pk}/reports/"
    assert _error(api_client.get(url, {"is_late": "-2123"}), 400, "is_late")["code"] == "invalid"
    assert api_client.get(url, {"is_late": "false"}).json()["count"] == 1


def test_the_schema_says_optional_query_parameters_accept_an_empty_value(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()

    def parameters(path):
        return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}

    tasks = parameters("/api/v1/tasks/")
    assert tasks["overdue"]["allowEmptyValue"] is True and tasks["page_size"]["allowEmptyValue"] is True
    assert tasks["page_size"]["schema"]["minimum"] == 1
    assert parameters("/api/v1/incidents/{id}/timeline/")["kind"]["allowEmptyValue"] is True
    assert "allowEmptyValue" not in parameters("/api/v1/fused/")["key"]  # required: empty is invalid


def test_an_empty_filter_value_filters_nothing_and_an_unknown_timeline_kind_is_invalid(api_client, head, incident):
    api_client.force_authenticate(head)
    url = f"/api/v1/incidents/{incident.pk}/timeline/"
    everything = api_client.get(url).json()["count"]
    assert everything >= 1 and api_client.get(url, {"kind": ""}).json()["count"] == everything
    assert api_client.get(url, {"kind": "reported"}).json()["count"] >= 1
    for route in (url, f"/api/v1/incidents/{incident.pk}/timeline.csv/"):
        assert _error(api_client.get(route, {"kind": "no-such-kind"}), 400, "kind")["code"] == "invalid"


# --- response bodies the schema described wrongly -------------------------------------------


def test_a_province_has_a_null_parent_as_documented(api_client, staff, province):
    api_client.force_authenticate(staff)
    response = api_client.get(f"/api/v1/regions/{province.pk}/")
    assert response.json()["parent"] is None
    assert_documented(response, "get", "/api/v1/regions/{id}/")


def test_fused_rows_whose_key_shows_in_clear_conform_to_the_schema(api_client, dept, staff):
    steward = f.member(dept, Role.STEWARD)
    dataset = pool_services.dataset_create(
        actor=steward, owner=dept, standard=standards_ensure()["resident"], title="Finding residents"
    )
    assert load(steward, dataset, csv_bytes(resident_rows(2, seed=3))).status == "succeeded"
    api_client.force_authenticate(staff)
    response = api_client.get("/api/v1/fused/", {"key": "phone"})
    rows = response.json()
    assert rows and all("key_masked" not in row for row in rows)  # the owner sees its keys in clear
    assert_documented(response, "get", "/api/v1/fused/")


def test_setting_a_preference_answers_200_as_documented(api_client, staff):
    api_client.force_authenticate(staff)
    for _ in range(2):  # created, then replaced: the same answer
        response = api_client.post("/api/v1/notifications/preferences/", {"email": False}, format="json")
        assert response.status_code == 200 and response.json()["email"] is False
        assert_documented(response, "post", "/api/v1/notifications/preferences/")


def test_a_demand_without_a_standard_conforms_to_the_schema(api_client, head):
    api_client.force_authenticate(head)
    response = api_client.post("/api/v1/data-demands/", {"title": "Finding demand"}, format="json")
    assert response.status_code == 201 and response.json()["standard_code"] == ""
    assert_documented(response, "post", "/api/v1/data-demands/")


def test_report_schedule_times_are_wall_clock_times_as_documented(api_client, head, incident):
    api_client.force_authenticate(head)
    url = f"/api/v1/incidents/{incident.pk}/report-schedule/"
    template = "/api/v1/incidents/{id}/report-schedule/"
    unset = api_client.get(url)
    assert unset.json()["at_time"] is None
    assert_documented(unset, "get", template)
    response = api_client.put(url, {"at_time": "08:00", "is_active": True}, format="json")
    assert response.json()["at_time"] == "08:00:00"
    assert_documented(response, "put", template)
    # an offset was silently dropped before; the schedule is in Beijing time, so it is refused
    for value in ("08:00Z", "08:00:00+08:00", "8:00", "0800"):
        assert _error(api_client.put(url, {"at_time": value}, format="json"), 400, "at_time")["code"] == "invalid"
