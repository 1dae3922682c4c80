"""Permission matrix for the incident and warning portal pages.

The world's incident is reported by the target department (city A1) for its own region; no
leading group is in charge. So the city's seats see it (IN_SCOPE, LOWER_ROLE and the neighbouring
department), nobody in province B does (a department grant opens the department, not its
incidents). Every world department is an emergency-management department, so the neighbour's
head may command the incident too (the rule: emergency heads over the reporting region). Nobody
in the world sits in an information office, so nobody may review or publish the warning.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.permissions import Role
from apps.incidents.choices import Category, IncidentStatus, ReportKind, Severity, Subtype, WarningLevel
from apps.incidents.models import Incident, IncidentPhoto, SituationReport, Warning
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import LeadingGroupKind
from tests.matrix import incidents_world  # registers incident, situation_report, warning, incident_photo
from tests.matrix.harness import Expect, State, action, cases, check, detail, listing, world_object
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

CITY_SEATS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}
INCIDENT_VIEWERS = CITY_SEATS
COMMANDERS = {S.IN_SCOPE, S.SAME_REGION_OTHER_DEPT}  # emergency-management heads over city A1
WARNING_VIEWERS = CITY_SEATS
WARNING_ISSUER_SEATS = {S.IN_SCOPE, S.LOWER_ROLE}  # the issuer's own seats may withdraw its draft
# A department is visible to its whole region and, through a grant, to the grantee.
DEPARTMENT_VIEWERS = CITY_SEATS | {S.GUARDIAN_GRANT}


# --- targets ---------------------------------------------------------------------------------


@world_object("incident_office_group")
def _incident_office_group(w):
    """A leading group over province A whose information office is the target department."""
    return org_services.leading_group_create(
        actor=w.admin,
        name="Alpha-Incident-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[w.province_a],
        information_office=w.department,
        big_data_center=w.third_party,
    )


# --- probes ----------------------------------------------------------------------------------


def incident_status(w):
    return Incident.objects.get(pk=w.incident.pk).status


def incident_severity(w):
    return Incident.objects.get(pk=w.incident.pk).severity


def incident_group(w):
    return Incident.objects.get(pk=w.incident.pk).leading_group_id


def incidents_reported(w):
    return Incident.objects.filter(reporting_department=w.department).count()


def reports_on_incident(w):
    return SituationReport.objects.filter(incident=w.incident).count()


def photos_on_incident(w):
    return IncidentPhoto.objects.filter(incident=w.incident).count()


def warning_status(w):
    return Warning.objects.get(pk=w.warning.pk).status


def warnings_issued(w):
    return Warning.objects.filter(issuer=w.department).count()


def incident_form(w):
    return {
        "department": w.department.pk,
        "title": "Matrix-Reported-Incident",
        "category": Category.ACCIDENT,
        "subtype": Subtype.FIRE,
        "severity": Severity.IV,
        "place": "Alpha warehouse",
        "first_seen_at": timezone.localtime(timezone.now() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"),
    }


def warning_form(w):
    return {
        "issuer": w.department.pk,
        "level": WarningLevel.BLUE,
        "title": "Matrix-Drafted-Warning",
        "area": "Alpha hills",
        "starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "expected_hours": 6,
        "measures": "Keep off the slopes",
    }


def denial_recorded_on(default, **per_state):
    """check_extra: a refusal (403/404) is in the ledger for the object the request was refused on.

    Where the object differs by state (a form naming a department the caller sees but may not act
    for is refused on the department; an incident the caller cannot see is refused on the
    incident), the harness's single `denial_target` cannot say it; this check finds the denial by
    the request's id instead.
    """

    def check_denial(world, state, user, response):
        if user is None or response.status_code not in (403, 404):
            return
        target = per_state.get(state.name, default)(world)
        assert AuditEvent.objects.filter(
            action="access.denied",
            request_id=response["X-Request-ID"],
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
        ).exists(), f"{state.value}: refusal on {target._meta.label} {target.pk} not recorded"

    return check_denial


def _on(name):
    return lambda w: reverse(name, kwargs={"pk": w.incident.pk})


NO_DENIAL_TARGET = lambda w: None  # noqa: E731 - checked per state by `denial_recorded_on`


ROUTES = register(
    "incidents-portal",
    [
        # --- incidents
        listing("portal:incident-list", marker=lambda w: w.incident.title, visible_to=INCIDENT_VIEWERS),
        listing(
            "portal:incident-create",
            marker=lambda w: w.department.name,
            visible_to={S.IN_SCOPE},
            note="the department select offers only the caller's own departments",
        ),
        action(
            "portal:incident-create",
            "post",
            role=Role.STAFF,
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            success=302,
            data=incident_form,
            probe=incidents_reported,
            denial_target=lambda w: w.department,
        ),
        detail(
            "portal:incident-detail",
            role=Role.HEAD,
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            # the command forms (here: the verify button) are on the page only for commanders
            marker=_on("portal:incident-verify"),
            shows_marker_to=COMMANDERS,
        ),
        action(
            "portal:incident-verify",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            success=302,
            probe=incident_status,
        ),
        action(
            "portal:incident-status",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            success=302,
            data=lambda w: {"status": IncidentStatus.VERIFIED, "note": "Matrix"},
            probe=incident_status,
        ),
        action(
            "portal:incident-severity",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            success=302,
            data=lambda w: {"severity": Severity.II, "reason": "River rising"},
            probe=incident_severity,
        ),
        action(
            "portal:incident-leading-group",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            success=302,
            data=lambda w: {"group": w.incident_office_group.pk},
            probe=incident_group,
            overrides={
                S.LOWER_ROLE: Expect(302),
                S.SAME_REGION_OTHER_DEPT: Expect(400),
            },
            note="only the group's information office (head or staff) puts an incident in its charge: "
            "the target department's staff may (the office commands in its regions), the neighbour's "
            "head may command the incident but not for a group whose office it is not (form error, 400)",
        ),
        action(
            "portal:incident-close",
            "post",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=COMMANDERS,
            success=302,
            data=lambda w: {"note": "Matrix close"},
            probe=incident_status,
        ),
        action(
            "portal:incident-report-submit",
            "post",
            role=Role.STAFF,
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            success=302,
            data=lambda w: {
                "department": w.department.pk,
                "kind": ReportKind.INITIAL,
                "text": "Matrix report",
                "idempotency_key": "matrix-key",
            },
            probe=reports_on_incident,
            denial_target=NO_DENIAL_TARGET,
            check_extra=denial_recorded_on(lambda w: w.incident, SAME_REGION_OTHER_DEPT=lambda w: w.department),
            note="the neighbour sees the incident but may not report for the target department: 403 on the department",
        ),
        action(
            "portal:incident-photo-add",
            "post",
            role=Role.STAFF,
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            success=302,
            data=lambda w: {
                "department": w.department.pk,
                "photo": incidents_world.photo_upload(),
                "caption": "Matrix photo",
            },
            probe=photos_on_incident,
            denial_target=NO_DENIAL_TARGET,
            check_extra=denial_recorded_on(lambda w: w.incident, SAME_REGION_OTHER_DEPT=lambda w: w.department),
            note="like a situation report: the neighbour sees the incident but may not attach for the target "
            "department (403 on the department)",
        ),
        detail(
            "portal:incident-photo",
            target="incident",
            kwargs=lambda w: {"photo_pk": w.incident_photo.pk},
            visible_to=INCIDENT_VIEWERS,
            note="the photo is addressed through its incident: out of scope (or a ghost incident) is a 404",
        ),
        detail(
            "portal:incident-timeline-csv",
            target="incident",
            visible_to=INCIDENT_VIEWERS,
            marker=lambda w: w.department.name,  # "Reported by <department>", the first entry
        ),
        # --- warnings
        listing("portal:warning-list", marker=lambda w: w.warning.title, visible_to=WARNING_VIEWERS),
        listing(
            "portal:warning-create",
            marker=lambda w: w.department.name,
            visible_to={S.IN_SCOPE},
            note="the issuer select offers only the caller's own departments",
        ),
        action(
            "portal:warning-create",
            "post",
            role=Role.STAFF,
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            success=302,
            data=warning_form,
            probe=warnings_issued,
            denial_target=lambda w: w.department,
        ),
        detail(
            "portal:warning-detail",
            role=Role.HEAD,
            target="warning",
            visible_to=WARNING_VIEWERS,
            marker=lambda w: reverse("portal:warning-withdraw", kwargs={"pk": w.warning.pk}),
            shows_marker_to=WARNING_ISSUER_SEATS,
        ),
        action(
            "portal:warning-review",
            "post",
            target="warning",
            visible_to=WARNING_VIEWERS,
            allowed_to=(),
            probe=warning_status,
            note="review is for information-office heads; the world has none",
        ),
        action(
            "portal:warning-publish",
            "post",
            target="warning",
            visible_to=WARNING_VIEWERS,
            allowed_to=(),
            probe=warning_status,
            note="publication is for information-office heads; the world has none",
        ),
        action(
            "portal:warning-return",
            "post",
            target="warning",
            visible_to=WARNING_VIEWERS,
            allowed_to=(),
            probe=warning_status,
            note="returning a draft is for information-office heads; the world has none",
        ),
        action(
            "portal:warning-withdraw",
            "post",
            target="warning",
            visible_to=WARNING_VIEWERS,
            allowed_to=WARNING_ISSUER_SEATS,
            success=302,
            probe=warning_status,
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
