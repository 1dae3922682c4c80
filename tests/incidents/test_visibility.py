"""Selectors: who sees an incident, everything hanging off it, and warnings.

The rule (Incident's docstring): the reporting region and the regions above it, every affected
region, the members of the leading group in charge, and the information office of any leading
group whose regions it touches; nobody else.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.exceptions import AccessDenied
from apps.core.permissions import Role
from apps.incidents import selectors, services
from apps.incidents.choices import ReportKind, WarningLevel
from apps.incidents.models import (
    Incident,
    PlanActivation,
    ReportingClock,
    SituationReport,
    TimelineEntry,
    Warning,
)
from apps.notifications.models import Notification
from apps.organizations import services as org_services
from apps.organizations.choices import AgreementStatus, LeadingGroupKind
from apps.organizations.choices import DepartmentType as T
from apps.organizations.selectors import department_list
from tests import factories as f
from tests.incidents.world import commander, open_agreement, plan, report_incident

pytestmark = pytest.mark.django_db


def sees(user, incident) -> bool:
    return selectors.incident_list(user=user).filter(pk=incident.pk).exists()


def office_assigns_group(w, incident):
    return services.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)


# --- incidents ----------------------------------------------------------------------------------


def test_the_reporting_region_sees_its_incident(w):
    # Given: an incident reported by A1's emergency department for A1 only
    incident = report_incident(w)

    # Then: the reporting department and another department of A1 see it
    assert sees(w.user(w.em_a1), incident)
    assert sees(w.user(w.health_a1), incident)


def test_the_regions_above_the_reporting_region_see_it(w):
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a])

    assert sees(w.user(w.em_a1), incident)  # the city above the reporting county
    assert sees(w.user(w.em_a), incident)  # the province above both


def test_every_affected_region_sees_it(w):
    # Given: under an agreement with province B, A1 reports a flood that also affects B1 downstream
    open_agreement(w)
    incident = report_incident(w, regions=[w.a1, w.b1])

    # Then: B1's departments (and province B above them) see it, though B1 did not report it
    assert sees(w.user(w.em_b1), incident)
    assert sees(w.user(w.fire_b1), incident)
    assert sees(w.user(w.em_b), incident)
    # ... while the unaffected sibling city A2 still does not
    assert not sees(w.user(w.em_a2), incident)


def test_a_sibling_city_named_as_affected_sees_it(w):
    # Given: the province reports a flood affecting cities A1 and A2
    incident = report_incident(w, department=w.em_a, regions=[w.a1, w.a2])

    assert sees(w.user(w.em_a2), incident)
    assert sees(w.user(w.fire_a2), incident)
    assert sees(w.user(w.em_a1), incident)


def test_another_region_does_not_see_it(w):
    incident = report_incident(w, regions=[w.a1])

    assert not sees(w.user(w.em_a2), incident)  # the sibling city
    assert not sees(w.user(w.em_b1), incident)  # another province's city
    assert not sees(w.user(w.em_b, Role.HEAD), incident)  # another province


def test_leading_group_members_see_it_once_the_group_takes_charge(w):
    # Given: B1's fire department and big-data center sit in the group; the incident is A1's only
    incident = report_incident(w, regions=[w.a1])
    assert not sees(w.user(w.fire_b1), incident)
    assert not sees(w.user(w.bdc_b1), incident)

    # When: the group takes charge
    office_assigns_group(w, incident)

    # Then: its member departments see it; a non-member department of the same city still does not
    assert sees(w.user(w.fire_b1), incident)
    assert sees(w.user(w.bdc_b1), incident)
    assert not sees(w.user(w.em_b1), incident)


def test_the_information_office_of_a_group_covering_its_regions_sees_it(w):
    # Given: the group covers A1 and B1; its office sits in province B, which A1's incident never touches
    incident = report_incident(w, regions=[w.a1])

    # Then: the office sees it before any group takes charge; the office of a group elsewhere does not
    assert incident.leading_group_id is None
    assert sees(w.user(w.office_b), incident)
    assert sees(w.user(w.office_b, Role.HEAD), incident)

    other_office = f.department(region=w.b, type=T.RESEARCH, name="B省另一信息办")
    org_services.leading_group_create(
        actor=f.admin_user(),
        name="A2小组",
        kind=LeadingGroupKind.CONVENED,
        regions=[w.a2],
        information_office=other_office,
        big_data_center=f.department(region=w.b, type=T.BIG_DATA_COMPANY),
    )
    assert not sees(w.user(other_office), incident)


def test_a_guardian_grant_on_the_reporting_department_does_not_open_its_incidents(w):
    # Given: B1's emergency department holds a view grant on A1's emergency department
    incident = report_incident(w, regions=[w.a1])
    org_services.department_grant(actor=w.user(w.em_a1, Role.HEAD), department=w.em_a1, grantee=w.em_b1)
    grantee = w.user(w.em_b1)
    assert department_list(user=grantee).filter(pk=w.em_a1.pk).exists()  # the grant works for the department

    # Then: it opens the department, not the department's incidents
    assert not sees(grantee, incident)


def _agreement(w, *, status=AgreementStatus.ACTIVE, valid_from=None, valid_until=None, **flags):
    admin = f.admin_user()
    agreement = org_services.agreement_create(
        actor=admin,
        title="A-B 协议",
        parties=[w.a, w.b],
        valid_from=valid_from or timezone.now() - timedelta(days=1),
        valid_until=valid_until,
        **flags,
    )
    for step in {
        AgreementStatus.DRAFT: [],
        AgreementStatus.ACTIVE: [AgreementStatus.ACTIVE],
        AgreementStatus.SUSPENDED: [AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED],
        AgreementStatus.TERMINATED: [AgreementStatus.ACTIVE, AgreementStatus.TERMINATED],
    }[status]:
        org_services.agreement_set_status(actor=admin, agreement=agreement, status=step)
    return agreement


def test_an_agreement_sharing_incidents_opens_the_partners_incidents_read_only(w):
    # Given: provinces A and B in an active agreement that shares incidents; A1's incident is A1's only
    _agreement(w, share_incidents=True)
    incident = report_incident(w, regions=[w.a1], first_seen_at=timezone.now() - timedelta(minutes=10))
    services.report_submit(
        actor=w.user(w.em_a1), incident=incident, department=w.em_a1, kind=ReportKind.INITIAL, text="初报"
    )

    # Then: B's staff see it (B1 below the party too) and what hangs off it, but cannot command it
    for user in (w.user(w.em_b1), w.user(w.em_b, Role.HEAD), w.user(w.fire_b1)):
        assert sees(user, incident)
        assert SituationReport.objects.restrict(user, "view").filter(incident=incident).exists()
    b_head = w.user(w.em_b, Role.HEAD)
    assert not Incident.objects.restrict(b_head, "command").filter(pk=incident.pk).exists()
    with pytest.raises(AccessDenied) as denied:
        services.incident_verify(actor=b_head, incident=incident)
    assert denied.value.hidden is False  # seen, so refused rather than hidden
    # ... and A's staff see B's incidents the same way (the agreement is mutual)
    b_incident = report_incident(w, department=w.em_b1, regions=[w.b1], title="B1 内涝")
    assert sees(w.user(w.em_a2), b_incident)


def test_an_agreement_not_sharing_incidents_opens_none_though_it_opens_the_directory(w):
    _agreement(w, share_incidents=False)
    incident = report_incident(w, regions=[w.a1])
    b1_staff = w.user(w.em_b1)
    assert department_list(user=b1_staff).filter(pk=w.em_a1.pk).exists()  # the agreement is in force

    assert not sees(b1_staff, incident)
    assert not sees(w.user(w.em_b, Role.HEAD), incident)


@pytest.mark.parametrize("state", ["draft", "expired", "not_yet", "suspended", "terminated"])
def test_an_agreement_out_of_force_opens_no_incident(w, state):
    now = timezone.now()
    kwargs = {
        "draft": {"status": AgreementStatus.DRAFT},
        "expired": {"valid_from": now - timedelta(days=10), "valid_until": now - timedelta(days=1)},
        "not_yet": {"valid_from": now + timedelta(days=1)},
        "suspended": {"status": AgreementStatus.SUSPENDED},
        "terminated": {"status": AgreementStatus.TERMINATED},
    }[state]
    _agreement(w, share_incidents=True, **kwargs)
    incident = report_incident(w, regions=[w.a1])

    assert not sees(w.user(w.em_b1), incident)


def test_a_shared_incident_is_not_passed_on_to_a_third_region(w):
    # Given: A and B share incidents; A1 reports an incident that also affects B1
    _agreement(w, share_incidents=True)
    incident = report_incident(w, regions=[w.a1, w.b1])
    # ... and a province C shares incidents with B only
    c = f.region(name="省C")
    em_c = f.department(region=c, type=T.EMERGENCY, name="C省应急管理厅")
    admin = f.admin_user()
    bc = org_services.agreement_create(
        actor=admin, title="B-C 协议", parties=[w.b, c], valid_from=timezone.now() - timedelta(days=1)
    )
    org_services.agreement_set_status(actor=admin, agreement=bc, status=AgreementStatus.ACTIVE)

    # Then: C sees B's own incidents only, not A's incident that merely affects B
    assert sees(w.user(w.em_b1), incident)
    assert not sees(w.user(em_c), incident)


def test_users_without_a_seat_see_no_incident(w):
    from django.contrib.auth.models import AnonymousUser

    report_incident(w)
    assert not selectors.incident_list(user=AnonymousUser()).exists()
    assert not selectors.incident_list(user=f.UserFactory()).exists()


# --- what hangs off an incident follows it ---------------------------------------------------------


@pytest.fixture
def busy_incident(w):
    """An A1 incident with a plan activation, a report, clocks and timeline entries."""
    plan()
    incident = report_incident(w, regions=[w.a1], first_seen_at=timezone.now() - timedelta(minutes=10))
    incident = services.incident_verify(actor=commander(w), incident=incident)
    services.report_submit(
        actor=w.user(w.em_a1), incident=incident, department=w.em_a1, kind=ReportKind.INITIAL, text="首报"
    )
    assert PlanActivation.objects.filter(incident=incident).exists()
    assert SituationReport.objects.filter(incident=incident).exists()
    assert ReportingClock.objects.filter(incident=incident).exists()
    assert TimelineEntry.objects.filter(incident=incident).exists()
    return incident


CHILD_LISTS = {
    SituationReport: selectors.report_list,
    ReportingClock: selectors.clock_list,
    TimelineEntry: selectors.timeline_list,
    PlanActivation: selectors.activation_list,
}


@pytest.mark.parametrize(
    ("dept", "role", "expected"),
    [
        ("em_a1", Role.STAFF, True),  # reporting region
        ("health_a1", Role.STEWARD, True),  # reporting region, any role
        ("em_a", Role.STAFF, True),  # region above
        ("office_b", Role.STAFF, True),  # information office of a covering group
        ("em_a2", Role.HEAD, False),  # another region
        ("fire_b1", Role.STAFF, False),  # group member, but the group has not taken charge
        ("em_b1", Role.HEAD, False),  # another province
    ],
)
@pytest.mark.parametrize("model", list(CHILD_LISTS), ids=lambda m: m.__name__)
def test_reports_clocks_timeline_and_activations_follow_the_incident(w, busy_incident, dept, role, expected, model):
    # Given: a user who does (or does not) see the incident
    user = w.user(dept, role)
    assert sees(user, busy_incident) is expected

    # Then: they see all of its reports/clocks/timeline/activations, or none of them
    everything = set(model.objects.filter(incident=busy_incident).values_list("pk", flat=True))
    visible = set(CHILD_LISTS[model](user=user).filter(incident=busy_incident).values_list("pk", flat=True))
    assert visible == (everything if expected else set())


def test_children_open_to_group_members_when_the_group_takes_charge(w, busy_incident):
    member = w.user(w.fire_b1)
    assert not selectors.timeline_list(user=member).filter(incident=busy_incident).exists()

    office_assigns_group(w, busy_incident)

    member = w.user(w.fire_b1)
    for model, selector in CHILD_LISTS.items():
        everything = set(model.objects.filter(incident=busy_incident).values_list("pk", flat=True))
        assert set(selector(user=member).filter(incident=busy_incident).values_list("pk", flat=True)) == everything


def test_every_department_an_activation_dispatches_to_sees_the_incident(w):
    # Given: a plan whose fire task goes to fire departments in the affected region and below
    plan()
    incident = report_incident(w, regions=[w.a1])

    # When: it is verified and the plan activates
    services.incident_verify(actor=commander(w), incident=incident)

    # Then: each department given work (A1's fire brigade and the county's below it) can open the
    # incident and the activation that dispatched it, not a 404 behind its task
    dispatched = set(PlanActivation.objects.filter(incident=incident).values_list("dispatches__department", flat=True))
    assert dispatched == {w.fire_a1.pk, w.fire_a1a.pk}
    for dept in (w.fire_a1, w.fire_a1a):
        user = w.user(dept)
        assert sees(user, incident), dept.name
        assert selectors.activation_list(user=user).filter(incident=incident).exists(), dept.name


# --- warnings -----------------------------------------------------------------------------------


def draft_warning(w, *, issuer, region, incident=None):
    return services.warning_draft(
        actor=w.user(issuer),
        issuer=issuer,
        region=region,
        level=WarningLevel.ORANGE,
        title="江水超警戒橙色预警",
        area="沿江低洼地区",
        starts_at=timezone.now(),
        expected_hours=24,
        measures="远离江堤",
        incident=incident,
    )


def warning_seen(user, warning) -> bool:
    return selectors.warning_list(user=user).filter(pk=warning.pk).exists()


def test_a_warning_is_visible_throughout_its_region_subtree(w):
    # Given: A1's emergency department warns city A1; the information office reviews and publishes it
    warning = draft_warning(w, issuer=w.em_a1, region=w.a1)
    office_head = w.user(w.office_b, Role.HEAD)
    services.warning_review(actor=office_head, warning=warning)
    warning = services.warning_publish(actor=office_head, warning=warning)

    # Then: every department in A1's subtree sees it: another A1 department and the county below,
    # the very departments the publication notified
    notified = set(Notification.objects.filter(kind="warning.published").values_list("department_id", flat=True))
    assert {w.health_a1.pk, w.fire_a1a.pk, w.em_a1a.pk} <= notified
    assert warning_seen(w.user(w.health_a1), warning)
    assert warning_seen(w.user(w.fire_a1a), warning)
    assert warning_seen(w.user(w.em_a1a), warning)


def test_a_warning_is_not_visible_outside_its_region_subtree(w):
    warning = draft_warning(w, issuer=w.em_a1, region=w.a1)

    assert not warning_seen(w.user(w.em_a2), warning)
    assert not warning_seen(w.user(w.em_b1), warning)
    assert not Warning.objects.restrict(w.user(w.fire_b1), "view").filter(pk=warning.pk).exists()


def test_a_warning_is_visible_to_its_issuer(w):
    # Given: A1's incident affects B1 (under an agreement); A1 warns B1, downstream, about it
    open_agreement(w)
    incident = report_incident(w, regions=[w.a1, w.b1])
    warning = draft_warning(w, issuer=w.em_a1, region=w.b1, incident=incident)

    # Then: the issuing department sees it though B1 is outside its region; another A1 department,
    # neither issuer nor in B1's subtree, does not
    assert warning_seen(w.user(w.em_a1), warning)
    assert not warning_seen(w.user(w.health_a1), warning)


def test_a_warning_cannot_be_tied_to_an_incident_the_issuer_does_not_see(w):
    # Given: an A1 incident that B1 does not see
    incident = report_incident(w, regions=[w.a1])

    # When/Then: B1 cannot attach its warning to it (which would leak the incident through the warning)
    with pytest.raises(AccessDenied):
        draft_warning(w, issuer=w.em_b1, region=w.a1, incident=incident)
    assert not Warning.objects.filter(incident=incident).exists()
