"""Services: situation reports (信息报送) and the statutory clocks they answer."""

from datetime import datetime, timedelta

import pytest

from apps.core.exceptions import AccessDenied, Conflict, ServiceError
from apps.incidents import services
from apps.incidents.choices import ClockKind, IncidentStatus, ReportKind, Severity
from apps.incidents.models import Incident, ReportingClock, SituationReport
from apps.ledger.models import AuditEvent
from tests.incidents.world import (
    SHANGHAI,
    T0,
    advance,
    events_since,
    initial_clock,
    ledger_seq,
    minutes,
    report_incident,
    rule,
)

pytestmark = pytest.mark.django_db


def submit(w, incident, department, *, kind=ReportKind.FOLLOW_UP, now=None, actor=None, **kwargs):
    return services.report_submit(
        actor=actor or w.user(department),
        incident=incident,
        department=department,
        kind=kind,
        text="现场情况",
        now=now or T0 + minutes(5),
        **kwargs,
    )


@pytest.fixture
def county_incident(w):
    """Severity III, first seen at T0, reported by county A1a's emergency department.
    Rule: initial 240 min, county→city 60, city→province 120, follow-up every 240."""
    rule(Severity.III)
    return report_incident(w, department=w.em_a1a, regions=[w.a1a], severity=Severity.III)


# --- numbering ----------------------------------------------------------------------------------


def test_reports_are_numbered_1_to_n_per_incident(w):
    first = report_incident(w, title="洪水")
    second = report_incident(w, title="山体滑坡")

    numbers = [submit(w, incident, w.em_a1).number for incident in (first, first, second, first, second)]

    assert numbers == [1, 2, 1, 3, 2]
    assert list(SituationReport.objects.filter(incident=first).values_list("number", flat=True)) == [1, 2, 3]
    assert Incident.objects.get(pk=first.pk).report_count == 3


# --- lateness (迟报) ------------------------------------------------------------------------------


def test_a_report_after_its_due_time_needs_a_reason(w, county_incident):
    due = initial_clock(county_incident, w.em_a1a).due_at
    actor = w.user(w.em_a1a)
    seq = ledger_seq()

    with pytest.raises(ServiceError) as refused:
        submit(w, county_incident, w.em_a1a, kind=ReportKind.INITIAL, now=due + minutes(15), actor=actor)

    assert refused.value.code == "late_reason_required"
    assert not SituationReport.objects.filter(incident=county_incident).exists()
    assert Incident.objects.get(pk=county_incident.pk).report_count == 0
    assert initial_clock(county_incident, w.em_a1a).satisfied_at is None
    assert not events_since(seq).exists()


def test_a_late_report_with_a_reason_is_flagged_late_by_the_delay(w, county_incident):
    due = initial_clock(county_incident, w.em_a1a).due_at
    submitted = due + minutes(15)

    report = submit(w, county_incident, w.em_a1a, kind=ReportKind.INITIAL, now=submitted, late_reason="夜间通信中断")

    assert report.is_late is True
    assert report.due_at == due
    assert report.submitted_at == submitted
    assert report.late_by == submitted - due == timedelta(minutes=15)
    assert report.late_reason == "夜间通信中断"


@pytest.mark.parametrize("early", [timedelta(minutes=59), timedelta(0)], ids=["well-before", "exactly-at-due"])
def test_an_on_time_report_is_not_late(w, county_incident, early):
    due = initial_clock(county_incident, w.em_a1a).due_at

    report = submit(w, county_incident, w.em_a1a, kind=ReportKind.INITIAL, now=due - early)

    assert report.is_late is False
    assert report.late_by is None
    assert report.due_at == due


# --- clocks a report answers and starts -----------------------------------------------------------


def test_a_report_satisfies_its_clock_and_starts_the_next_follow_up_while_responding(w, county_incident):
    incident = advance(w, county_incident, IncidentStatus.RESPONDING)
    clock = initial_clock(incident, w.em_a1a)
    now = T0 + minutes(40)

    report = submit(w, incident, w.em_a1a, kind=ReportKind.INITIAL, now=now)

    clock.refresh_from_db()
    assert (clock.satisfied_at, clock.satisfied_by_id) == (now, report.pk)
    follow_up = ReportingClock.objects.get(incident=incident, department=w.em_a1a, satisfied_at=None)
    assert follow_up.kind == ClockKind.FOLLOW_UP
    assert follow_up.due_at == now + minutes(240)
    assert follow_up.cancelled_at is None


def test_a_report_before_verification_starts_no_follow_up(w, county_incident):
    submit(w, county_incident, w.em_a1a, kind=ReportKind.INITIAL, now=T0 + minutes(40))

    assert not ReportingClock.objects.filter(
        incident=county_incident, department=w.em_a1a, satisfied_at=None, cancelled_at=None
    ).exists()


@pytest.mark.parametrize(
    ("submitted", "expected_due"),
    [
        # 23:30 Beijing time → 08:00 the next morning
        (datetime(2026, 3, 10, 23, 30, tzinfo=SHANGHAI), datetime(2026, 3, 11, 8, 0, tzinfo=SHANGHAI)),
        # 01:00 Beijing time on the 11th is still the 10th in UTC: the Beijing date counts
        (datetime(2026, 3, 11, 1, 0, tzinfo=SHANGHAI), datetime(2026, 3, 12, 8, 0, tzinfo=SHANGHAI)),
    ],
    ids=["late-evening", "after-midnight-beijing"],
)
def test_in_daily_mode_the_next_report_is_due_at_8_the_next_morning_beijing_time(
    w, county_incident, submitted, expected_due
):
    rule(Severity.III, daily_report=True)
    incident = advance(w, county_incident, IncidentStatus.RESPONDING)

    submit(w, incident, w.em_a1a, kind=ReportKind.INITIAL, now=submitted, late_reason="补报")

    nxt = ReportingClock.objects.get(incident=incident, department=w.em_a1a, satisfied_at=None)
    assert nxt.kind == ClockKind.DAILY
    assert nxt.due_at == expected_due


# --- idempotency, authority, closed incidents -----------------------------------------------------


def test_the_same_idempotency_key_returns_the_same_report(w, county_incident):
    actor = w.user(w.em_a1a)
    seq = ledger_seq()

    first = submit(w, county_incident, w.em_a1a, actor=actor, idempotency_key="req-7f3a")
    again = submit(w, county_incident, w.em_a1a, actor=actor, idempotency_key="req-7f3a")

    assert again.pk == first.pk
    assert again.number == 1
    assert SituationReport.objects.filter(incident=county_incident).count() == 1
    assert Incident.objects.get(pk=county_incident.pk).report_count == 1
    assert events_since(seq).filter(action="report.submit").count() == 1
    assert AuditEvent.objects.filter(action="report.submit", target_id=str(first.pk)).count() == 1


def test_the_same_idempotency_key_on_another_incident_is_a_conflict(w, county_incident):
    other = report_incident(w, department=w.em_a1a, regions=[w.a1a], title="另一起")
    first = submit(w, county_incident, w.em_a1a, idempotency_key="req-7f3a")

    with pytest.raises(Conflict):
        submit(w, other, w.em_a1a, idempotency_key="req-7f3a")

    assert not SituationReport.objects.filter(incident=other).exists()
    assert SituationReport.objects.get(idempotency_key="req-7f3a") == first


@pytest.mark.parametrize("other", ["em_a1", "fire_a1a", "em_a2"])
def test_a_department_that_is_not_the_callers_cannot_report(w, county_incident, other):
    # Given: county emergency staff, who see the incident
    actor = w.user(w.em_a1a)

    # When/Then: they report on behalf of another department
    with pytest.raises(AccessDenied):
        submit(w, county_incident, getattr(w, other), actor=actor)
    assert not SituationReport.objects.filter(incident=county_incident).exists()


def test_a_closed_incident_accepts_only_a_final_report(w, county_incident):
    incident = advance(w, county_incident, IncidentStatus.CLOSED)

    for kind in (ReportKind.INITIAL, ReportKind.FOLLOW_UP, ReportKind.DAILY):
        with pytest.raises(ServiceError):
            submit(w, incident, w.em_a1a, kind=kind)
    assert not SituationReport.objects.filter(incident=incident).exists()

    final = submit(w, incident, w.em_a1a, kind=ReportKind.FINAL, now=T0 + timedelta(days=3))
    assert (final.number, final.kind, final.is_late) == (1, ReportKind.FINAL, False)
    assert not ReportingClock.objects.filter(incident=incident, satisfied_at=None, cancelled_at=None).exists()


# --- the initial clocks -----------------------------------------------------------------------------


def _initial_due(incident, dept):
    return initial_clock(incident, dept).due_at - incident.first_seen_at


def test_initial_clocks_of_a_county_report_step_up_the_levels(w):
    # Given: initial 240 min, county→city 60, city→province 120 (none of them capped)
    rule(Severity.III, initial_minutes=240, county_to_city_minutes=60, city_to_province_minutes=120)

    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a], first_seen_at=T0 - minutes(20))

    # Then: county within 60, the city's emergency department within 60 + 120, the province within 240
    assert _initial_due(incident, w.em_a1a) == minutes(60)
    assert _initial_due(incident, w.em_a1) == minutes(180)
    assert _initial_due(incident, w.em_a) == minutes(240)
    clocks = ReportingClock.objects.filter(incident=incident)
    assert set(clocks.values_list("department_id", flat=True)) == {w.em_a1a.pk, w.em_a1.pk, w.em_a.pk}
    assert set(clocks.values_list("kind", flat=True)) == {ClockKind.INITIAL}


def test_initial_clocks_are_capped_by_the_statutory_limit(w):
    # Given: a severe level whose statutory limit (90 min) is shorter than the steps
    rule(Severity.I, initial_minutes=90, county_to_city_minutes=120, city_to_province_minutes=180)

    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a], severity=Severity.I)

    assert _initial_due(incident, w.em_a1a) == minutes(90)
    assert _initial_due(incident, w.em_a1) == minutes(90)
    assert _initial_due(incident, w.em_a) == minutes(90)


def test_initial_clocks_partly_capped(w):
    # county step fits (60 < 150); county + city (60 + 120 = 180) does not
    rule(Severity.II, initial_minutes=150, county_to_city_minutes=60, city_to_province_minutes=120)

    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a], severity=Severity.II)

    assert _initial_due(incident, w.em_a1a) == minutes(60)
    assert _initial_due(incident, w.em_a1) == minutes(150)
    assert _initial_due(incident, w.em_a) == minutes(150)


def test_only_emergency_departments_above_get_initial_clocks(w):
    # A1 has health and fire departments too: only its emergency department passes the report on
    rule(Severity.III)
    incident = report_incident(w, department=w.fire_a1a, regions=[w.a1a])

    clocks = set(ReportingClock.objects.filter(incident=incident).values_list("department_id", flat=True))
    assert clocks == {w.fire_a1a.pk, w.em_a1.pk, w.em_a.pk}
