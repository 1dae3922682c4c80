"""Early-warning pages: the rule form (only the caller's monitoring departments, datasets they may
read, numeric fields), its refusals and its errors on their fields; a rule's page (definition,
cursor, evaluations, alerts, switch off and on); alerts on the lists of the departments alerted
and nowhere else, the alert page (value, previous window, region, window, drafts or why not) and
its acknowledge / close form, twice harmlessly; the notification link lands on the alert.

The permission matrix (tests/matrix/test_monitoring_portal_matrix.py) covers who gets what status;
these tests cover what the pages do. The world is the service tests' (tests/monitoring/test_rules.py).
"""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.access import services as access
from apps.core.permissions import Role
from apps.monitoring import services
from apps.monitoring.choices import Aggregate, DraftAction
from apps.monitoring.models import Alert, MonitoringRule
from apps.notifications.models import Notification
from apps.organizations.choices import DepartmentType
from tests.factories import department, member, region
from tests.monitoring.test_rules import World

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def w(db):
    w = World()
    w.water_staff = member(w.water, Role.STAFF)
    w.emergency_staff = member(w.emergency, Role.STAFF)
    w.health_head = member(department(region=w.city, type=DepartmentType.HEALTH), Role.HEAD)
    w.far = department(region=region(), type=DepartmentType.ENVIRONMENT)
    w.far_steward = member(w.far, Role.STEWARD)
    return w


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def rule_post(w, **changes) -> dict:
    return {
        "department": w.water.pk,
        "dataset": w.dataset.pk,
        "name": "水位超警戒",
        "kind": "threshold",
        "field": "level_m",
        "aggregate": "max",
        "comparator": "ge",
        "threshold": "8",
        "window": "day",
        "min_baseline": "1",
        "level": "orange",
        "notify_departments": [w.emergency.pk],
        "draft_action": "none",
        "incident_subtype": "",
    } | changes


def alerted(w, **rule_kwargs) -> Alert:
    w.load([("S1", w.county_a.code, 8.6, "2026-07-01 08:00"), ("S2", w.county_b.code, 6.0, "2026-07-01 09:00")])
    rule = w.rule(**rule_kwargs)
    assert services.rule_evaluate(rule_id=rule.pk).alerts == 1
    return Alert.objects.get(rule=rule)


def select(page: str, name: str) -> str:
    """The HTML of one <select> of the page."""
    start = page.index(f'name="{name}"')
    return page[start : page.index("</select>", start)]


CREATE = reverse("portal:monitoring-rule-create")
RULES = reverse("portal:monitoring-rule-list")
ALERTS = reverse("portal:alert-list")


# --- the rule form -------------------------------------------------------------------------------


def test_the_new_rule_button_is_for_heads_and_stewards(w):
    assert CREATE in client_for(w.water_steward).get(RULES, **EN).content.decode()
    page = client_for(w.water_staff).get(RULES, **EN).content.decode()
    assert CREATE not in page
    no_department = client_for(w.water_staff).get(CREATE, **EN).content.decode()
    assert "No department to monitor for" in no_department and 'name="threshold"' not in no_department


def test_the_form_offers_my_departments_readable_datasets_and_numeric_fields(w):
    page = client_for(w.water_steward).get(CREATE, **EN).content.decode()
    assert f'<option value="{w.water.pk}" selected>' in select(page, "department")  # the only one: preselected
    assert f'value="{w.dataset.pk}"' in select(page, "dataset")
    fields = select(page, "field")
    assert 'value="level_m"' in fields and 'value="warning_m"' in fields and 'value="station"' not in fields
    assert f'value="{w.emergency.pk}"' in select(page, "notify_departments")

    # another department sees the dataset in the catalog but may not read it: not offered without a grant
    other = client_for(w.emergency_steward)
    assert f'value="{w.dataset.pk}"' not in select(other.get(CREATE).content.decode(), "dataset")
    request = access.request_create(
        actor=w.emergency_steward,
        department=w.emergency,
        dataset=w.dataset,
        fields=["station", "level_m", "place_code", "measured_at"],
        purpose="防汛监测",
        legal_basis="《防洪法》",
        duration_hours=72,
    )
    access.request_decide(actor=w.water_head, request=request, decision="approve")
    assert f'value="{w.dataset.pk}"' in select(other.get(CREATE).content.decode(), "dataset")


def test_a_steward_creates_a_rule_through_the_form(w):
    response = client_for(w.water_steward).post(CREATE, rule_post(w), **EN)
    rule = MonitoringRule.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "portal:monitoring-rule-detail", args=[rule.pk]
    )
    assert texts(response) == ["Rule created: it runs with the next evaluation."]
    assert (rule.department, rule.dataset, rule.field, rule.aggregate, rule.threshold) == (
        w.water,
        w.dataset,
        "level_m",
        Aggregate.MAX,
        8.0,
    )
    assert list(rule.notify_departments.all()) == [w.emergency] and rule.created_by == w.water_steward


def test_the_form_refuses_staff_and_hides_other_regions_departments(w):
    assert client_for(w.water_staff).post(CREATE, rule_post(w)).status_code == 403
    assert client_for(w.far_steward).post(CREATE, rule_post(w)).status_code == 404
    assert not MonitoringRule.objects.exists()


def test_a_refused_definition_is_shown_on_its_field_in_english(w):
    client = client_for(w.water_steward)
    response = client.post(CREATE, rule_post(w, field="warning_m", draft_action="incident"), **EN)
    assert response.status_code == 400
    assert response.context["form"].errors["incident_subtype"] == ["Choose the sub-type of the incident to draft."]
    assert "Choose the sub-type of the incident to draft." in response.content.decode()
    response = client.post(CREATE, rule_post(w, threshold="high"), **EN)
    assert response.status_code == 400 and "threshold" in response.context["form"].errors
    assert not MonitoringRule.objects.exists()


# --- a rule's page -------------------------------------------------------------------------------


def test_the_rule_page_shows_definition_cursor_evaluations_and_alerts(w):
    alert = alerted(w)
    rule = alert.rule
    rule.refresh_from_db()
    page = client_for(w.water_staff).get(reverse("portal:monitoring-rule-detail", args=[rule.pk]), **EN)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Maximum of Level (m) ≥ 8 (window: Day)" in body
    assert f"#{rule.cursor}" in body and rule.cursor > 0
    assert page.context["evaluations"][0].records == 2
    assert reverse("portal:alert-detail", args=[alert.pk]) in body
    assert w.emergency.name in body  # the department alerted
    assert reverse("portal:monitoring-rule-deactivate", args=[rule.pk]) not in body  # staff: no buttons


def test_a_steward_switches_a_rule_off_and_on_from_its_page(w):
    rule = w.rule()
    client = client_for(w.water_steward)
    url = reverse("portal:monitoring-rule-detail", args=[rule.pk])
    assert reverse("portal:monitoring-rule-deactivate", args=[rule.pk]) in client.get(url).content.decode()
    for _ in range(2):  # a double click is harmless
        response = client.post(reverse("portal:monitoring-rule-deactivate", args=[rule.pk]), **EN)
        assert response.status_code == 302 and response["Location"] == url
    assert texts(response)[-1] == "Rule switched off."  # messages pile up until a page shows them
    rule.refresh_from_db()
    assert rule.is_active is False
    assert reverse("portal:monitoring-rule-activate", args=[rule.pk]) in client.get(url).content.decode()
    assert client.post(reverse("portal:monitoring-rule-activate", args=[rule.pk])).status_code == 302
    rule.refresh_from_db()
    assert rule.is_active is True
    assert (
        client_for(w.water_staff).post(reverse("portal:monitoring-rule-deactivate", args=[rule.pk])).status_code == 403
    )


# --- alerts --------------------------------------------------------------------------------------


def test_an_alert_shows_on_the_lists_of_the_departments_alerted_only(w):
    alert = alerted(w)
    link = reverse("portal:alert-detail", args=[alert.pk])
    for user in (w.emergency_staff, w.water_staff):
        assert link in client_for(user).get(ALERTS).content.decode()
    for user in (w.health_head, w.far_steward):
        assert link not in client_for(user).get(ALERTS).content.decode()
        assert client_for(user).get(link).status_code == 404
    client = client_for(w.emergency_staff)
    assert link in client.get(ALERTS, {"status": "open", "level": "orange"}).content.decode()
    assert link not in client.get(ALERTS, {"status": "closed"}).content.decode()
    assert link not in client.get(ALERTS, {"level": "red"}).content.decode()


def test_the_notification_link_opens_the_alert_page(w):
    alert = alerted(w)
    notification = Notification.objects.get(kind="monitoring.alert", department=w.emergency)
    assert notification.link == f"/monitoring/alerts/{alert.pk}/" == reverse("portal:alert-detail", args=[alert.pk])
    page = client_for(w.emergency_staff).get(notification.link, **EN)
    assert page.status_code == 200
    body = page.content.decode()
    assert "8.6" in body and w.county_a.name in body and "2026-07-01 00:00" in body
    assert reverse("portal:alert-handle", args=[alert.pk]) in body
    # the alerted department does not see the rule itself: its name is shown, not linked
    assert reverse("portal:monitoring-rule-detail", args=[alert.rule_id]) not in body


def test_the_alert_page_links_the_draft_or_says_why_none_was_made(w):
    by_head = alerted(w, actor=w.water_head, draft_action=DraftAction.WARNING)
    page = client_for(w.water_head).get(reverse("portal:alert-detail", args=[by_head.pk]), **EN).content.decode()
    assert reverse("portal:warning-detail", args=[by_head.warning_id]) in page

    by_steward = w.rule(actor=w.water_steward, draft_action=DraftAction.WARNING, name="由管理员起草")
    services.rule_evaluate(rule_id=by_steward.pk)
    alert = Alert.objects.get(rule=by_steward)
    assert alert.draft_error
    page = client_for(w.water_head).get(reverse("portal:alert-detail", args=[alert.pk]), **EN).content.decode()
    assert "Draft not made" in page


def test_acknowledge_then_close_and_a_second_post_is_harmless(w):
    alert = alerted(w)
    handle = reverse("portal:alert-handle", args=[alert.pk])
    detail = reverse("portal:alert-detail", args=[alert.pk])
    staff = client_for(w.emergency_staff)
    for _ in range(2):
        response = staff.post(handle, {"status": "acknowledged", "note": "已派员核查"}, **EN)
        assert response.status_code == 302 and response["Location"] == detail
    assert texts(response)[-1] == "Alert acknowledged."
    alert.refresh_from_db()
    assert (alert.status, alert.note, alert.handled_by) == ("acknowledged", "已派员核查", w.emergency_staff)

    assert client_for(w.water_steward).post(handle, {"status": "closed"}).status_code == 403  # stewards do not handle
    head = client_for(w.water_head)
    for _ in range(2):
        response = head.post(handle, {"status": "closed", "note": "水位回落"}, **EN)
        assert response.status_code == 302
    assert texts(response)[-1] == "Alert closed."
    alert.refresh_from_db()
    assert alert.status == "closed" and alert.note == "水位回落"
    assert reverse("portal:alert-handle", args=[alert.pk]) not in head.get(detail).content.decode()  # final

    refused = staff.post(handle, {"status": "acknowledged"}, **EN)
    assert refused.status_code == 400
    assert refused.context["form"].errors["status"] == ["This alert cannot move to that status."]
    assert staff.post(handle, {"status": "open"}, **EN).status_code == 400  # not a choice of the form
    assert client_for(w.far_steward).post(handle, {"status": "closed"}).status_code == 404


def test_pages_render_in_both_languages_without_errors(w):
    alert = alerted(w)
    urls = [
        ALERTS,
        RULES,
        CREATE,
        reverse("portal:alert-detail", args=[alert.pk]),
        reverse("portal:monitoring-rule-detail", args=[alert.rule_id]),
    ]
    for user in (w.water_steward, w.water_head):
        client = client_for(user)
        for url in urls:
            for lang in (ZH, EN):
                assert client.get(url, **lang).status_code == 200, (user, url)
