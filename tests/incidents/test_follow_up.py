"""Services: the follow-up cadence (续报) runs while responding. Entering RESPONDING starts the next
follow-up (or daily) clock of each department that has reported and owes nothing else; leaving it
cancels the cadence (recorded, never deleted); closing cancels every open clock."""

from datetime import datetime

import pytest

from apps.incidents import services
from apps.incidents.choices import ClockKind, IncidentStatus, ReportKind, Severity
from apps.incidents.models import ReportingClock
from apps.notifications.models import Notification
from tests.incidents.world import (
    SHANGHAI,
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

S = IncidentStatus


def submit(w, incident, department, *, now, kind=ReportKind.INITIAL, **kwargs):
    return services.report_submit(
        actor=w.user(department), incident=incident, department=department, kind=kind, text="情况", now=now, **kwargs
    )


def move(w, incident, status, now):
    return services.incident_set_status(actor=commander(w), incident=incident, status=status, now=now)


def open_clocks(incident, **filters):
    return ReportingClock.objects.filter(incident=incident, satisfied_at=None, cancelled_at=None, **filters)


@pytest.fixture
def verified(w):
    """A county incident (III: county 60 min, city 180, province 240; follow-up every 240), verified.
    The county and the city have sent their initial reports (before verification: no cadence yet);
    the province has not."""
    rule(Severity.III)
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a])
    submit(w, incident, w.em_a1a, now=T0 + minutes(30))
    submit(w, incident, w.em_a1, now=T0 + minutes(90))
    incident = advance(w, incident, S.VERIFIED)
    assert not open_clocks(incident, kind=ClockKind.FOLLOW_UP).exists()
    return incident


def test_entering_responding_starts_follow_ups_for_the_departments_that_reported(w, verified):
    at = T0 + minutes(120)

    move(w, verified, S.RESPONDING, at)

    follow_ups = {c.department_id: c for c in open_clocks(verified, kind=ClockKind.FOLLOW_UP)}
    assert set(follow_ups) == {w.em_a1a.pk, w.em_a1.pk}
    assert {c.due_at for c in follow_ups.values()} == {at + minutes(240)}
    # the province has not reported: it still owes its initial report, its cadence starts when it sends it
    assert [c.kind for c in open_clocks(verified, department=w.em_a)] == [ClockKind.INITIAL]


def test_the_status_event_names_the_clocks_it_started(w, verified):
    commander(w)
    seq = ledger_seq()

    move(w, verified, S.RESPONDING, T0 + minutes(120))

    event = events_since(seq).get()
    assert event.action == "incident.status"
    started = set(open_clocks(verified, kind=ClockKind.FOLLOW_UP).values_list("pk", flat=True))
    assert set(event.after["clocks_started"]) == started and len(started) == 2


def test_an_open_follow_up_is_not_duplicated(w):
    # Given: the county reports while the incident is verified: its follow-up clock is already running
    rule(Severity.III)
    incident = advance(w, report_incident(w, department=w.em_a1a, regions=[w.a1a]), S.VERIFIED)
    submit(w, incident, w.em_a1a, now=T0 + minutes(30))
    running = open_clocks(incident, department=w.em_a1a).get()
    assert (running.kind, running.due_at) == (ClockKind.FOLLOW_UP, T0 + minutes(270))

    move(w, incident, S.RESPONDING, T0 + minutes(100))

    assert list(open_clocks(incident, department=w.em_a1a)) == [running]


def test_a_report_while_responding_keeps_the_cadence_going(w, verified):
    move(w, verified, S.RESPONDING, T0 + minutes(120))

    report = submit(w, verified, w.em_a1a, kind=ReportKind.FOLLOW_UP, now=T0 + minutes(300))

    assert not report.is_late
    nxt = open_clocks(verified, department=w.em_a1a).get()
    assert (nxt.kind, nxt.due_at) == (ClockKind.FOLLOW_UP, T0 + minutes(540))


def test_in_daily_mode_responding_starts_daily_reports_due_at_8_beijing_time(w, verified):
    rule(Severity.III, daily_report=True)

    move(w, verified, S.RESPONDING, datetime(2026, 3, 10, 23, 30, tzinfo=SHANGHAI))

    clocks = list(open_clocks(verified, kind=ClockKind.DAILY))
    assert {c.department_id for c in clocks} == {w.em_a1a.pk, w.em_a1.pk}
    assert {c.due_at for c in clocks} == {datetime(2026, 3, 11, 8, 0, tzinfo=SHANGHAI)}
    assert not open_clocks(verified, kind=ClockKind.FOLLOW_UP).exists()


def test_recovering_cancels_the_cadence_and_keeps_the_rows_and_owed_initial_reports(w, verified):
    move(w, verified, S.RESPONDING, T0 + minutes(120))
    cadence = set(open_clocks(verified, kind=ClockKind.FOLLOW_UP).values_list("pk", flat=True))
    commander(w)
    seq = ledger_seq()
    at = T0 + minutes(200)

    move(w, verified, S.RECOVERING, at)

    cancelled = ReportingClock.objects.filter(pk__in=cadence)
    assert cancelled.count() == 2  # recorded, not deleted
    assert set(cancelled.values_list("cancelled_at", flat=True)) == {at}
    assert set(events_since(seq).get(action="incident.status").after["clocks_cancelled"]) == cadence
    # the province's initial report is still owed
    assert open_clocks(verified, department=w.em_a).get().kind == ClockKind.INITIAL


def test_cancelled_follow_ups_never_escalate(w, verified):
    move(w, verified, S.RESPONDING, T0 + minutes(120))
    cadence = list(open_clocks(verified, kind=ClockKind.FOLLOW_UP))
    move(w, verified, S.RECOVERING, T0 + minutes(200))

    services.clocks_check(now=T0 + minutes(120 + 240 + 600))

    for clock in cadence:
        assert not Notification.objects.filter(key__startswith=f"clock:{clock.pk}:").exists()
        fresh = ReportingClock.objects.get(pk=clock.pk)
        assert all(getattr(fresh, f) is None for f in ReportingClock.STEP_FIELDS.values())


def test_a_report_while_recovering_starts_no_follow_up(w, verified):
    move(w, verified, S.RESPONDING, T0 + minutes(120))
    move(w, verified, S.RECOVERING, T0 + minutes(200))

    submit(w, verified, w.em_a1a, kind=ReportKind.FOLLOW_UP, now=T0 + minutes(210))

    assert not open_clocks(verified, department=w.em_a1a).exists()


def test_flaring_up_again_restarts_the_cadence(w, verified):
    move(w, verified, S.RESPONDING, T0 + minutes(120))
    move(w, verified, S.RECOVERING, T0 + minutes(200))
    again = T0 + minutes(600)

    move(w, verified, S.RESPONDING, again)

    follow_ups = open_clocks(verified, kind=ClockKind.FOLLOW_UP)
    assert {c.department_id for c in follow_ups} == {w.em_a1a.pk, w.em_a1.pk}
    assert {c.due_at for c in follow_ups} == {again + minutes(240)}
    assert ReportingClock.objects.filter(incident=verified, kind=ClockKind.FOLLOW_UP).count() == 4


def test_closing_while_responding_cancels_every_open_clock_and_names_them(w, verified):
    move(w, verified, S.RESPONDING, T0 + minutes(120))
    still_open = set(open_clocks(verified).values_list("pk", flat=True))
    assert len(still_open) == 3  # two follow-ups, the province's initial report
    commander(w)
    seq = ledger_seq()

    move(w, verified, S.CLOSED, T0 + minutes(200))

    assert not open_clocks(verified).exists()
    assert set(events_since(seq).get(action="incident.status").after["clocks_cancelled"]) == still_open
    assert initial_clock(verified, w.em_a1a).satisfied_at is not None  # met clocks stay met
