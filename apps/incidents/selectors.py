"""Reads for incidents. Every list starts from `restrict`; list querysets carry their joins so a
page costs the same number of queries whatever its length."""

from django.apps import apps as django_apps
from django.db.models import Prefetch, QuerySet

from apps.organizations.models import Region

from .models import (
    Incident,
    IncidentPhoto,
    PlanActivation,
    ReportingClock,
    ResponsePlan,
    SituationReport,
    TimelineEntry,
    Warning,
)


def incident_list(*, user) -> QuerySet[Incident]:
    return (
        Incident.objects.restrict(user, "view")
        .select_related("region", "reporting_department", "leading_group")
        .prefetch_related(Prefetch("regions", queryset=Region.objects.order_by("path")))
    )


def incident_get(*, user, pk) -> Incident:
    return incident_list(user=user).get(pk=pk)


def incident_can(*, user, incident: Incident, action: str) -> bool:
    return Incident.objects.restrict(user, action).filter(pk=incident.pk).exists()


def report_list(*, user) -> QuerySet[SituationReport]:
    return SituationReport.objects.restrict(user, "view").select_related("incident", "department", "submitted_by")


def photo_list(*, user) -> QuerySet[IncidentPhoto]:
    return IncidentPhoto.objects.restrict(user, "view").select_related("department")


def warning_list(*, user) -> QuerySet[Warning]:
    return Warning.objects.restrict(user, "view").select_related("region", "issuer", "incident", "created_by")


def warning_can(*, user, warning: Warning, action: str) -> bool:
    return Warning.objects.restrict(user, action).filter(pk=warning.pk).exists()


def timeline_list(*, user) -> QuerySet[TimelineEntry]:
    return TimelineEntry.objects.restrict(user, "view").select_related("incident")


def timeline_with_links(*, user, entries, known: dict[str, set[str]] | None = None) -> list[TimelineEntry]:
    """The entries, each with `url`: the portal page of its object where one exists and `user` may
    see it. Objects with a scope of their own (warnings, tasks, data requests and grants) are checked
    with one query per type on the page, not per entry; `known` passes ids the caller already read
    through their selector (target_type → ids as strings), which saves that type's query."""
    from .timeline import OWN_SCOPE_TARGETS, portal_url

    entries = list(entries)
    visible = dict(known or {})
    for label in OWN_SCOPE_TARGETS:
        ids = {e.target_id for e in entries if e.target_type == label and e.target_id.isdigit()}
        if ids and label not in visible:
            model = django_apps.get_model(label)
            visible[label] = {
                str(pk) for pk in model.objects.restrict(user, "view").filter(pk__in=ids).values_list("pk", flat=True)
            }
    for entry in entries:
        entry.url = portal_url(entry, visible)
    return entries


def clock_list(*, user) -> QuerySet[ReportingClock]:
    return ReportingClock.objects.restrict(user, "view").select_related("incident", "department")


def activation_list(*, user) -> QuerySet[PlanActivation]:
    return (
        PlanActivation.objects.restrict(user, "view")
        .select_related("plan", "incident")
        .prefetch_related("dispatches__department")
    )


def plan_list(*, user) -> QuerySet[ResponsePlan]:
    return ResponsePlan.objects.restrict(user, "view").prefetch_related("task_templates")
