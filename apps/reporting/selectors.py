"""Reads of reporting: reports, daily schedules and archives. Everything starts from `restrict()`;
the list querysets carry their joins, so a page costs the same number of queries whatever its
length. Reports and schedules are seen by those who command the incident or sit in its leading
group; an archive by everyone who sees the incident."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.incidents.models import Incident

from .models import Archive, Report, ReportSchedule

INCIDENT_CARD_REPORTS = 10  # reports listed on the incident page; the rest through the report list


def report_list(*, user) -> QuerySet[Report]:
    """Reports `user` may read, newest first (the content snapshot is left out: pages load it on
    the one report they show)."""
    return (
        Report.objects.restrict(user, "view")
        .select_related("incident", "requested_by")
        .defer("content")
        .order_by("-requested_at", "-id")
    )


def report_get(*, user, pk: int) -> Report:
    return Report.objects.restrict(user, "view").select_related("incident", "requested_by").get(pk=pk)


def schedule_list(*, user) -> QuerySet[ReportSchedule]:
    return ReportSchedule.objects.restrict(user, "view").select_related("incident", "created_by")


def schedule_for(*, user, incident: Incident) -> ReportSchedule | None:
    """The incident's daily schedule, if one exists and `user` may see it."""
    return schedule_list(user=user).filter(incident=incident).first()


def archive_list(*, user) -> QuerySet[Archive]:
    """Archives of the incidents `user` sees (the manifest is left out of lists)."""
    return (
        Archive.objects.restrict(user, "view")
        .select_related("incident__region")
        .defer("manifest")
        .order_by("-requested_at", "-id")
    )


def report_can_request(*, user, incident: Incident) -> bool:
    """Whether `user` may request reports on `incident` and set its schedule (the services' rule)."""
    from .services import may_request

    return may_request(user, incident)


def incident_reporting(*, user, incident: Incident) -> dict:
    """What the incident page shows of reporting, in three queries: its latest reports the user may
    read (and whether there are more), whether the user may request reports, and then the daily
    schedule (an open incident) or the archive (a closed one; only closing makes an archive)."""
    latest = list(report_list(user=user).filter(incident=incident)[: INCIDENT_CARD_REPORTS + 1])
    can_request = report_can_request(user=user, incident=incident)
    is_open = incident.is_open
    return {
        "reports": latest[:INCIDENT_CARD_REPORTS],
        "more_reports": len(latest) > INCIDENT_CARD_REPORTS,
        "can_request": can_request,
        "schedule": schedule_for(user=user, incident=incident) if can_request and is_open else None,
        "archive": None if is_open else archive_list(user=user).filter(incident=incident).first(),
    }
