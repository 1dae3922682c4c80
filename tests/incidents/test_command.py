"""Services: incident command. The status map, who may command, plans that activate by level,
one ledger event (and its timeline entry) per change, leading groups, closing."""

import pytest

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import Category, IncidentStatus, ReportKind, Severity, Subtype, TimelineKind
from apps.incidents.models import Incident, PlanActivation, PlannedDispatch, ReportingClock, TimelineEntry
from apps.notifications.models import Notification
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType as T
from apps.organizations.choices import LeadingGroupKind
from tests import factories as f
from tests.incidents.world import (
    T0,
    advance,
    commander,
    events_since,
    initial_clock,
    ledger_seq,
    minutes,
    open_agreement,
    plan,
    report_incident,
    rule,
)

pytestmark = pytest.mark.django_db

S = IncidentStatus


def status_of(incident) -> str:
    return Incident.objects.values_list("status", flat=True).get(pk=incident.pk)


def activated_plans(incident) -> list[int]:
    return sorted(PlanActivation.objects.filter(incident=incident).values_list("plan_id", flat=True))


# --- the transition map ---------------------------------------------------------------------------


def test_an_incident_walks_reported_verified_responding_recovering_closed(w):
    incident = report_incident(w)
    assert status_of(incident) == S.REPORTED

    for status in (S.VERIFIED, S.RESPONDING, S.RECOVERING, S.CLOSED):
        incident = services.incident_set_status(actor=commander(w), incident=incident, status=status)
        assert status_of(incident) == status

    assert Incident.objects.get(pk=incident.pk).closed_at is not None


def test_a_recovering_incident_can_flare_up_again(w):
    incident = advance(w, report_incident(w), S.RECOVERING)

    services.incident_set_status(actor=commander(w), incident=incident, status=S.RESPONDING)

    assert status_of(incident) == S.RESPONDING


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.REPORTED, S.RESPONDING),
        (S.REPORTED, S.RECOVERING),
        (S.REPORTED, S.REPORTED),
        (S.VERIFIED, S.REPORTED),
        (S.VERIFIED, S.VERIFIED),
        (S.VERIFIED, S.RECOVERING),
        (S.RESPONDING, S.REPORTED),
        (S.RESPONDING, S.VERIFIED),
        (S.RESPONDING, S.RESPONDING),
        (S.RECOVERING, S.REPORTED),
        (S.RECOVERING, S.VERIFIED),
    ],
)
def test_an_illegal_move_raises_invalid_transition_and_changes_nothing(w, start, target):
    # Given: an incident in `start`
    incident = advance(w, report_incident(w), start)
    actor = commander(w)
    seq = ledger_seq()

    # When: someone who may command tries to move it to `target`
    with pytest.raises(ServiceError) as refused:
        services.incident_set_status(actor=actor, incident=incident, status=target)

    # Then: refused as an invalid transition; nothing changed, nothing recorded
    assert refused.value.code == "invalid_transition"
    assert status_of(incident) == start
    assert not events_since(seq).exists()


@pytest.mark.parametrize("target", list(S))
def test_closed_is_final(w, target):
    incident = advance(w, report_incident(w), S.CLOSED)
    seq = ledger_seq()

    with pytest.raises(ServiceError) as refused:
        services.incident_set_status(actor=commander(w), incident=incident, status=target)

    assert refused.value.code == "invalid_transition"
    assert status_of(incident) == S.CLOSED
    assert not events_since(seq).exists()


def test_a_closed_incident_cannot_change_severity(w):
    incident = advance(w, report_incident(w), S.CLOSED)

    with pytest.raises(ServiceError) as refused:
        services.incident_set_severity(actor=commander(w), incident=incident, severity=Severity.I, reason="升级")

    assert refused.value.code == "invalid_transition"
    assert Incident.objects.get(pk=incident.pk).severity == Severity.III


# --- who may command ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dept", "role"),
    [
        ("em_a1a", Role.HEAD),  # emergency head of the reporting county
        ("em_a1", Role.HEAD),  # emergency head of the city above
        ("em_a", Role.HEAD),  # emergency head of the province above
        ("office_b", Role.STAFF),  # information office of a group covering the region
        ("office_b", Role.HEAD),
    ],
)
def test_command_holders_can_verify(w, dept, role):
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a])

    services.incident_verify(actor=w.user(dept, role), incident=incident)

    assert status_of(incident) == S.VERIFIED


@pytest.mark.parametrize(
    ("dept", "role"),
    [
        ("fire_a1a", Role.STAFF),  # a non-emergency department of the reporting region
        ("fire_a1a", Role.HEAD),
        ("health_a1", Role.HEAD),  # a non-emergency department of the region above
        ("em_a1a", Role.STAFF),  # emergency staff, not the head
        ("em_a1", Role.STEWARD),
        ("em_a2", Role.HEAD),  # the emergency head of another city
        ("em_b1", Role.HEAD),  # ... and of another province
    ],
)
def test_anyone_else_is_denied_verification(w, dept, role):
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a])
    actor = w.user(dept, role)
    seq = ledger_seq()

    with pytest.raises(AccessDenied):
        services.incident_verify(actor=actor, incident=incident)

    assert status_of(incident) == S.REPORTED
    assert not events_since(seq).exists()


def test_members_of_the_group_in_charge_see_but_do_not_command(w):
    incident = report_incident(w, regions=[w.a1])
    services.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)

    with pytest.raises(AccessDenied) as denied:
        services.incident_verify(actor=w.user(w.fire_b1, Role.HEAD), incident=incident)

    assert denied.value.hidden is False  # they see it: 403, not 404
    assert status_of(incident) == S.REPORTED


# --- plans --------------------------------------------------------------------------------------


def test_verifying_activates_the_plans_matching_category_subtype_and_severity(w):
    # Given: plans for several categories, sub-types and levels; one flood level-III plan is retired
    flood_iii = plan(subtype=Subtype.FLOOD, severity=Severity.III)
    any_natural_iii = plan(subtype="", severity=Severity.III)
    plan(subtype=Subtype.FLOOD, severity=Severity.II)
    plan(subtype=Subtype.EARTHQUAKE, severity=Severity.III)
    plan(category=Category.ACCIDENT, subtype=Subtype.CHEMICAL_SPILL, severity=Severity.III)
    plan(subtype=Subtype.FLOOD, severity=Severity.III, is_active=False, name="retired")
    incident = report_incident(w, severity=Severity.III, subtype=Subtype.FLOOD)
    assert activated_plans(incident) == []

    # When: it is verified
    services.incident_verify(actor=commander(w), incident=incident)

    # Then: exactly the flood-III and the every-sub-type natural-disaster-III plans are active
    assert activated_plans(incident) == sorted([flood_iii.pk, any_natural_iii.pk])
    assert set(PlanActivation.objects.filter(incident=incident).values_list("severity", flat=True)) == {Severity.III}


def test_an_activation_records_dispatches_for_target_type_departments_in_the_affected_regions_and_below(w):
    # Given: a plan with a fire task and a health task; an incident affecting A1 and (under an
    # agreement) B1; a provincial fire department above the affected regions
    plan(templates=(("消防力量前置", T.FIRE, 60), ("开展卫生防疫", T.HEALTH, 240)))
    f.department(region=w.a, type=T.FIRE, name="A省消防救援总队")
    open_agreement(w)
    incident = report_incident(w, regions=[w.a1, w.b1])

    # When
    services.incident_verify(actor=commander(w), incident=incident)

    # Then: one dispatch per (task, department of its type in A1, A1's county or B1); none for A2 or
    # the province
    activation = PlanActivation.objects.get(incident=incident)
    rows = {(d.title, d.department_id) for d in PlannedDispatch.objects.filter(activation=activation)}
    assert rows == {
        ("消防力量前置", w.fire_a1.pk),
        ("消防力量前置", w.fire_a1a.pk),
        ("消防力量前置", w.fire_b1.pk),
        ("开展卫生防疫", w.health_a1.pk),
    }
    for dispatch in PlannedDispatch.objects.filter(activation=activation).select_related("template"):
        assert dispatch.deadline == activation.activated_at + minutes(dispatch.template.deadline_minutes)


def test_an_activation_writes_one_plan_event_and_its_timeline_entry(w):
    the_plan = plan()
    incident = report_incident(w)
    seq = ledger_seq()

    services.incident_verify(actor=commander(w), incident=incident)

    events = list(events_since(seq).filter(action="plan.activate"))
    assert len(events) == 1
    assert events[0].after["plan"] == the_plan.pk
    entry = TimelineEntry.objects.get(incident=incident, kind=TimelineKind.PLAN)
    assert entry.ledger_seq == events[0].seq


def test_raising_severity_after_verification_activates_the_new_levels_plan_once(w):
    level_iii, level_ii = plan(severity=Severity.III), plan(severity=Severity.II)
    incident = report_incident(w, severity=Severity.III)
    services.incident_verify(actor=commander(w), incident=incident)
    assert activated_plans(incident) == [level_iii.pk]

    # When: raised to II, lowered to III, raised to II again
    for severity in (Severity.II, Severity.III, Severity.II):
        services.incident_set_severity(actor=commander(w), incident=incident, severity=severity, reason="研判")

    # Then: the level-II plan was activated exactly once
    assert activated_plans(incident) == sorted([level_iii.pk, level_ii.pk])
    assert PlanActivation.objects.get(incident=incident, plan=level_ii).severity == Severity.II
    assert events_since(0).filter(action="plan.activate", after__plan=level_ii.pk).count() == 1


def test_lowering_severity_keeps_every_activation_and_dispatch(w):
    plan(severity=Severity.II)
    incident = report_incident(w, severity=Severity.II)
    services.incident_verify(actor=commander(w), incident=incident)
    activations = set(PlanActivation.objects.filter(incident=incident).values_list("pk", flat=True))
    dispatches = set(PlannedDispatch.objects.filter(activation__incident=incident).values_list("pk", flat=True))
    assert activations and dispatches

    for severity in (Severity.III, Severity.IV):
        services.incident_set_severity(actor=commander(w), incident=incident, severity=severity, reason="险情缓解")

    assert activations <= set(PlanActivation.objects.filter(incident=incident).values_list("pk", flat=True))
    assert dispatches <= set(PlannedDispatch.objects.filter(activation__incident=incident).values_list("pk", flat=True))


def test_raising_severity_while_reported_activates_nothing_until_verified(w):
    plan(severity=Severity.III)
    level_ii = plan(severity=Severity.II)
    incident = report_incident(w, severity=Severity.III)

    services.incident_set_severity(actor=commander(w), incident=incident, severity=Severity.II, reason="核实中")
    assert activated_plans(incident) == []

    services.incident_verify(actor=commander(w), incident=incident)
    assert activated_plans(incident) == [level_ii.pk]


# --- one ledger event and one timeline entry per change ------------------------------------------


def _verify(w, incident):
    return services.incident_verify(actor=commander(w), incident=incident)


def _respond(w, incident):
    return services.incident_set_status(actor=commander(w), incident=incident, status=S.RESPONDING)


def _close(w, incident):
    return services.incident_set_status(actor=commander(w), incident=incident, status=S.CLOSED, note="处置完毕")


def _raise(w, incident):
    return services.incident_set_severity(actor=commander(w), incident=incident, severity=Severity.II, reason="扩大")


def _take_charge(w, incident):
    return services.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)


@pytest.mark.parametrize(
    ("start", "change", "action", "kind"),
    [
        (S.REPORTED, _verify, "incident.verify", TimelineKind.STATUS),
        (S.VERIFIED, _respond, "incident.status", TimelineKind.STATUS),
        (S.RESPONDING, _close, "incident.status", TimelineKind.STATUS),
        (S.RESPONDING, _raise, "incident.severity", TimelineKind.SEVERITY),
        (S.REPORTED, _take_charge, "incident.leading_group", TimelineKind.LEADING_GROUP),
    ],
    ids=["verify", "status", "close", "severity", "leading_group"],
)
def test_each_change_writes_one_ledger_event_and_a_timeline_entry_with_its_seq(w, start, change, action, kind):
    # Given: no plan would activate, so the change is the only thing recorded
    incident = advance(w, report_incident(w), start)
    commander(w), w.user(w.office_b)  # seat the actors first: seating writes its own ledger events
    seq = ledger_seq()
    last_entry = TimelineEntry.objects.order_by("-id").values_list("id", flat=True).first()

    # When
    change(w, incident)

    # Then: exactly one event, of the right action, about the incident ...
    events = list(events_since(seq))
    assert [e.action for e in events] == [action]
    event = events[0]
    assert (event.target_type, event.target_id) == ("incidents.incident", str(incident.pk))
    assert event.before != event.after
    # ... and exactly one timeline entry pointing at it
    entries = list(TimelineEntry.objects.filter(incident=incident, id__gt=last_entry))
    assert len(entries) == 1
    assert entries[0].kind == kind
    assert entries[0].ledger_seq == event.seq


# --- leading groups -----------------------------------------------------------------------------


def test_the_groups_information_office_puts_the_incident_in_its_charge(w):
    incident = report_incident(w, regions=[w.a1])

    services.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)

    assert Incident.objects.get(pk=incident.pk).leading_group == w.group
    told = set(Notification.objects.filter(kind="incident.leading_group").values_list("department_id", flat=True))
    assert told == {w.office_b.pk, w.bdc_b1.pk, w.fire_b1.pk}


def _refused_and_unchanged(w, incident, actor, group):
    seq = ledger_seq()
    # Refusal is a ServiceError today (a business rule in the service); an AccessDenied would do as well.
    with pytest.raises((ServiceError, AccessDenied)):
        services.incident_assign_leading_group(actor=actor, incident=incident, group=group)
    assert Incident.objects.get(pk=incident.pk).leading_group_id is None
    assert not events_since(seq).exists()


def test_a_command_holder_outside_the_groups_office_cannot_assign_it(w):
    incident = report_incident(w, regions=[w.a1])
    head = w.user(w.em_a1, Role.HEAD)
    services.incident_verify(actor=head, incident=incident)  # the head does hold `command`

    _refused_and_unchanged(w, incident, head, w.group)


def test_the_office_of_another_group_cannot_assign_this_group(w):
    # Given: a second group that also covers A1, with its own information office
    other_office = f.department(region=w.a, type=T.RESEARCH, name="A省信息办")
    org_services.leading_group_create(
        actor=f.admin_user(),
        name="A1防汛小组",
        kind=LeadingGroupKind.CONVENED,
        regions=[w.a1],
        information_office=other_office,
        big_data_center=f.department(region=w.a, type=T.BIG_DATA_COMPANY),
    )
    incident = report_incident(w, regions=[w.a1])

    _refused_and_unchanged(w, incident, w.user(other_office, Role.HEAD), w.group)


# --- closing ------------------------------------------------------------------------------------


def test_closing_cancels_open_clocks(w):
    # Given: a county report starts clocks for the county, the city and the province; the county
    # meets its own
    rule()
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a])
    services.report_submit(
        actor=w.user(w.em_a1a),
        incident=incident,
        department=w.em_a1a,
        kind=ReportKind.INITIAL,
        text="初报",
        now=T0 + minutes(10),
    )
    met = initial_clock(incident, w.em_a1a)
    assert met.satisfied_at is not None
    assert ReportingClock.objects.filter(incident=incident, satisfied_at__isnull=True).count() == 2

    # When
    incident = services.incident_set_status(actor=commander(w), incident=incident, status=S.CLOSED)

    # Then: the two open clocks are cancelled at the closing time; the met one is left as it was
    closed_at = Incident.objects.get(pk=incident.pk).closed_at
    for clock in ReportingClock.objects.filter(incident=incident).exclude(pk=met.pk):
        assert clock.cancelled_at == closed_at
    met.refresh_from_db()
    assert met.cancelled_at is None
    assert not ReportingClock.objects.filter(incident=incident, satisfied_at=None, cancelled_at=None).exists()
