"""Incident and warning pages: wiring, post/redirect/get, errors in the user's language, no 500
on bad input, forms shown only to those who may use them, the CSV export.

The permission matrix (tests/matrix/test_incidents_portal_matrix.py) covers who gets what status;
these tests cover what the pages do.
"""

import csv
import io
import re
from datetime import UTC, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from apps.core.csv import csv_cell
from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import (
    Category,
    IncidentStatus,
    ReportKind,
    Severity,
    Subtype,
    WarningLevel,
    WarningStatus,
)
from apps.incidents.models import Incident, PlanTaskTemplate, ResponsePlan, SituationReport, Warning
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType, LeadingGroupKind, RegionLevel
from apps.tasking import services as task_services
from tests import factories as f

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


class Scene:
    """Province P ── city C ── county X. The county's emergency department reports; the city's
    emergency head commands; the county's fire brigade is dispatched by the flood plan."""

    def __init__(self):
        self.province = f.region(name="Prov-P")
        self.city = f.region(parent=self.province, name="City-C")
        self.county = f.region(parent=self.city, name="County-X", level=RegionLevel.COUNTY)
        self.county_ema = f.department(region=self.county, name="County-X-EMA")
        self.county_fire = f.department(region=self.county, name="County-X-Fire", type=DepartmentType.FIRE)
        self.city_ema = f.department(region=self.city, name="City-C-EMA")
        self.officer = f.member(self.county_ema, Role.STAFF, username="duty-officer", display_name="Duty Officer")
        self.head = f.member(self.city_ema, Role.HEAD, username="city-head", display_name="City Head")
        self.outsider = f.member(f.department(region=f.region(name="Prov-Q")), Role.HEAD, username="outsider")
        plan = ResponsePlan.objects.create(
            name="Flood-Plan-III",
            category=Category.NATURAL_DISASTER,
            subtype=Subtype.FLOOD,
            severity=Severity.III,
            lead_department_type=DepartmentType.EMERGENCY,
        )
        PlanTaskTemplate.objects.create(
            plan=plan,
            title="Pre-position rescue boats",
            target_department_type=DepartmentType.FIRE,
            deadline_minutes=60,
        )

    def incident(self, **kwargs) -> Incident:
        values = {
            "actor": self.officer,
            "department": self.county_ema,
            "title": "River-Flood",
            "category": Category.NATURAL_DISASTER,
            "subtype": Subtype.FLOOD,
            "severity": Severity.III,
            "place": "East dyke",
            "first_seen_at": timezone.now() - timedelta(minutes=20),
        }
        return services.incident_report(**(values | kwargs))

    def client(self, user) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def s(db):
    return Scene()


def form_data(s, **overrides):
    data = {
        "department": s.county_ema.pk,
        "title": "Dyke-Breach",
        "category": Category.NATURAL_DISASTER,
        "subtype": Subtype.FLOOD,
        "severity": Severity.III,
        "place": "East dyke km 12",
        "latitude": "31.230416",
        "longitude": "121.473701",
        "first_seen_at": "2026-01-10T08:30",
        "regions": [s.county.pk],
        "description": "Water over the dyke",
    }
    return data | overrides


def texts(response) -> list[str]:
    """The messages waiting after `response` (those of earlier, unfollowed redirects included)."""
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- report an incident ----------------------------------------------------------------------


def test_the_form_offers_only_the_callers_own_departments_preselected(s):
    page = s.client(s.officer).get(reverse("portal:incident-create"), **EN).content.decode()
    assert f'<option value="{s.county_ema.pk}" selected>County-X-EMA</option>' in page
    assert "County-X-Fire" not in page and "City-C-EMA" not in page
    assert 'type="datetime-local"' in page


def test_a_user_without_a_department_is_told_instead_of_shown_a_form(s):
    nobody = f.UserFactory()
    page = s.client(nobody).get(reverse("portal:incident-create"), **EN).content.decode()
    assert "No department to report for" in page and 'name="title"' not in page


def test_reporting_redirects_to_the_new_incident_with_a_message(s):
    client = s.client(s.officer)
    response = client.post(reverse("portal:incident-create"), form_data(s), **EN)

    incident = Incident.objects.get(title="Dyke-Breach")
    assert response.status_code == 302 and response["Location"] == reverse("portal:incident-detail", args=[incident.pk])
    assert texts(response) == ["Incident reported: Dyke-Breach"]
    assert incident.reporting_department == s.county_ema and incident.created_by == s.officer
    assert list(incident.regions.all()) == [s.county]
    # datetime-local is Beijing time
    assert timezone.localtime(incident.first_seen_at).strftime("%Y-%m-%d %H:%M") == "2026-01-10 08:30"
    assert incident.first_seen_at.astimezone(UTC).strftime("%H:%M") == "00:30"


def test_a_subtype_of_another_category_is_refused_with_the_services_message(s):
    response = s.client(s.officer).post(
        reverse("portal:incident-create"), form_data(s, subtype=Subtype.CHEMICAL_SPILL), **EN
    )
    assert response.status_code == 400
    assert response.context["form"].errors["subtype"] == ["This sub-type does not belong to the category."]
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("severity", "9"), ("severity", "I"), ("category", "volcano"), ("latitude", "91"), ("first_seen_at", "yesterday")],
)
def test_bad_values_rerender_the_form_with_an_error_not_a_500(s, field, value):
    response = s.client(s.officer).post(reverse("portal:incident-create"), form_data(s, **{field: value}), **EN)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="error"' in response.content.decode()
    assert not Incident.objects.exists()


def test_missing_fields_are_reported_in_the_users_language(s):
    data = {"department": s.county_ema.pk}
    english = s.client(s.officer).post(reverse("portal:incident-create"), data, **EN)
    chinese = s.client(s.officer).post(reverse("portal:incident-create"), data, **ZH)
    assert english.status_code == chinese.status_code == 400
    assert set(english.context["form"].errors) >= {"title", "category", "subtype", "severity", "place"}
    assert "This field is required." in english.content.decode()
    with translation.override("zh-hans"):
        required_zh = translation.gettext("This field is required.")
    assert required_zh.endswith("必填项。") and required_zh in chinese.content.decode()


def test_a_first_seen_time_in_the_future_is_refused_by_the_service(s):
    later = timezone.localtime(timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = s.client(s.officer).post(reverse("portal:incident-create"), form_data(s, first_seen_at=later), **EN)
    assert response.status_code == 400
    assert response.context["form"].errors["first_seen_at"] == ["The first-seen time cannot be in the future."]


def test_reporting_for_a_department_one_sees_but_does_not_belong_to_is_403(s):
    response = s.client(s.officer).post(
        reverse("portal:incident-create"), form_data(s, department=s.county_fire.pk), **EN
    )
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_reporting_for_an_unseen_or_missing_department_is_404_and_garbage_is_a_form_error(s):
    client = s.client(s.outsider)
    assert client.post(reverse("portal:incident-create"), form_data(s)).status_code == 404
    assert client.post(reverse("portal:incident-create"), form_data(s, department=999_999_999)).status_code == 404
    garbage = s.client(s.officer).post(reverse("portal:incident-create"), form_data(s, department="x1"), **EN)
    assert garbage.status_code == 400 and "department" in garbage.context["form"].errors


# --- list --------------------------------------------------------------------------------------


def test_the_list_shows_visible_incidents_with_a_severity_badge(s):
    s.incident(title="Flood-Three")
    s.incident(title="Flood-One", severity=Severity.I)
    page = s.client(s.head).get(reverse("portal:incident-list"), **EN).content.decode()
    assert "Flood-Three" in page and "Flood-One" in page
    assert re.search(r'class="badge sev-1"[^>]*>I \(especially serious\)<', page)
    assert 'class="badge sev-3"' in page
    assert "Flood-Three" not in s.client(s.outsider).get(reverse("portal:incident-list")).content.decode()


def test_the_list_filters_by_severity_status_region_and_date(s):
    s.incident(title="Flood-Three")
    s.incident(title="Flood-One", severity=Severity.I)
    old = s.incident(title="Old-Flood", first_seen_at=timezone.now() - timedelta(days=40))
    services.incident_set_status(actor=s.head, incident=old, status=IncidentStatus.CLOSED)
    client = s.client(s.head)
    url = reverse("portal:incident-list")

    def titles(**query):
        response = client.get(url, query)
        assert response.status_code == 200
        return sorted(i.title for i in response.context["object_list"])

    assert titles(severity=Severity.I) == ["Flood-One"]
    assert titles(status=IncidentStatus.CLOSED) == ["Old-Flood"]
    assert titles(region=s.county.code) == ["Flood-One", "Flood-Three", "Old-Flood"]
    assert titles(region=s.province.code, category=Category.ACCIDENT) == []
    since = timezone.localdate() - timedelta(days=1)
    assert titles(since=since.isoformat()) == ["Flood-One", "Flood-Three"]
    page = client.get(url, **EN).content.decode()
    assert 'type="date" name="since"' in page and f'<option value="{s.county.code}">County-X</option>' in page


@pytest.mark.parametrize("query", [{"severity": "9"}, {"since": "not-a-date"}, {"status": "<script>"}, {"page": "99"}])
def test_bad_filter_values_never_500(s, query):
    s.incident()
    response = s.client(s.head).get(reverse("portal:incident-list"), query)
    assert response.status_code in (200, 404)


def test_the_list_is_paginated(s):
    for i in range(27):
        s.incident(title=f"Flood-{i:02d}")
    client = s.client(s.head)
    first = client.get(reverse("portal:incident-list"))
    second = client.get(reverse("portal:incident-list"), {"page": 2})
    assert len(first.context["object_list"]) == 25 and len(second.context["object_list"]) == 2
    assert first.context["paginator"].count == 27


# --- detail ------------------------------------------------------------------------------------


def test_the_detail_page_shows_facts_timeline_clocks_and_the_report_form(s):
    incident = s.incident(title="River-Flood", latitude="31.5", longitude="118.25")
    page = s.client(s.officer).get(reverse("portal:incident-detail", args=[incident.pk]), **EN).content.decode()
    assert "River-Flood" in page and "East dyke" in page and "County-X" in page
    assert "Incident reported" in page and "Reported by County-X-EMA" in page
    assert "Initial report due" in page and "Open" in page  # the county's and the city's clocks
    assert "Submit a situation report" in page and 'name="idempotency_key"' in page
    assert reverse("portal:incident-timeline-csv", args=[incident.pk]) in page
    # staff of the reporting department cannot command
    assert reverse("portal:incident-verify", args=[incident.pk]) not in page
    assert reverse("portal:incident-severity", args=[incident.pk]) not in page


def test_the_command_forms_show_for_the_emergency_head_above(s):
    incident = s.incident()
    page = s.client(s.head).get(reverse("portal:incident-detail", args=[incident.pk]), **EN).content.decode()
    for name in ("incident-verify", "incident-severity", "incident-close"):
        assert reverse(f"portal:{name}", args=[incident.pk]) in page
    # no office seat: no leading-group form; reported: verify is the only way forward, no status select
    assert reverse("portal:incident-leading-group", args=[incident.pk]) not in page
    assert reverse("portal:incident-status", args=[incident.pk]) not in page
    # heads see the ledger link of each timeline entry
    seq = incident.timeline.get().ledger_seq
    assert f"{reverse('portal:ledger-list')}?seq={seq}" in page


def test_timeline_entries_link_to_their_objects_the_reader_can_see(s):
    # Given: a verified incident (its plan activated), a report, a warning draft and a task the
    # county issued to its fire brigade, each with its timeline entry
    incident = s.incident()
    services.incident_verify(actor=s.head, incident=incident)
    [task] = task_services.task_dispatch(
        actor=f.member(s.county_ema, Role.HEAD),
        issuer_department=s.county_ema,
        departments=[s.county_fire],
        title="Sandbag-the-dyke",
        deadline=timezone.now() + timedelta(hours=2),
        incident=incident,
    )
    report = services.report_submit(
        actor=s.officer, incident=incident, department=s.county_ema, kind=ReportKind.INITIAL, text="Dyke holds"
    )
    warning = services.warning_draft(
        actor=s.officer,
        issuer=s.county_ema,
        region=s.county,
        level=WarningLevel.BLUE,
        title="Rising-Water",
        area="East dyke",
        starts_at=timezone.now(),
        expected_hours=6,
        measures="Keep away",
        incident=incident,
    )
    activation = incident.activations.get()
    task_url = reverse("portal:task-detail", args=[task.pk])
    url = reverse("portal:incident-detail", args=[incident.pk])

    # When: the reporting department's officer reads the page
    page = s.client(s.officer).get(url, **EN).content.decode()

    # Then: each entry links to its object: the report and the plan to their rows on the page, the
    # warning and the task (issued by the officer's department) to their own pages
    assert f'<a href="#report-{report.pk}">' in page and f'id="report-{report.pk}"' in page
    assert f'<a href="#activation-{activation.pk}">' in page and f'id="activation-{activation.pk}"' in page
    assert f'<a href="{reverse("portal:warning-detail", args=[warning.pk])}">' in page
    assert f'<a href="{task_url}">' in page

    # the city's head sees the incident but not the county's task: no link to a page that is a 404
    # for them; the warning of the county (below the city) is theirs to read
    page = s.client(s.head).get(url, **EN).content.decode()
    assert task_url not in page
    assert f'<a href="{reverse("portal:warning-detail", args=[warning.pk])}">' in page


def test_a_hidden_incident_is_404(s):
    incident = s.incident()
    assert s.client(s.outsider).get(reverse("portal:incident-detail", args=[incident.pk])).status_code == 404


# --- command -----------------------------------------------------------------------------------


def test_verify_activates_the_plan_and_the_detail_page_shows_the_dispatch(s):
    incident = s.incident()
    client = s.client(s.head)
    response = client.post(reverse("portal:incident-verify", args=[incident.pk]), **EN)
    assert response.status_code == 302 and response["Location"] == reverse("portal:incident-detail", args=[incident.pk])
    assert texts(response) == ["Incident verified; matching response plans are activated."]
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.VERIFIED

    page = client.get(response["Location"], **EN).content.decode()
    assert "Flood-Plan-III" in page and "Pre-position rescue boats → County-X-Fire" in page
    assert reverse("portal:incident-verify", args=[incident.pk]) not in page  # verified: no second verify
    assert reverse("portal:incident-status", args=[incident.pk]) in page  # verified → responding


def test_a_double_click_on_verify_ends_with_a_message_not_an_error_page(s):
    incident = s.incident()
    client = s.client(s.head)
    client.post(reverse("portal:incident-verify", args=[incident.pk]))
    again = client.post(reverse("portal:incident-verify", args=[incident.pk]), **EN)
    assert again.status_code == 302
    assert texts(again)[-1] == "Cannot change status from Verified to Verified."


def test_raising_the_severity_needs_a_reason_and_a_known_level(s):
    incident = s.incident()
    client = s.client(s.head)
    url = reverse("portal:incident-severity", args=[incident.pk])

    missing = client.post(url, {"severity": Severity.II}, **EN)
    assert missing.status_code == 400 and missing.context["severity_form"].errors == {
        "reason": ["This field is required."]
    }
    unknown = client.post(url, {"severity": "9", "reason": "x"}, **EN)
    assert unknown.status_code == 400 and "severity" in unknown.context["severity_form"].errors
    same = client.post(url, {"severity": Severity.III, "reason": "no change"}, **EN)
    assert same.status_code == 409
    assert same.context["severity_form"].non_field_errors() == ["The incident already has this severity."]

    raised = client.post(url, {"severity": Severity.II, "reason": "Second dyke failing"}, **EN)
    assert raised.status_code == 302 and texts(raised) == ["Severity changed."]
    incident.refresh_from_db()
    assert incident.severity == Severity.II
    page = client.get(raised["Location"], **EN).content.decode()
    assert "Second dyke failing" in page and 'class="badge sev-2"' in page


def test_an_impossible_transition_shows_the_services_message(s):
    incident = s.incident()
    response = s.client(s.head).post(
        reverse("portal:incident-status", args=[incident.pk]), {"status": IncidentStatus.RECOVERING}, **EN
    )
    assert response.status_code == 400
    assert response.context["status_form"].errors["status"] == ["Cannot change status from Reported to Recovering."]
    bogus = s.client(s.head).post(reverse("portal:incident-status", args=[incident.pk]), {"status": "gone"}, **EN)
    assert bogus.status_code == 400


def test_staff_who_may_not_command_get_403_whatever_they_post(s):
    incident = s.incident()
    client = s.client(s.officer)
    for name, data in [
        ("incident-verify", {}),
        ("incident-severity", {"severity": "9"}),  # invalid, yet refused first
        ("incident-status", {}),
        ("incident-close", {}),
        ("incident-leading-group", {"group": "x"}),
    ]:
        assert client.post(reverse(f"portal:{name}", args=[incident.pk]), data).status_code == 403, name
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.REPORTED and incident.severity == Severity.III


def test_close_moves_the_incident_and_hides_the_command_forms(s):
    incident = s.incident()
    client = s.client(s.head)
    response = client.post(reverse("portal:incident-close", args=[incident.pk]), {"note": "False alarm"}, **EN)
    assert response.status_code == 302 and texts(response) == ["Incident closed."]
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLOSED
    page = client.get(response["Location"], **EN).content.decode()
    assert reverse("portal:incident-severity", args=[incident.pk]) not in page


def test_the_information_office_puts_the_incident_in_its_groups_charge(s):
    office = f.department(region=s.province, name="Prov-P-Info-Office")
    center = f.department(region=s.province, name="Prov-P-Data-Center")
    group = org_services.leading_group_create(
        actor=f.admin_user(),
        name="Flood-Command-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[s.province],
        information_office=office,
        big_data_center=center,
    )
    clerk = f.member(office, Role.STAFF)
    incident = s.incident()
    client = s.client(clerk)
    page = client.get(reverse("portal:incident-detail", args=[incident.pk]), **EN).content.decode()
    assert f'<option value="{group.pk}">Flood-Command-Group</option>' in page

    response = client.post(reverse("portal:incident-leading-group", args=[incident.pk]), {"group": group.pk}, **EN)
    assert response.status_code == 302 and texts(response) == ["The leading group has taken charge."]
    incident.refresh_from_db()
    assert incident.leading_group == group
    again = client.post(reverse("portal:incident-leading-group", args=[incident.pk]), {"group": group.pk}, **EN)
    assert again.status_code == 409  # already in charge: the form says so


# --- situation reports -------------------------------------------------------------------------


def report_data(s, **overrides):
    return {
        "department": s.county_ema.pk,
        "kind": ReportKind.INITIAL,
        "text": "Dyke holding; 40 evacuated",
        "evacuated": "40",
        "deaths": "",
        "idempotency_key": "8f14e45fceea167a5a36dedd4bea2543",
    } | overrides


def test_a_double_submitted_report_is_stored_once(s):
    incident = s.incident()
    client = s.client(s.officer)
    url = reverse("portal:incident-report-submit", args=[incident.pk])
    first = client.post(url, report_data(s), **EN)
    second = client.post(url, report_data(s), **EN)
    assert first.status_code == second.status_code == 302
    assert texts(first) == ["Situation report submitted."]
    report = SituationReport.objects.get(incident=incident)
    assert (report.number, report.evacuated, report.deaths, report.department) == (1, 40, 0, s.county_ema)


def test_each_rendered_form_carries_a_fresh_idempotency_key(s):
    incident = s.incident()
    client = s.client(s.officer)
    url = reverse("portal:incident-detail", args=[incident.pk])
    keys = {client.get(url).context["report_form"]["idempotency_key"].value() for _ in range(2)}
    assert len(keys) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys)


def test_a_late_report_needs_a_reason_and_then_shows_the_gap(s):
    incident = s.incident(first_seen_at=timezone.now() - timedelta(hours=5))  # county → city: 120 min
    client = s.client(s.officer)
    url = reverse("portal:incident-report-submit", args=[incident.pk])

    refused = client.post(url, report_data(s), **EN)
    assert refused.status_code == 400
    assert refused.context["report_form"].errors["late_reason"][0].startswith("This report is late (due ")
    assert '<details class="submit-report" open>' in refused.content.decode()  # unfolded, with its error

    done = client.post(url, report_data(s, late_reason="Road cut off"), **EN)
    assert done.status_code == 302
    page = client.get(reverse("portal:incident-detail", args=[incident.pk]), **EN).content.decode()
    report = SituationReport.objects.get()
    minutes = int(report.late_by.total_seconds() // 60)
    assert 175 <= minutes <= 181
    assert f"Late by {minutes} min" in page and "Met" in page


def test_reporting_for_another_department_is_403_and_empty_text_a_form_error(s):
    incident = s.incident()
    client = s.client(s.officer)
    url = reverse("portal:incident-report-submit", args=[incident.pk])
    assert client.post(url, report_data(s, department=s.county_fire.pk)).status_code == 403
    empty = client.post(url, report_data(s, text="", deaths="-1"), **EN)
    assert empty.status_code == 400 and set(empty.context["report_form"].errors) == {"text", "deaths"}
    assert not SituationReport.objects.exists()


# --- timeline CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=SUM(1,2)", "+1", "-2+3", "@cmd", "\tx", "\rx"])
def test_csv_cells_that_would_start_a_formula_are_quoted(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["洪水", "1+1", "", None, 42, "a=b"])
def test_other_csv_cells_are_unchanged(value):
    assert csv_cell(value) == ("" if value is None else str(value))


def test_the_timeline_csv_is_utf8_with_bom_and_formula_safe(s):
    s.officer.username = "=HYPERLINK(evil)"
    s.officer.save()
    incident = s.incident(title="洪水")
    services.incident_set_severity(actor=s.head, incident=incident, severity=Severity.II, reason="-1 dyke")
    response = s.client(s.head).get(reverse("portal:incident-timeline-csv", args=[incident.pk]), **EN)

    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="incident-{incident.pk}-timeline.csv"' in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["Time", "Kind", "Summary", "Actor", "Ledger #", "Target type", "Target ID"]
    assert [r[1] for r in rows[1:]] == ["Incident reported", "Severity changed"]
    assert rows[1][3] == "'=HYPERLINK(evil)"
    assert rows[2][3] == "city-head" and "(-1 dyke)" in rows[2][2]
    assert rows[1][4] == str(incident.timeline.first().ledger_seq)
    assert rows[1][5:] == ["incidents.incident", str(incident.pk)]  # the entry's object


def test_the_timeline_csv_of_a_hidden_incident_is_404(s):
    incident = s.incident()
    assert s.client(s.outsider).get(reverse("portal:incident-timeline-csv", args=[incident.pk])).status_code == 404


# --- warnings ----------------------------------------------------------------------------------


def warning_data(s, **overrides):
    return {
        "issuer": s.county_ema.pk,
        "level": WarningLevel.ORANGE,
        "title": "Orange flood warning",
        "area": "East bank villages",
        "starts_at": "2026-01-10T09:00",
        "expected_hours": "12",
        "measures": "Move to higher ground",
    } | overrides


def test_drafting_a_warning_for_an_incident(s):
    incident = s.incident()
    client = s.client(s.officer)
    form_page = client.get(reverse("portal:warning-create"), {"incident": incident.pk}, **EN).content.decode()
    assert f'<option value="{incident.pk}" selected>River-Flood</option>' in form_page

    response = client.post(reverse("portal:warning-create"), warning_data(s, incident=incident.pk), **EN)
    warning = Warning.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("portal:warning-detail", args=[warning.pk])
    assert warning.region == s.county and warning.incident == incident and warning.status == WarningStatus.DRAFT
    detail = client.get(reverse("portal:incident-detail", args=[incident.pk]), **EN).content.decode()
    assert "Orange flood warning" in detail and 'class="badge level-orange"' in detail


@pytest.mark.parametrize(
    ("field", "value"), [("level", "purple"), ("expected_hours", "0"), ("measures", ""), ("starts_at", "")]
)
def test_bad_warning_input_rerenders_the_form(s, field, value):
    response = s.client(s.officer).post(reverse("portal:warning-create"), warning_data(s, **{field: value}), **EN)
    assert response.status_code == 400 and field in response.context["form"].errors
    assert not Warning.objects.exists()


def test_the_warning_list_shows_level_badges_and_filters(s):
    client = s.client(s.officer)
    client.post(reverse("portal:warning-create"), warning_data(s))
    client.post(reverse("portal:warning-create"), warning_data(s, title="Blue notice", level=WarningLevel.BLUE))
    page = client.get(reverse("portal:warning-list"), **EN).content.decode()
    assert 'class="badge level-orange"' in page and 'class="badge level-blue"' in page
    only_blue = client.get(reverse("portal:warning-list"), {"level": WarningLevel.BLUE})
    assert [w.title for w in only_blue.context["object_list"]] == ["Blue notice"]
    assert client.get(reverse("portal:warning-list"), {"level": "pink"}).status_code == 200


def test_review_and_publication_by_the_information_office_head(s):
    office = f.department(region=s.province, name="Prov-P-Info-Office")
    org_services.leading_group_create(
        actor=f.admin_user(),
        name="Flood-Command-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[s.province],
        information_office=office,
        big_data_center=f.department(region=s.province, name="Prov-P-Data-Center"),
    )
    office_head = f.member(office, Role.HEAD)
    s.client(s.officer).post(reverse("portal:warning-create"), warning_data(s))
    warning = Warning.objects.get()
    url = reverse("portal:warning-detail", args=[warning.pk])

    issuer_page = s.client(s.officer).get(url, **EN).content.decode()
    assert reverse("portal:warning-withdraw", args=[warning.pk]) in issuer_page
    assert reverse("portal:warning-review", args=[warning.pk]) not in issuer_page
    assert s.client(s.officer).post(reverse("portal:warning-review", args=[warning.pk])).status_code == 403

    client = s.client(office_head)
    page = client.get(url, **EN).content.decode()
    assert reverse("portal:warning-review", args=[warning.pk]) in page
    assert reverse("portal:warning-publish", args=[warning.pk]) not in page

    early = client.post(reverse("portal:warning-publish", args=[warning.pk]), **EN)
    assert early.status_code == 302 and texts(early) == ["Cannot change status from Draft to Published."]
    reviewed = client.post(reverse("portal:warning-review", args=[warning.pk]), **EN)
    assert texts(reviewed)[-1] == "Warning reviewed; it can now be published."
    page = client.get(url, **EN).content.decode()
    assert reverse("portal:warning-publish", args=[warning.pk]) in page
    assert reverse("portal:warning-return", args=[warning.pk]) in page
    published = client.post(reverse("portal:warning-publish", args=[warning.pk]), **EN)
    assert texts(published)[-1] == "Warning published."
    warning.refresh_from_db()
    assert warning.status == WarningStatus.PUBLISHED and warning.published_at is not None


def test_the_issuer_withdraws_its_draft(s):
    s.client(s.officer).post(reverse("portal:warning-create"), warning_data(s))
    warning = Warning.objects.get()
    response = s.client(s.officer).post(reverse("portal:warning-withdraw", args=[warning.pk]), **EN)
    assert response.status_code == 302 and texts(response) == ["Warning withdrawn."]
    warning.refresh_from_db()
    assert warning.status == WarningStatus.WITHDRAWN
    page = s.client(s.officer).get(reverse("portal:warning-detail", args=[warning.pk]), **EN).content.decode()
    assert reverse("portal:warning-withdraw", args=[warning.pk]) not in page


def test_action_routes_answer_only_post(s):
    incident = s.incident()
    client = s.client(s.head)
    assert client.get(reverse("portal:incident-verify", args=[incident.pk])).status_code == 405
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.REPORTED


def test_the_nav_links_to_incidents_and_warnings(s):
    page = s.client(s.officer).get(reverse("portal:dashboard"), **EN).content.decode()
    assert f'href="{reverse("portal:incident-list")}"' in page and f'href="{reverse("portal:warning-list")}"' in page


@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "１２", " 7 "])
def test_odd_department_ids_never_500(s, value):
    response = s.client(s.officer).post(reverse("portal:incident-create"), form_data(s, department=value))
    assert response.status_code in (400, 404)
    assert not Incident.objects.exists()


@pytest.mark.parametrize("value", ["abc", "99999999999999999999999", ""])
def test_a_bad_incident_preselection_on_the_warning_form_is_ignored(s, value):
    assert s.client(s.officer).get(reverse("portal:warning-create"), {"incident": value}).status_code == 200


def test_the_detail_page_has_no_duplicate_element_ids(s):
    incident = s.incident()
    services.incident_verify(actor=s.head, incident=incident)  # the status form shows too
    page = s.client(s.head).get(reverse("portal:incident-detail", args=[incident.pk])).content.decode()
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert 'id="id_status_note"' in page and 'id="id_close_note"' in page
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
