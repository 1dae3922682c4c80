"""Services: the clock beat job. Each escalation step of a reporting clock happens once, at its
time: reminder (due − 30 min), the department head (due), the region above (due + 30), the
leading group's information office (due + 60)."""

import pytest
import time_machine
from django.utils import timezone

from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import ClockStep, IncidentStatus, ReportKind, Severity, TimelineKind
from apps.incidents.models import ReportingClock, TimelineEntry
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.notifications.selectors import notification_list
from tests.incidents.world import T0, advance, initial_clock, minutes, report_incident, rule

pytestmark = pytest.mark.django_db

STEPS = list(ClockStep)
NOTHING = {step: 0 for step in ClockStep.values}


@pytest.fixture
def clock(w):
    """The county's initial-report clock: first seen T0, due T0 + 60 min. The group is in charge."""
    rule(
        Severity.III,
        county_to_city_minutes=60,
        city_to_province_minutes=120,
        initial_minutes=240,
        remind_before_minutes=30,
        escalate_region_after_minutes=30,
        escalate_group_after_minutes=60,
    )
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a])
    services.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)
    clock = initial_clock(incident, w.em_a1a)
    assert clock.due_at == T0 + minutes(60)
    return clock


def notes(clock, step=None):
    prefix = f"clock:{clock.pk}:" + (f"{step}:" if step else "")
    return Notification.objects.filter(key__startswith=prefix)


def events(clock, step=None):
    qs = AuditEvent.objects.filter(target_type="incidents.reportingclock", target_id=str(clock.pk))
    return qs.filter(action=f"clock.{step}") if step else qs


def clock_entries(clock):
    return TimelineEntry.objects.filter(kind=TimelineKind.CLOCK, target_id=str(clock.pk))


def fresh(clock):
    return ReportingClock.objects.get(pk=clock.pk)


def test_before_the_reminder_window_nothing_happens(w, clock):
    counts = services.clocks_check(now=clock.due_at - minutes(31))

    assert counts == NOTHING
    assert not notes(clock).exists()
    assert not events(clock).exists()
    assert fresh(clock).reminded_at is None


def test_at_due_minus_30_the_department_is_reminded(w, clock):
    at = clock.due_at - minutes(30)

    counts = services.clocks_check(now=at)

    assert counts == NOTHING | {ClockStep.REMINDED: 1}
    reminder = notes(clock).get()
    assert reminder.kind == "clock.reminded"
    assert reminder.department == w.em_a1a
    assert reminder.audience_role == ""  # everyone in the department
    assert notification_list(user=w.user(w.em_a1a)).filter(pk=reminder.pk).exists()
    assert events(clock, ClockStep.REMINDED).count() == 1
    assert not clock_entries(clock).exists()  # reminders stay off the timeline
    assert fresh(clock).reminded_at == at


def test_at_due_the_department_head_is_escalated_to_and_only_the_head_sees_it(w, clock):
    services.clocks_check(now=clock.due_at)

    escalation = notes(clock, ClockStep.HEAD).get()
    assert escalation.department == w.em_a1a
    assert escalation.audience_role == "head"
    assert notification_list(user=w.user(w.em_a1a, Role.HEAD)).filter(pk=escalation.pk).exists()
    assert not notification_list(user=w.user(w.em_a1a, Role.STAFF)).filter(pk=escalation.pk).exists()
    assert not notification_list(user=w.user(w.em_a1a, Role.STEWARD)).filter(pk=escalation.pk).exists()
    # staff still see the reminder addressed to the whole department
    staff_sees = notification_list(user=w.user(w.em_a1a, Role.STAFF)).filter(key__startswith=f"clock:{clock.pk}:")
    assert list(staff_sees.values_list("kind", flat=True)) == ["clock.reminded"]
    assert not notes(clock, ClockStep.REGION_ABOVE).exists()


def test_at_due_plus_region_delay_the_emergency_department_above_is_told(w, clock):
    services.clocks_check(now=clock.due_at + minutes(29))
    assert not notes(clock, ClockStep.REGION_ABOVE).exists()

    services.clocks_check(now=clock.due_at + minutes(30))

    told = set(notes(clock, ClockStep.REGION_ABOVE).values_list("department_id", flat=True))
    assert told == {w.em_a1.pk}  # the city's emergency department; not its health or fire department
    assert not notes(clock, ClockStep.LEADING_GROUP).exists()


def test_at_due_plus_group_delay_the_leading_groups_information_office_is_told(w, clock):
    services.clocks_check(now=clock.due_at + minutes(59))
    assert not notes(clock, ClockStep.LEADING_GROUP).exists()

    services.clocks_check(now=clock.due_at + minutes(60))

    told = set(notes(clock, ClockStep.LEADING_GROUP).values_list("department_id", flat=True))
    assert told == {w.office_b.pk}


def test_each_step_is_one_ledger_event_and_escalations_are_timeline_entries(w, clock):
    for offset in (-30, 0, 30, 60):
        services.clocks_check(now=clock.due_at + minutes(offset))

    for step in STEPS:
        assert events(clock, step).count() == 1, step
    entries = list(clock_entries(clock))
    assert len(entries) == 3  # head, region above, leading group: not the reminder
    escalation_seqs = set(events(clock).exclude(action="clock.reminded").values_list("seq", flat=True))
    assert {e.ledger_seq for e in entries} == escalation_seqs
    assert all(e.incident_id == clock.incident_id for e in entries)


def test_a_late_first_run_takes_every_due_step_at_once(w, clock):
    counts = services.clocks_check(now=clock.due_at + minutes(90))

    assert counts[ClockStep.HEAD] >= 1
    for step in STEPS:
        assert notes(clock, step).count() == 1, step
        assert events(clock, step).count() == 1, step


@pytest.mark.parametrize("later", [0, 1, 60 * 24])
def test_rerunning_never_repeats_a_step(w, clock, later):
    at = clock.due_at + minutes(60)
    services.clocks_check(now=at)
    before_notes = set(notes(clock).values_list("pk", flat=True))
    before_events = set(events(clock).values_list("pk", flat=True))
    assert len(before_notes) == len(before_events) == 4

    for _ in range(3):
        services.clocks_check(now=at + minutes(later))  # (a day later the city's and province's clocks escalate)

    assert set(notes(clock).values_list("pk", flat=True)) == before_notes
    assert set(events(clock).values_list("pk", flat=True)) == before_events
    assert clock_entries(clock).count() == 3


def test_a_satisfied_clock_never_escalates(w, clock):
    # Given: the county reports on time
    services.report_submit(
        actor=w.user(w.em_a1a),
        incident=clock.incident,
        department=w.em_a1a,
        kind=ReportKind.INITIAL,
        text="初报",
        now=clock.due_at - minutes(45),
    )
    assert fresh(clock).satisfied_at is not None

    # When: the beat runs through every step's time
    for offset in (-30, 0, 30, 60, 600):
        services.clocks_check(now=clock.due_at + minutes(offset))

    # Then
    assert not notes(clock).exists()
    assert not events(clock).exists()
    assert not clock_entries(clock).exists()


def test_a_reminded_clock_satisfied_before_due_escalates_no_further(w, clock):
    services.clocks_check(now=clock.due_at - minutes(30))
    services.report_submit(
        actor=w.user(w.em_a1a),
        incident=clock.incident,
        department=w.em_a1a,
        kind=ReportKind.INITIAL,
        text="初报",
        now=clock.due_at - minutes(10),
    )

    services.clocks_check(now=clock.due_at + minutes(120))

    assert list(notes(clock).values_list("kind", flat=True)) == ["clock.reminded"]
    assert list(events(clock).values_list("action", flat=True)) == ["clock.reminded"]


def test_a_cancelled_clock_never_escalates(w, clock):
    # Given: the clock is cancelled while its incident stays open
    ReportingClock.objects.filter(pk=clock.pk).update(cancelled_at=clock.due_at - minutes(40))

    for offset in (-30, 0, 30, 60):
        services.clocks_check(now=clock.due_at + minutes(offset))

    assert not notes(clock).exists()
    assert not events(clock).exists()


def test_the_clocks_of_a_closed_incident_never_escalate(w, clock):
    advance(w, clock.incident, IncidentStatus.CLOSED)

    services.clocks_check(now=clock.due_at + minutes(600))

    for c in ReportingClock.objects.filter(incident=clock.incident):
        assert c.cancelled_at is not None
        assert not notes(c).exists()
        assert not events(c).exists()


def test_the_default_now_is_the_current_time(w, clock):
    # Given: the wall clock moved to 61 minutes after the county's deadline
    with time_machine.travel(clock.due_at + minutes(61), tick=False):
        # When: the beat runs without an injected time
        counts = services.clocks_check()
        now = timezone.now()

    # Then: every step of the county's clock was taken at that moment; the city's (due T0 + 180)
    # and the province's (T0 + 240) are not yet in their reminder windows
    assert counts == {step: 1 for step in ClockStep.values}
    c = fresh(clock)
    assert c.reminded_at == c.escalated_head_at == c.escalated_region_at == c.escalated_group_at == now
    for step in STEPS:
        assert notes(clock, step).exists(), step


def test_the_default_now_before_the_window_does_nothing(w, clock):
    with time_machine.travel(clock.due_at - minutes(45), tick=False):
        assert services.clocks_check() == NOTHING
    assert not notes(clock).exists()
