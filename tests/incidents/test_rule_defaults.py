"""Services: the default statutory reporting rules (信息报送时限), the migration that seeds them, and
open initial clocks brought forward when the severity is raised."""

import importlib
from datetime import datetime, timedelta

import pytest
from django.apps import apps as django_apps

from apps.incidents import services
from apps.incidents.choices import ClockKind, IncidentStatus, ReportKind, Severity
from apps.incidents.models import ReportingClock, ReportingRule, TimelineEntry
from tests.incidents.world import (
    T0,
    advance,
    commander,
    events_since,
    initial_clock,
    ledger_seq,
    minutes,
    report_incident,
    rule,
)

pytestmark = pytest.mark.django_db

seed_migration = importlib.import_module("apps.incidents.migrations.0006_seed_reporting_rules")


@pytest.fixture
def no_rules(db):
    """A database without rule rows (the migration seeds them; an administrator may delete them)."""
    ReportingRule.objects.all().delete()


def _due(incident, dept) -> timedelta:
    return initial_clock(incident, dept).due_at - incident.sighted_at


# --- the defaults without a row ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "initial"),
    [(Severity.I, 240), (Severity.II, 240), (Severity.III, 480), (Severity.IV, 1440)],
)
def test_without_a_row_the_rule_is_the_statutory_default(no_rules, severity, initial):
    got = services.reporting_rule(severity)

    assert got.pk is None  # not saved: the admin console's rows are the migration's
    assert (got.severity, got.initial_minutes) == (severity, initial)
    assert (got.county_to_city_minutes, got.city_to_province_minutes) == (120, 180)
    assert (got.follow_up_minutes, got.daily_report, got.remind_before_minutes) == (240, False, 30)
    assert (got.escalate_region_after_minutes, got.escalate_group_after_minutes) == (30, 60)


def test_a_row_wins_over_the_default(no_rules):
    rule(Severity.II, initial_minutes=90)

    assert services.reporting_rule(Severity.II).initial_minutes == 90
    assert services.reporting_rule(Severity.I).initial_minutes == 240


@pytest.mark.parametrize(
    ("severity", "county", "city", "province"),
    [
        # I/II: within 4 h; county → city 2 h; the city's 2 h + 3 h is capped at the 4 h limit
        (Severity.I, 120, 240, 240),
        (Severity.II, 120, 240, 240),
        # III: 8 h limit, nothing capped: county 2 h, city 2 h + 3 h, province 8 h
        (Severity.III, 120, 300, 480),
    ],
)
def test_default_clocks_of_a_county_report(w, no_rules, severity, county, city, province):
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a], severity=severity)

    assert _due(incident, w.em_a1a) == minutes(county)
    assert _due(incident, w.em_a1) == minutes(city)
    assert _due(incident, w.em_a) == minutes(province)


def test_default_clocks_of_a_city_and_a_province_report(w, no_rules):
    by_city = report_incident(w, department=w.em_a1, regions=[w.a1], severity=Severity.II)
    by_province = report_incident(w, department=w.em_a, regions=[w.a], severity=Severity.II, title="省级事件")

    assert _due(by_city, w.em_a1) == minutes(180)  # city → province: 3 h
    assert _due(by_city, w.em_a) == minutes(240)
    assert _due(by_province, w.em_a) == minutes(240)


# --- the seeding migration -------------------------------------------------------------------------


def test_the_migration_seeds_one_rule_per_severity_with_the_defaults(no_rules):
    seed_migration.seed_reporting_rules(django_apps, None)

    rows = {r.severity: r for r in ReportingRule.objects.all()}
    assert set(rows) == set(Severity.values)
    for severity, row in rows.items():
        assert row.initial_minutes == services.DEFAULT_INITIAL_MINUTES[Severity(severity)]
        assert (row.county_to_city_minutes, row.city_to_province_minutes, row.follow_up_minutes) == (120, 180, 240)
        assert row.daily_report is False


def test_the_migration_is_idempotent_and_keeps_edited_rows(no_rules):
    seed_migration.seed_reporting_rules(django_apps, None)
    ReportingRule.objects.filter(severity=Severity.I).update(initial_minutes=60, daily_report=True)
    ReportingRule.objects.filter(severity=Severity.IV).delete()

    seed_migration.seed_reporting_rules(django_apps, None)
    seed_migration.seed_reporting_rules(django_apps, None)

    assert ReportingRule.objects.count() == 4
    edited = ReportingRule.objects.get(severity=Severity.I)
    assert (edited.initial_minutes, edited.daily_report) == (60, True)
    assert ReportingRule.objects.get(severity=Severity.IV).initial_minutes == 1440


def test_the_seeded_values_match_the_services_defaults():
    assert seed_migration.INITIAL_MINUTES == {int(k): v for k, v in services.DEFAULT_INITIAL_MINUTES.items()}


# --- raising the severity brings open initial clocks forward ----------------------------------------


@pytest.fixture
def general(w):
    """Severity IV (daily limit 24 h; county 2 h, city 2 + 3 h) reported by the county at T0.
    Severity II is stricter everywhere: 4 h limit, county 1 h, city 1 + 2 h."""
    rule(Severity.IV, initial_minutes=1440, county_to_city_minutes=120, city_to_province_minutes=180)
    rule(Severity.II, initial_minutes=240, county_to_city_minutes=60, city_to_province_minutes=120)
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a], severity=Severity.IV)
    assert [_due(incident, d) for d in (w.em_a1a, w.em_a1, w.em_a)] == [minutes(120), minutes(300), minutes(1440)]
    return incident


def _raise(w, incident, severity=Severity.II):
    return services.incident_set_severity(actor=commander(w), incident=incident, severity=severity, reason="扩大")


def test_raising_the_severity_brings_open_initial_clocks_forward(w, general):
    _raise(w, general)

    assert _due(general, w.em_a1a) == minutes(60)
    assert _due(general, w.em_a1) == minutes(180)
    assert _due(general, w.em_a) == minutes(240)


def test_the_moved_deadlines_are_in_the_severity_event_and_nothing_else_is_recorded(w, general):
    commander(w)  # seat the actor first: seating writes its own ledger events
    before = {c.department_id: c.due_at for c in ReportingClock.objects.filter(incident=general)}
    seq = ledger_seq()
    entries = TimelineEntry.objects.filter(incident=general).count()

    _raise(w, general)

    events = list(events_since(seq))
    assert [e.action for e in events] == ["incident.severity"]
    moved = {m["department"]: m for m in events[0].after["clocks_moved"]}
    assert set(moved) == {w.em_a1a.pk, w.em_a1.pk, w.em_a.pk}
    county = moved[w.em_a1a.pk]
    assert county["clock"] == initial_clock(general, w.em_a1a).pk
    assert datetime.fromisoformat(county["from"]) == before[w.em_a1a.pk] == T0 + minutes(120)
    assert datetime.fromisoformat(county["to"]) == T0 + minutes(60)
    assert TimelineEntry.objects.filter(incident=general).count() == entries + 1  # the severity entry only


def test_a_raise_never_pushes_a_deadline_later(w, general):
    # Given: severity I's county step (200 min) is longer than the county's current deadline (120)
    rule(Severity.I, initial_minutes=240, county_to_city_minutes=200, city_to_province_minutes=120)

    _raise(w, general, Severity.I)

    assert _due(general, w.em_a1a) == minutes(120)  # kept, not extended to 200
    assert _due(general, w.em_a1) == minutes(240)  # 300 → capped at the 4 h limit
    assert _due(general, w.em_a) == minutes(240)


def test_a_raise_leaves_met_clocks_and_follow_up_clocks_alone(w, general):
    incident = advance(w, general, IncidentStatus.RESPONDING)
    services.report_submit(
        actor=w.user(w.em_a1a),
        incident=incident,
        department=w.em_a1a,
        kind=ReportKind.INITIAL,
        text="初报",
        now=T0 + minutes(30),
    )
    met = initial_clock(incident, w.em_a1a)
    follow_up = ReportingClock.objects.get(incident=incident, department=w.em_a1a, kind=ClockKind.FOLLOW_UP)

    _raise(w, incident)

    assert initial_clock(incident, w.em_a1a).due_at == met.due_at
    assert ReportingClock.objects.get(pk=follow_up.pk).due_at == follow_up.due_at
    assert _due(incident, w.em_a1) == minutes(180)  # the city's open clock still moves


def test_lowering_the_severity_moves_no_deadline(w):
    rule(Severity.II, initial_minutes=240, county_to_city_minutes=60, city_to_province_minutes=120)
    rule(Severity.IV, initial_minutes=1440, county_to_city_minutes=120, city_to_province_minutes=180)
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a], severity=Severity.II)
    before = dict(ReportingClock.objects.filter(incident=incident).values_list("pk", "due_at"))
    seq = ledger_seq()

    services.incident_set_severity(actor=commander(w), incident=incident, severity=Severity.IV, reason="缓解")

    assert dict(ReportingClock.objects.filter(incident=incident).values_list("pk", "due_at")) == before
    assert "clocks_moved" not in events_since(seq).get(action="incident.severity").after
