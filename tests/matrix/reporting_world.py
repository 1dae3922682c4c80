"""World objects for the reporting routes, shared by the API and portal matrix modules.

`reporting_incident` is an open incident reported by the target department (city A1, an
emergency-management department) for its own region; no leading group is in charge. So its
commanders are the emergency-management heads over city A1: the target department's head
(IN_SCOPE) and the neighbouring department's head (SAME_REGION_OTHER_DEPT). They alone read its
reports and request them; the city's other seats see the incident (so a request from them is 403),
province B sees nothing (404; a department grant opens the department, not its incidents).
`reporting_report` is a consolidated report on it, generated (done, with its three files).

`reporting_closed_incident` is a second incident of the target department, closed: closing queued
its after-action review and its archive, which are generated here in-process (the matrix does not
run on-commit callbacks); `reporting_archive` is that archive, frozen. An archive is seen by
everyone who sees the incident: every seat of city A1, any role.

Every builder acts through the services, as seats no matrix state holds. Keep these names
stable: the API and the portal matrices both use them.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.core.permissions import Role
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, IncidentStatus, Severity, Subtype
from apps.reporting import services
from apps.reporting.choices import JobStatus, ReportKind
from apps.reporting.models import Report, ReportSchedule
from tests import factories as f
from tests.matrix.harness import State, world_object

REPORTING_INCIDENT_TITLE = "Reporting-Target-Incident"
REPORTING_CLOSED_TITLE = "Reporting-Closed-Incident"

S = State
# Role HEAD routes (reports, requests, schedules): the emergency heads over city A1 command the incident.
REPORT_READERS = {S.IN_SCOPE, S.SAME_REGION_OTHER_DEPT}
INCIDENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}  # the city's seats
# Role STAFF routes (archives): every seat of city A1 sees the incident, hence its archive.
ARCHIVE_VIEWERS = {S.IN_SCOPE, S.SAME_REGION_OTHER_DEPT}


def _seat(w, attr: str, role: str, name: str):
    """A member of the target department who builds targets (not a state's seat), made once."""
    if not hasattr(w, attr):
        setattr(w, attr, f.member(w.department, role, display_name=name))
    return getattr(w, attr)


def reporting_reporter(w):
    return _seat(w, "_reporting_reporter", Role.STAFF, "Reporting-Reporter")


def reporting_commander(w):
    return _seat(w, "_reporting_commander", Role.HEAD, "Reporting-Commander")


def _report_incident(w, title: str):
    return incident_services.incident_report(
        actor=reporting_reporter(w),
        department=w.department,
        title=title,
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place="Alpha river bank",
        first_seen_at=timezone.now() - timedelta(hours=2),
        regions=[w.region],
    )


@world_object("reporting_incident")
def _reporting_incident(w):
    return _report_incident(w, REPORTING_INCIDENT_TITLE)


@world_object("reporting_report")
def _reporting_report(w):
    report = services.report_request(actor=reporting_commander(w), incident=w.reporting_incident)
    report = services.report_generate(report_id=report.pk)
    assert report.status == JobStatus.DONE, report.error
    return report


@world_object("reporting_closed_incident")
def _reporting_closed_incident(w):
    incident = _report_incident(w, REPORTING_CLOSED_TITLE)
    return incident_services.incident_set_status(
        actor=reporting_commander(w), incident=incident, status=IncidentStatus.CLOSED
    )


@world_object("reporting_archive")
def _reporting_archive(w):
    incident = w.reporting_closed_incident
    review = Report.objects.get(incident=incident, kind=ReportKind.REVIEW)
    services.report_generate(report_id=review.pk)  # what the close task does, in-process
    archive = services.archive_freeze(incident_id=incident.pk)
    assert archive.status == JobStatus.DONE, archive.error
    return archive


# --- probes -------------------------------------------------------------------------------------


def reports_on_incident(w) -> int:
    return Report.objects.filter(incident=w.reporting_incident).count()


def schedule_state(w):
    return ReportSchedule.objects.filter(incident=w.reporting_incident).values_list("at_time", "is_active").first()


def archive_downloads(w) -> int:
    from apps.ledger.models import AuditEvent

    return AuditEvent.objects.filter(action="archive.download", target_id=str(w.reporting_archive.pk)).count()
