"""Early-warning API wiring (PostgreSQL): rules created by heads and data stewards for their own
department (staff refused, other regions' departments hidden), payload errors named by field,
an alert raised by the evaluation service on the lists of the departments it alerts and nowhere
else, acknowledging and closing (twice harmlessly), evaluations page by page. (Scope per route
and state: the permission matrix.) The world is the service tests' (tests/monitoring/test_rules.py):
a water-level dataset of the water department, whose rules alert the emergency department."""

import pytest
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.monitoring import services
from apps.monitoring.models import Alert, MonitoringRule
from apps.organizations.choices import DepartmentType
from tests.factories import department, member, region
from tests.monitoring.test_rules import World

pytestmark = pytest.mark.django_db

RULES = "/api/v1/monitoring-rules/"
ALERTS = "/api/v1/alerts/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
GHOST = 2_147_483_000


@pytest.fixture
def w(db):
    w = World()
    w.water_staff = member(w.water, Role.STAFF)
    w.emergency_staff = member(w.emergency, Role.STAFF)
    # a department of the same city the rules do not alert, and one in another province
    w.health_head = member(department(region=w.city, type=DepartmentType.HEALTH), Role.HEAD)
    w.far = department(region=region(), type=DepartmentType.ENVIRONMENT)
    w.far_steward = member(w.far, Role.STEWARD)
    return w


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def rule_body(w, **changes) -> dict:
    return {
        "department": w.water.pk,
        "dataset": w.dataset.pk,
        "name": "水位超警戒",
        "kind": "threshold",
        "field": "level_m",
        "aggregate": "max",
        "comparator": "ge",
        "threshold": 8.0,
        "window": "day",
        "level": "orange",
        "notify_departments": [w.emergency.pk],
    } | changes


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content[:400]
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["request_id"]
    if field:
        assert field in error.get("fields", {}), error
    return error


def alerted(w) -> Alert:
    """One alert of a water-department rule (alerting emergency), raised by the evaluation service."""
    w.load([("S1", w.county_a.code, 8.6, "2026-07-01 08:00"), ("S2", w.county_b.code, 6.0, "2026-07-01 09:00")])
    rule = w.rule()
    evaluation = services.rule_evaluate(rule_id=rule.pk)
    assert evaluation.alerts == 1
    return Alert.objects.get(rule=rule)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    return [row["id"] for row in response.json()["results"]]


# --- rules ------------------------------------------------------------------------------------


def test_a_steward_creates_a_rule_for_their_department_and_staff_cannot(w):
    refused = client_for(w.water_staff).post(RULES, rule_body(w), format="json")
    assert_error(refused, 403, "permission_denied")
    hidden = client_for(w.far_steward).post(RULES, rule_body(w), format="json")  # a department in another region
    assert_error(hidden, 404, "not_found")
    assert not MonitoringRule.objects.exists()

    body = rule_body(w, department=None, is_active=False, cursor=99, created_by=w.water_head.pk)  # ignored
    created = client_for(w.water_steward).post(RULES, body, format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["department"]["id"] == w.water.pk and rule["dataset"]["id"] == w.dataset.pk
    assert rule["is_active"] is True and rule["cursor"] == 0 and rule["last_evaluated_at"] is None
    assert [d["id"] for d in rule["notify_departments"]] == [w.emergency.pk]
    assert rule["created_by"] == w.water_steward.display_name
    assert AuditEvent.objects.filter(action="monitoring.rule.create", target_id=str(rule["id"])).count() == 1

    # seen by its department (any role), not by the department it alerts, not elsewhere
    assert ids(client_for(w.water_staff).get(RULES)) == [rule["id"]]
    assert ids(client_for(w.emergency_head).get(RULES)) == []
    assert_error(client_for(w.emergency_head).get(f"{RULES}{rule['id']}/"), 404, "not_found")
    assert_error(client_for(w.far_steward).get(f"{RULES}{rule['id']}/"), 404, "not_found")


def test_the_rule_list_filters_by_dataset_and_active(w):
    on = w.rule()
    off = services.rule_set_active(actor=w.water_steward, rule=w.rule(name="停用"), active=False)
    client = client_for(w.water_staff)
    assert ids(client.get(RULES, {"active": "true"})) == [on.pk]
    assert ids(client.get(RULES, {"active": "false"})) == [off.pk]
    assert set(ids(client.get(RULES, {"dataset": w.dataset.pk}))) == {on.pk, off.pk}
    assert ids(client.get(RULES, {"dataset": GHOST})) == []


def test_invalid_payloads_answer_400_naming_the_field_in_english(w):
    client = client_for(w.water_steward)

    def post(**changes):
        return client.post(RULES, rule_body(w, **changes), format="json", **EN)

    assert_error(post(kind="bogus"), 400, "invalid", "kind")
    assert_error(post(threshold=None), 400, "invalid", "threshold")
    error = assert_error(post(field="station"), 400, "invalid", "field")  # a text field: the service refuses
    assert error["fields"]["field"] == ["Choose a numeric field of the dataset's standard."]
    assert error["message"] == "Choose a numeric field of the dataset's standard."
    error = assert_error(post(draft_action="incident"), 400, "invalid", "incident_subtype")
    assert error["fields"]["incident_subtype"] == ["Choose the sub-type of the incident to draft."]
    error = assert_error(post(dataset=GHOST), 400, "invalid", "dataset")
    assert error["fields"]["dataset"] == ["Unknown dataset."]
    error = assert_error(post(notify_departments=[w.emergency.pk, GHOST]), 400, "invalid", "notify_departments")
    assert error["fields"]["notify_departments"] == [f"Unknown department: {GHOST}"]
    assert not MonitoringRule.objects.exists()


def test_another_department_needs_a_grant_to_watch_the_dataset(w):
    body = rule_body(w, department=w.emergency.pk, notify_departments=[])
    error = assert_error(client_for(w.emergency_steward).post(RULES, body, format="json", **EN), 400, "invalid")
    assert "request a grant first" in error["fields"]["field"][0]


def test_stewards_switch_a_rule_off_and_on_twice_harmlessly(w):
    rule = w.rule()
    url = f"{RULES}{rule.pk}/"
    assert_error(client_for(w.water_staff).post(f"{url}deactivate/"), 403, "permission_denied")
    steward = client_for(w.water_steward)
    for _ in range(2):
        response = steward.post(f"{url}deactivate/")
        assert response.status_code == 200 and response.json()["is_active"] is False
    assert services.rule_evaluate(rule_id=rule.pk) is None  # switched off: not evaluated
    assert AuditEvent.objects.filter(action="monitoring.rule.active", target_id=str(rule.pk)).count() == 1
    response = steward.post(f"{url}activate/")
    assert response.status_code == 200 and response.json()["is_active"] is True


def test_evaluations_are_listed_page_by_page_for_the_rules_department(w):
    w.load([("S1", w.county_a.code, 7.0, "2026-07-01 08:00")])
    rule = w.rule()
    for _ in range(3):
        services.rule_evaluate(rule_id=rule.pk)
    page = client_for(w.water_staff).get(f"{RULES}{rule.pk}/evaluations/", {"page_size": 2})
    assert page.status_code == 200, page.content
    body = page.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert [row["records"] for row in body["results"]] == [0, 0]  # newest first; only the first run read
    assert client_for(w.water_staff).get(body["next"]).json()["results"][0]["records"] == 1
    assert_error(client_for(w.emergency_head).get(f"{RULES}{rule.pk}/evaluations/"), 404, "not_found")


# --- alerts -----------------------------------------------------------------------------------


def test_an_alert_is_listed_for_the_departments_it_alerts_and_hidden_from_others(w):
    alert = alerted(w)
    for user in (w.emergency_staff, w.water_staff):
        assert ids(client_for(user).get(ALERTS)) == [alert.pk]
    assert ids(client_for(w.health_head).get(ALERTS)) == []  # same city, not alerted
    assert ids(client_for(w.far_steward).get(ALERTS)) == []
    assert_error(client_for(w.far_steward).get(f"{ALERTS}{alert.pk}/"), 404, "not_found")
    assert_error(client_for(w.health_head).get(f"{ALERTS}{alert.pk}/"), 404, "not_found")

    detail = client_for(w.emergency_staff).get(f"{ALERTS}{alert.pk}/").json()
    assert detail["status"] == "open" and detail["level"] == "orange" and detail["value"] == pytest.approx(8.6)
    assert detail["region"]["code"] == w.county_a.code and detail["baseline"] is None
    assert detail["rule"]["department"]["id"] == w.water.pk and detail["rule"]["dataset"]["id"] == w.dataset.pk

    client = client_for(w.emergency_staff)
    assert ids(client.get(ALERTS, {"status": "open"})) == [alert.pk]
    assert ids(client.get(ALERTS, {"status": "closed"})) == []
    assert ids(client.get(ALERTS, {"level": "red"})) == []
    assert ids(client.get(ALERTS, {"rule": alert.rule_id})) == [alert.pk]
    assert_error(client.get(ALERTS, {"status": "bogus"}, **EN), 400, "invalid", "status")


def test_acknowledge_and_close_work_and_a_second_post_is_harmless(w):
    alert = alerted(w)
    url = f"{ALERTS}{alert.pk}/"
    staff = client_for(w.emergency_staff)
    first = staff.post(f"{url}acknowledge/", {"note": "已派员核查"}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "acknowledged" and first.json()["note"] == "已派员核查"
    assert first.json()["handled_by"] == w.emergency_staff.display_name
    again = staff.post(f"{url}acknowledge/", {}, format="json")  # a double click
    assert again.status_code == 200 and again.json()["status"] == "acknowledged"
    assert again.json()["note"] == "已派员核查"
    assert AuditEvent.objects.filter(action="monitoring.alert.handle", target_id=str(alert.pk)).count() == 1

    assert_error(client_for(w.water_steward).post(f"{url}close/"), 403, "permission_denied")  # stewards do not handle
    head = client_for(w.water_head)
    for _ in range(2):
        closed = head.post(f"{url}close/", {"note": "水位回落"}, format="json")
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert AuditEvent.objects.filter(action="monitoring.alert.handle", target_id=str(alert.pk)).count() == 2

    error = assert_error(staff.post(f"{url}acknowledge/", format="json", **EN), 400, "invalid_transition", "status")
    assert error["message"] == "This alert cannot move to that status."
    assert_error(client_for(w.far_steward).post(f"{url}close/"), 404, "not_found")
    assert Alert.objects.get(pk=alert.pk).status == "closed"
