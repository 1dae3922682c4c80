"""Permission matrix for the incidents API (/api/v1/incidents/, situation-reports/, warnings/,
response-plans/).

Who sees the target incident (reported by the target department in city A1, for A1 only, no
leading group in charge): the staff of A1 and of the regions above it, so IN_SCOPE, LOWER_ROLE and
SAME_REGION_OTHER_DEPT; city B1 (OTHER_REGION, GUARDIAN_GRANT, REVOKED_GRANT) does not: a guardian
grant on a department opens that department, never its incidents. Reports, clocks, activations
and timeline entries follow their incident. Warnings are seen by their region (A1) and issuer.

Who commands it (verify, status, severity, leading group): emergency-management heads over the
reporting region and the information offices of leading groups covering it. Every world
department is an emergency-management department, so the neighbouring department's head commands
the incident too. Warning review and publication belong to information-office heads: no seated
state is one, so every state is refused (403 if it sees the warning, 404 if not); platform
administrators can (tests/api/test_incidents_api.py).
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import Category, ClockKind, IncidentStatus, ReportKind, Severity, Subtype, WarningLevel
from apps.incidents.models import (
    Incident,
    PlanActivation,
    PlanTaskTemplate,
    ReportingClock,
    ResponsePlan,
    SituationReport,
    TimelineEntry,
    Warning,
)
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType, LeadingGroupKind
from tests.matrix import incidents_world  # noqa: F401  (registers `incident`, `situation_report`, `warning`)
from tests.matrix.harness import (
    GHOST_ID,
    HIDDEN,
    Expect,
    State,
    action,
    cases,
    check,
    detail,
    listing,
    states_for,
    world_object,
)
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

INCIDENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}  # the reporting region (and above)
WARNING_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}  # the warning's region and its issuer
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}
# Emergency-management heads over A1: the target department's and (same type) the neighbour's.
COMMANDERS = {S.IN_SCOPE, S.SAME_REGION_OTHER_DEPT}
# Response plans are published templates: anyone holding a seat reads them.
SEATED = {s for s in State if s not in (S.ANONYMOUS, S.NO_ROLE)}


# --- targets (new names; `incident`, `situation_report` and `warning` come from incidents_world) --


@world_object("api_response_plan")
def _response_plan(w):
    """A plan matching the target incident (natural disaster, flood, level III). Plans have no
    service: administrators edit them in the admin console."""
    plan = ResponsePlan.objects.create(
        name="Alpha-Flood-Plan-III",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        lead_department_type=DepartmentType.EMERGENCY,
        notify_department_types=[DepartmentType.EMERGENCY],
    )
    PlanTaskTemplate.objects.create(
        plan=plan, title="Evacuate-River-Bank", target_department_type=DepartmentType.EMERGENCY, deadline_minutes=60
    )
    return plan


@world_object("api_plan_activation")
def _plan_activation(w):
    plan = w.api_response_plan
    services.incident_verify(actor=w.admin, incident=w.incident)
    return PlanActivation.objects.get(incident=w.incident, plan=plan)


@world_object("api_reporting_clock")
def _reporting_clock(w):
    return ReportingClock.objects.get(incident=w.incident, department=w.department, kind=ClockKind.INITIAL)


@world_object("api_timeline_entry")
def _timeline_entry(w):
    return TimelineEntry.objects.filter(incident=w.incident).order_by("occurred_at", "id").first()


@world_object("api_command_group")
def _command_group(w):
    """A leading group over province A whose information office is the target department."""
    return org_services.leading_group_create(
        actor=w.admin,
        name="Alpha-Command-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[w.province_a],
        information_office=w.department,
        big_data_center=w.third_party,
    )


# --- probes ------------------------------------------------------------------------------------


def incident_status(w):
    return Incident.objects.values_list("status", flat=True).get(pk=w.incident.pk)


def incident_severity(w):
    return Incident.objects.values_list("severity", flat=True).get(pk=w.incident.pk)


def incident_group(w):
    return Incident.objects.values_list("leading_group_id", flat=True).get(pk=w.incident.pk)


def department_incidents(w):
    return Incident.objects.filter(reporting_department=w.department).count()


def incident_reports(w):
    return SituationReport.objects.filter(incident=w.incident).count()


def department_warnings(w):
    return Warning.objects.filter(issuer=w.department).count()


def warning_status(w):
    return Warning.objects.values_list("status", flat=True).get(pk=w.warning.pk)


# --- routes under one incident (/incidents/{id}/<list>/) ---------------------------------------


def _error(response) -> dict:
    return {k: v for k, v in response.json()["error"].items() if k != "request_id"}


def _denied(user, obj) -> bool:
    return AuditEvent.objects.filter(
        actor=user, action="access.denied", target_type=obj._meta.label_lower, target_id=str(obj.pk)
    ).exists()


def incident_refusal(name: str, *, method: str = "get", forbidden_on=None):
    """check_extra for routes under one incident: a 404 is the hidden incident (recorded, and answered
    exactly like a nonexistent incident id); a 403 is recorded on `forbidden_on(world)`."""

    def check_extra(world, state, user, response):
        if user is None:
            return
        where = f"{name} as {state.value}"
        if response.status_code == 404:
            assert _denied(user, world.incident), f"{where}: the hidden incident was not recorded in the ledger"
            client = APIClient()
            client.force_login(user)
            ghost = getattr(client, method)(reverse(name, kwargs={"pk": GHOST_ID}), format="json")
            assert ghost.status_code == 404, f"{where}: a nonexistent incident answers {ghost.status_code}"
            assert _error(ghost) == _error(response), f"{where}: hidden and nonexistent incidents answer differently"
        elif response.status_code == 403:
            assert forbidden_on is not None, f"{where}: unexpected 403"
            assert _denied(user, forbidden_on(world)), f"{where}: the refusal was not recorded in the ledger"

    return check_extra


def nested(name: str, *, target: str, visible_to, role: str = Role.STAFF, **options):
    """A list under the target incident: 200 (holding `target` for `visible_to`) for those who see
    the incident, 404 for everyone else, since the incident is fetched through its scope first."""
    hidden = {s: HIDDEN for s in states_for(role) if s is not S.ANONYMOUS and s not in visible_to}
    return listing(
        name,
        target=target,
        visible_to=visible_to,
        role=role,
        kwargs=lambda w: {"pk": w.incident.pk},
        overrides=hidden,
        check_extra=incident_refusal(name),
        **options,
    )


ROUTES = register(
    "incidents-api",
    [
        # --- the register
        listing("api:incident-list", target="incident", visible_to=INCIDENT_VIEWERS),
        action(
            # The reporting department comes in the body: seen but not one's own is 403, unseen 404.
            "api:incident-list",
            "post",
            target="department",
            on_object=False,
            role=Role.STAFF,
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {
                "department": w.department.pk,
                "title": "Matrix-Reported-Fire",
                "category": Category.ACCIDENT,
                "subtype": Subtype.FIRE,
                "severity": Severity.IV,
                "place": "Alpha market",
                "first_seen_at": (timezone.now() - timedelta(minutes=10)).isoformat(),
            },
            probe=department_incidents,
            denial_target=lambda w: w.department,
        ),
        detail("api:incident-detail", target="incident", visible_to=INCIDENT_VIEWERS),
        # --- command (heads; the neighbour's head is an emergency-management head over A1 too)
        action(
            "api:incident-verify",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            probe=incident_status,
            note="the neighbouring department is emergency management too: its head commands A1's incidents",
        ),
        action(
            "api:incident-status",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            data=lambda w: {"status": IncidentStatus.CLOSED, "note": "False alarm"},
            probe=incident_status,
            note="the neighbouring department is emergency management too: its head commands A1's incidents",
        ),
        action(
            "api:incident-severity",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            data=lambda w: {"severity": Severity.II, "reason": "The river keeps rising"},
            probe=incident_severity,
            note="the neighbouring department is emergency management too: its head commands A1's incidents",
        ),
        action(
            "api:incident-leading-group",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to={S.IN_SCOPE, S.LOWER_ROLE},
            data=lambda w: {"group": w.api_command_group.pk},
            probe=incident_group,
            overrides={S.SAME_REGION_OTHER_DEPT: Expect(400)},
            note=(
                "the target department is the group's information office, and an office commands with "
                "head or staff seats, so LOWER_ROLE may too; the neighbour's head commands the incident "
                "but is not in the group, which it cannot even see: 400 on `group`"
            ),
        ),
        # --- situation reports of the incident
        nested("api:incident-reports", target="situation_report", visible_to=INCIDENT_VIEWERS),
        action(
            # The department in the body is the target department: the neighbour sees the incident
            # and the department but may not report for it (403, recorded on the department).
            "api:incident-reports",
            "post",
            target="incident",
            on_object=False,
            kwargs=lambda w: {"pk": w.incident.pk},
            role=Role.STAFF,
            visible_to=INCIDENT_VIEWERS,
            success=201,
            data=lambda w: {"department": w.department.pk, "kind": ReportKind.FOLLOW_UP, "text": "Matrix report"},
            probe=incident_reports,
            check_extra=incident_refusal("api:incident-reports", method="post", forbidden_on=lambda w: w.department),
        ),
        # --- timeline, clocks, activations
        nested("api:incident-timeline", target="api_timeline_entry", visible_to=INCIDENT_VIEWERS),
        listing(
            "api:incident-timeline-csv",
            marker=lambda w: w.incident.title,
            visible_to=INCIDENT_VIEWERS,
            kwargs=lambda w: {"pk": w.incident.pk},
            query={},
            overrides={s: HIDDEN for s in states_for(Role.STAFF) if s not in INCIDENT_VIEWERS | {S.ANONYMOUS}},
            check_extra=incident_refusal("api:incident-timeline-csv"),
        ),
        nested("api:incident-clocks", target="api_reporting_clock", visible_to=INCIDENT_VIEWERS),
        nested("api:incident-activations", target="api_plan_activation", visible_to=INCIDENT_VIEWERS),
        # --- situation reports (all incidents)
        listing("api:situation-report-list", target="situation_report", visible_to=INCIDENT_VIEWERS),
        detail("api:situation-report-detail", target="situation_report", visible_to=INCIDENT_VIEWERS),
        # --- warnings
        listing("api:warning-list", target="warning", visible_to=WARNING_VIEWERS),
        detail("api:warning-detail", target="warning", visible_to=WARNING_VIEWERS),
        action(
            "api:warning-list",
            "post",
            target="department",
            on_object=False,
            role=Role.STAFF,
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {
                "issuer": w.department.pk,
                "level": WarningLevel.BLUE,
                "title": "Matrix-Warning",
                "area": "Alpha hills",
                "starts_at": timezone.now().isoformat(),
                "expected_hours": 6,
                "measures": "Keep off the slopes",
            },
            probe=department_warnings,
            denial_target=lambda w: w.department,
        ),
        action(
            "api:warning-review",
            "post",
            target="warning",
            visible_to=WARNING_VIEWERS,
            allowed_to=(),
            probe=warning_status,
            note="information-office heads only; no state is an office",
        ),
        action(
            "api:warning-publish",
            "post",
            target="warning",
            visible_to=WARNING_VIEWERS,
            allowed_to=(),
            probe=warning_status,
            note="information-office heads only; no state is an office",
        ),
        action(
            "api:warning-return",
            "post",
            target="warning",
            visible_to=WARNING_VIEWERS,
            allowed_to=(),
            probe=warning_status,
            note="information-office heads only; no state is an office",
        ),
        action(
            # the issuer's staff may withdraw their own warning; the office may withdraw any
            "api:warning-withdraw",
            "post",
            target="warning",
            role=Role.STAFF,
            visible_to=WARNING_VIEWERS,
            probe=warning_status,
        ),
        # --- response plans
        listing("api:response-plan-list", target="api_response_plan", visible_to=SEATED),
        detail("api:response-plan-detail", target="api_response_plan", visible_to=SEATED),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
