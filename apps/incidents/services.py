"""Incident command: report, verify, change severity and status, take charge, activate plans,
situation reports with statutory clocks, warnings with review. Each write: authorize → lock →
change → ledger event (+ timeline entry) in one transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from apps.core.exceptions import Conflict, ServiceError
from apps.core.permissions import Role
from apps.core.scoping import authorize, authorize_any
from apps.core.transitions import ensure_transition
from apps.core.uploads import clean_file_name
from apps.ledger.services import audit_record, snapshot
from apps.notifications.services import notify
from apps.organizations.choices import DepartmentType, LeadingGroupRole, RegionLevel
from apps.organizations.models import Department, LeadingGroup, Region

from .choices import (
    CADENCE_CLOCK_KINDS,
    INCIDENT_TRANSITIONS,
    SUBTYPES_BY_CATEGORY,
    WARNING_TRANSITIONS,
    ClockKind,
    ClockStep,
    IncidentStatus,
    IntakeChannel,
    ReportKind,
    Severity,
    TimelineKind,
    WarningStatus,
)
from .models import (
    Incident,
    IncidentPhoto,
    PlanActivation,
    PlannedDispatch,
    ReportingClock,
    ReportingRule,
    ResponsePlan,
    SituationReport,
    TimelineEntry,
    Warning,
)
from .timeline import choice, render_in

INCIDENT_FIELDS = (
    "title",
    "category",
    "subtype",
    "severity",
    "status",
    "is_drill",
    "region",
    "place",
    "latitude",
    "longitude",
    "first_seen_at",
    "intake_channel",
    "intake_seen_at",
    "reporting_department",
    "leading_group",
)
WARNING_FIELDS = ("title", "level", "region", "incident", "issuer", "area", "starts_at", "expected_hours", "status")
REPORT_FIELDS = (
    "incident",
    "number",
    "kind",
    "department",
    "deaths",
    "injured",
    "missing",
    "affected_population",
    "evacuated",
    "is_late",
    "late_by",
    "late_gap",
    "late_gap_channel",
)
# Used when no ReportingRule row exists for a severity (administrators can edit them in the admin console).
# Migration 0006 seeds one row per severity with these values; keep the two in step.
DEFAULT_INITIAL_MINUTES = {Severity.I: 240, Severity.II: 240, Severity.III: 480, Severity.IV: 1440}


def _timeline(
    incident: Incident, kind: str, message: str, args: dict | None = None, event=None, target=None, at=None
) -> TimelineEntry:
    """`message` is a source text marked with gettext_noop; it is rendered for each reader.
    Departments following the incident (data-access subscriptions) are told of every entry."""
    entry = TimelineEntry.objects.create(
        incident=incident,
        occurred_at=at or (event.created_at if event is not None else timezone.now()),
        kind=kind,
        summary=render_in(settings.LANGUAGE_CODE, message, args)[:300],
        message=message,
        message_args=args or {},
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        ledger_seq=event.seq if event is not None else None,
        actor_name=event.actor_name if event is not None else "",
    )
    from apps.access.services import subscribers_notify_incident

    subscribers_notify_incident(incident, entry.summary, key=f"timeline:{entry.pk}")
    return entry


def reporting_rule(severity: int) -> ReportingRule:
    """The severity's rule; without a row, an unsaved one with the statutory defaults."""
    rule = ReportingRule.objects.filter(severity=severity).first()
    return rule or ReportingRule(severity=severity, initial_minutes=DEFAULT_INITIAL_MINUTES[Severity(severity)])


def initial_window_minutes(rule: ReportingRule, incident: Incident, region: Region) -> int:
    """Minutes from the first sighting within which a department of `region` owes its first report
    (初报): a county within county → city; a city within city → province, plus county → city when
    the event was reported from below it; a province within the statutory limit. Every step is
    capped by the severity's statutory limit. The one rule for initial clocks and for lateness."""
    if region.level == RegionLevel.COUNTY:
        minutes = rule.county_to_city_minutes
    elif region.level == RegionLevel.CITY:
        reporting_path = incident.region.path
        from_below = reporting_path != region.path and reporting_path.startswith(region.path)
        minutes = rule.city_to_province_minutes + (rule.county_to_city_minutes if from_below else 0)
    else:
        minutes = rule.initial_minutes
    return min(minutes, rule.initial_minutes)


def _initial_due(rule: ReportingRule, incident: Incident, region: Region) -> datetime:
    """When a department of `region` owes its first report: its window from the earliest sighting."""
    return incident.sighted_at + timedelta(minutes=initial_window_minutes(rule, incident, region))


def _emergency_departments(regions) -> list[Department]:
    return list(Department.objects.filter(region__in=regions, type=DepartmentType.EMERGENCY, is_active=True))


# --- reporting ------------------------------------------------------------------------------


@transaction.atomic
def incident_report(
    *,
    actor,
    department: Department,
    title: str,
    category: str,
    subtype: str,
    severity: int,
    place: str,
    first_seen_at: datetime,
    regions: list[Region] | None = None,
    description: str = "",
    latitude=None,
    longitude=None,
    is_drill: bool = False,
    intake_channel: str = "",
    intake_seen_at: datetime | None = None,
    now: datetime | None = None,
    idempotency_key: str = "",
) -> Incident:
    """A department reports an incident. Starts the statutory reporting clocks, which run from the
    earliest sighting (first-seen, or the intake channel's time when that is earlier). The same
    idempotency key from the same department returns the first incident (double clicks, retries)."""
    authorize(actor, "report_incident", department)
    if idempotency_key:
        existing = _replayed(Incident, department, reporting_department=department, idempotency_key=idempotency_key)
        if existing is not None:
            return existing
    now = now or timezone.now()
    if subtype not in SUBTYPES_BY_CATEGORY.get(category, set()):
        raise ServiceError(_("This sub-type does not belong to the category."), field="subtype")
    if first_seen_at > now + timedelta(minutes=5):
        raise ServiceError(_("The first-seen time cannot be in the future."), field="first_seen_at")
    _check_intake(intake_channel, intake_seen_at, now)
    regions = list({r.pk: r for r in (regions or [])}.values()) or [department.region]
    visible = set(
        Region.objects.restrict(actor, "view").filter(pk__in=[r.pk for r in regions]).values_list("pk", flat=True)
    )
    if any(r.pk not in visible for r in regions):
        raise ServiceError(_("Unknown region."), field="regions")
    incident = Incident.objects.create(
        title=title,
        description=description,
        category=category,
        subtype=subtype,
        severity=severity,
        is_drill=is_drill,
        region=department.region,
        place=place,
        latitude=latitude,
        longitude=longitude,
        first_seen_at=first_seen_at,
        intake_channel=intake_channel,
        intake_seen_at=intake_seen_at,
        reported_at=now,
        reporting_department=department,
        created_by=actor,
        idempotency_key=idempotency_key,
    )
    incident.regions.set(regions)
    event = audit_record(
        actor=actor,
        action="incident.report",
        target=incident,
        after={**snapshot(incident, INCIDENT_FIELDS), "regions": sorted(r.code for r in regions)},
    )
    _timeline(incident, TimelineKind.REPORTED, N_("Reported by %(dept)s"), {"dept": department.name}, event, incident)
    _start_initial_clocks(incident)
    parents = [r.parent for r in regions if r.parent_id] + (
        [department.region.parent] if department.region.parent_id else []
    )
    notify(
        departments=_emergency_departments({p.pk: p for p in parents}.values()),
        kind="incident.reported",
        title=_("New incident reported: %(title)s") % {"title": title},
        link=f"/incidents/{incident.pk}/",
        target=incident,
        key=f"incident.reported:{incident.pk}",
    )
    return incident


@transaction.atomic
def incident_link_alert(*, actor, incident: Incident, alert) -> Incident:
    """Link a monitoring alert to an incident. The alert's window start is an intake sighting: when
    it is earlier than the incident's intake, the incident's intake becomes that alert (channel:
    monitoring) and the open initial clocks move forward to run from it (never later). One ledger
    event; linking the same alert again changes nothing."""
    from apps.monitoring.models import Alert

    authorize(actor, "command", incident)
    authorize(actor, "view", alert)
    incident = _lock(incident)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.incident_id == incident.pk:
        return incident
    if alert.incident_id is not None:
        raise Conflict(_("This alert is already linked to another incident."))
    before = snapshot(incident, INCIDENT_FIELDS)
    alert.incident = incident
    alert.save(update_fields=["incident"])
    after = {"alert": alert.pk}
    if incident.intake_seen_at is None or alert.window_start < incident.intake_seen_at:
        incident.intake_channel, incident.intake_seen_at = IntakeChannel.MONITORING, alert.window_start
        incident.save(update_fields=["intake_channel", "intake_seen_at"])
        moved = _tighten_initial_clocks(incident)
        if moved:
            after["clocks_moved"] = moved
    audit_record(
        actor=actor,
        action="incident.alert_link",
        target=incident,
        before=before,
        after={**snapshot(incident, INCIDENT_FIELDS), **after},
    )
    return incident


def _check_intake(channel: str, seen_at: datetime | None, now: datetime) -> None:
    if channel and channel not in IntakeChannel.values:
        raise ServiceError(_("Unknown intake channel."), field="intake_channel")
    if channel and seen_at is None:
        raise ServiceError(_("Give the time the intake channel first saw the event."), field="intake_seen_at")
    if seen_at is not None and not channel:
        raise ServiceError(_("Name the intake channel that first saw the event."), field="intake_channel")
    if seen_at is not None and seen_at > now + timedelta(minutes=5):
        raise ServiceError(_("The intake time cannot be in the future."), field="intake_seen_at")


def _replayed(model, department: Department, **lookup):
    """The object an earlier request with the same idempotency key created, if any. Locking the
    department row first serialises concurrent duplicates: the second waits, then finds the first."""
    Department.objects.select_for_update().filter(pk=department.pk).first()
    return model.objects.filter(**lookup).first()


def _start_initial_clocks(incident: Incident) -> None:
    """Initial report due from the earliest sighting: the reporting department within its level's
    window, and the emergency-management department of each region above within theirs
    (`initial_window_minutes`)."""
    rule = reporting_rule(incident.severity)
    region = incident.reporting_department.region
    clocks = [
        ReportingClock(
            incident=incident,
            department=incident.reporting_department,
            kind=ClockKind.INITIAL,
            due_at=_initial_due(rule, incident, region),
        )
    ]
    parent = region.parent
    while parent is not None:
        # a city passes the report on to the province; the province reports within the statutory limit
        due_at = _initial_due(rule, incident, parent)
        for dept in _emergency_departments([parent]):
            clocks.append(ReportingClock(incident=incident, department=dept, kind=ClockKind.INITIAL, due_at=due_at))
        parent = parent.parent
    ReportingClock.objects.bulk_create(clocks)


def _tighten_initial_clocks(incident: Incident) -> list[dict]:
    """After the severity is raised or an earlier sighting is learnt: bring the open initial clocks'
    deadlines forward to what the rule now gives. Never later: a deadline a department was given
    is not extended by a change that makes the event more urgent. Returns what moved (for the ledger)."""
    rule = reporting_rule(incident.severity)
    moved = []
    open_initial = (
        ReportingClock.objects.select_for_update()
        .filter(incident=incident, kind=ClockKind.INITIAL, satisfied_at__isnull=True, cancelled_at__isnull=True)
        .select_related("department__region")
        .order_by("pk")
    )
    for clock in open_initial:
        due_at = _initial_due(rule, incident, clock.department.region)
        if due_at < clock.due_at:
            moved.append({"clock": clock.pk, "department": clock.department_id, "from": clock.due_at, "to": due_at})
            clock.due_at = due_at
            clock.save(update_fields=["due_at"])
    return moved


# --- command ----------------------------------------------------------------------------------


def _lock(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


@transaction.atomic
def incident_verify(*, actor, incident: Incident) -> Incident:
    """Confirm a reported incident; the response plan for its type and severity activates."""
    authorize(actor, "command", incident)
    incident = _lock(incident)
    ensure_transition(incident.status, IncidentStatus.VERIFIED, INCIDENT_TRANSITIONS, IncidentStatus)
    before = snapshot(incident, INCIDENT_FIELDS)
    incident.status = IncidentStatus.VERIFIED
    incident.save(update_fields=["status"])
    event = audit_record(
        actor=actor, action="incident.verify", target=incident, before=before, after=snapshot(incident, INCIDENT_FIELDS)
    )
    _timeline(incident, TimelineKind.STATUS, N_("Verified"), None, event, incident)
    plan_activate_matching(actor=actor, incident=incident)
    return incident


@transaction.atomic
def incident_set_status(
    *, actor, incident: Incident, status: str, note: str = "", now: datetime | None = None
) -> Incident:
    """Move along the transition map (verify has its own service because it activates plans).

    The follow-up cadence (续报) runs while responding: entering RESPONDING starts the next
    follow-up (or daily) clock of every department that owes one; leaving it for RECOVERING
    cancels the open follow-up and daily clocks, closing cancels every open clock. Clocks are
    cancelled, never deleted, and the status event names the clocks started and cancelled."""
    if status == IncidentStatus.VERIFIED:
        return incident_verify(actor=actor, incident=incident)
    authorize(actor, "command", incident)
    now = now or timezone.now()
    incident = _lock(incident)
    ensure_transition(incident.status, status, INCIDENT_TRANSITIONS, IncidentStatus)
    before = snapshot(incident, INCIDENT_FIELDS)
    incident.status = status
    fields = ["status"]
    open_clocks = ReportingClock.objects.filter(incident=incident, satisfied_at__isnull=True, cancelled_at__isnull=True)
    started, cancelled = [], []
    if status == IncidentStatus.CLOSED:
        incident.closed_at = now
        fields.append("closed_at")
        cancelled = _cancel_clocks(open_clocks, now)
    elif status == IncidentStatus.RECOVERING:
        cancelled = _cancel_clocks(open_clocks.filter(kind__in=CADENCE_CLOCK_KINDS), now)
    elif status == IncidentStatus.RESPONDING:
        started = _start_cadence_clocks(incident, now)
    incident.save(update_fields=fields)
    after = {**snapshot(incident, INCIDENT_FIELDS), "note": note}
    if started:
        after["clocks_started"] = started
    if cancelled:
        after["clocks_cancelled"] = cancelled
    event = audit_record(actor=actor, action="incident.status", target=incident, before=before, after=after)
    _timeline(
        incident,
        TimelineKind.STATUS,
        N_("Status: %(old)s → %(new)s"),
        {"old": choice("IncidentStatus", before["status"]), "new": choice("IncidentStatus", status)},
        event,
        incident,
    )
    if status == IncidentStatus.CLOSED:  # the after-action review, then the archive (数字档案)
        from apps.reporting.services import incident_closed

        incident_closed(incident)
    return incident


def _cancel_clocks(clocks, now: datetime) -> list[int]:
    """Cancel (not delete) these open clocks; their ids, for the ledger."""
    ids = sorted(clocks.select_for_update().values_list("pk", flat=True))
    ReportingClock.objects.filter(pk__in=ids).update(cancelled_at=now)
    return ids


def _start_cadence_clocks(incident: Incident, now: datetime) -> list[int]:
    """Entering RESPONDING: the departments that owe follow-up reports are those that have reported
    on the incident (the same rule as `_next_clock`, which starts a department's cadence at its
    report). A department with an open clock of any kind already owes a report and gets none;
    one that has not reported yet still owes its initial report, and its cadence starts when it
    sends it. Returns the new clocks' ids."""
    reporters = set(SituationReport.objects.filter(incident=incident).values_list("department_id", flat=True))
    owing = set(
        ReportingClock.objects.filter(
            incident=incident, satisfied_at__isnull=True, cancelled_at__isnull=True
        ).values_list("department_id", flat=True)
    )
    rule = reporting_rule(incident.severity)
    clocks = [_cadence_clock(incident, department_id, rule, now) for department_id in sorted(reporters - owing)]
    return [clock.pk for clock in ReportingClock.objects.bulk_create(clocks)]


@transaction.atomic
def incident_set_severity(*, actor, incident: Incident, severity: int, reason: str) -> Incident:
    """Raise or lower the severity. Raising activates the plan of the new level (once the incident is
    verified) and brings the open initial-report deadlines forward to the new level's windows;
    lowering never removes work already dispatched nor extends a deadline."""
    authorize(actor, "command", incident)
    if severity not in Severity.values:
        raise ServiceError(_("Unknown severity."), field="severity")
    if not reason.strip():
        raise ServiceError(_("Give a reason for the change of severity."), field="reason")
    incident = _lock(incident)
    if not incident.is_open:
        raise ServiceError(_("A closed incident cannot change severity."), code="invalid_transition")
    if incident.severity == severity:
        raise Conflict(_("The incident already has this severity."))
    before = snapshot(incident, INCIDENT_FIELDS)
    raised = severity < incident.severity
    incident.severity = severity
    incident.save(update_fields=["severity"])
    after = {**snapshot(incident, INCIDENT_FIELDS), "reason": reason}
    # raising shortens the statutory windows: open initial clocks move forward (lowering moves none)
    moved = _tighten_initial_clocks(incident) if raised else []
    if moved:
        after["clocks_moved"] = moved
    event = audit_record(actor=actor, action="incident.severity", target=incident, before=before, after=after)
    _timeline(
        incident,
        TimelineKind.SEVERITY,
        N_("Severity: %(old)s → %(new)s (%(reason)s)"),
        {"old": choice("Severity", before["severity"]), "new": choice("Severity", severity), "reason": reason},
        event,
        incident,
    )
    if raised and incident.status != IncidentStatus.REPORTED:
        plan_activate_matching(actor=actor, incident=incident)
    return incident


@transaction.atomic
def incident_assign_leading_group(*, actor, incident: Incident, group: LeadingGroup) -> Incident:
    """A leading group takes charge: its information office (or an administrator) assigns it."""
    from apps.core.scoping import principal_for

    authorize(actor, "command", incident)
    principal = principal_for(actor)
    if not principal.is_superuser and group.pk not in principal.office_group_ids({Role.HEAD, Role.STAFF}):
        raise ServiceError(_("Only the group's information office can put an incident in its charge."), field="group")
    incident = _lock(incident)
    if incident.leading_group_id == group.pk:
        raise Conflict(_("This leading group is already in charge."))
    before = snapshot(incident, INCIDENT_FIELDS)
    incident.leading_group = group
    incident.save(update_fields=["leading_group"])
    event = audit_record(
        actor=actor,
        action="incident.leading_group",
        target=incident,
        before=before,
        after=snapshot(incident, INCIDENT_FIELDS),
    )
    _timeline(incident, TimelineKind.LEADING_GROUP, N_("%(group)s took charge"), {"group": group.name}, event, group)
    notify(
        departments=group.departments.all(),
        kind="incident.leading_group",
        title=_("Your leading group took charge of: %(title)s") % {"title": incident.title},
        link=f"/incidents/{incident.pk}/",
        target=incident,
        key=f"incident.leading_group:{incident.pk}:{group.pk}",
    )
    return incident


# --- plans ------------------------------------------------------------------------------------


def matching_plans(incident: Incident):
    return ResponsePlan.objects.filter(
        Q(subtype="") | Q(subtype=incident.subtype),
        category=incident.category,
        severity=incident.severity,
        is_active=True,
    ).prefetch_related("task_templates")


def plan_activate_matching(*, actor, incident: Incident) -> list[PlanActivation]:
    """Activate every matching plan not yet activated for this incident (runs inside the caller's
    transaction, which already authorized `command` and locked the incident)."""
    done = set(PlanActivation.objects.filter(incident=incident).values_list("plan_id", flat=True))
    regions = list(incident.regions.all())
    subtree = Q(pk__in=[])
    for region in regions:
        subtree |= Q(region__path__startswith=region.path)
    departments = list(Department.objects.filter(subtree, is_active=True).select_related("region"))
    activations = []
    for plan in matching_plans(incident):
        if plan.pk in done:
            continue
        activation = PlanActivation.objects.create(
            incident=incident, plan=plan, severity=incident.severity, activated_by=actor
        )
        rows = [
            PlannedDispatch(
                activation=activation,
                template=template,
                department=dept,
                title=template.title,
                deadline=activation.activated_at + timedelta(minutes=template.deadline_minutes),
            )
            for template in plan.task_templates.all()
            for dept in departments
            if dept.type == template.target_department_type
        ]
        PlannedDispatch.objects.bulk_create(rows)
        event = audit_record(
            actor=actor,
            action="plan.activate",
            target=incident,
            after={
                "plan": plan.pk,
                "plan_name": plan.name,
                "severity": incident.severity,
                "dispatches": sorted([r.template_id, r.department_id] for r in rows),
            },
        )
        _timeline(
            incident,
            TimelineKind.PLAN,
            N_("Plan “%(plan)s” activated; tasks for departments: %(n)d"),
            {"plan": plan.name, "n": len(rows)},
            event,
            activation,
        )
        notify_types = set(plan.notify_department_types or []) | {plan.lead_department_type}
        notify(
            departments=[d for d in departments if d.type in notify_types],
            kind="plan.activated",
            title=_("Response plan activated: %(plan)s") % {"plan": plan.name},
            link=f"/incidents/{incident.pk}/",
            target=incident,
            key=f"plan.activated:{activation.pk}",
        )
        dispatch_planned(actor=actor, activation=activation)
        activations.append(activation)
    return activations


def dispatch_planned(*, actor, activation: PlanActivation) -> None:
    """Hand the activation's planned dispatches to the task services when they are installed."""
    from django.apps import apps

    if not apps.is_installed("apps.tasking"):
        return  # the activation keeps the record of what it would dispatch
    from apps.tasking.services import task_dispatch_planned  # pragma: no cover - wired by the tasking app

    task_dispatch_planned(actor=actor, activation=activation)


# --- situation reports --------------------------------------------------------------------------


@transaction.atomic
def report_submit(
    *,
    actor,
    incident: Incident,
    department: Department,
    kind: str,
    text: str,
    deaths: int = 0,
    injured: int = 0,
    missing: int = 0,
    affected_population: int = 0,
    evacuated: int = 0,
    resources_deployed: str = "",
    late_reason: str = "",
    idempotency_key: str = "",
    now: datetime | None = None,
) -> SituationReport:
    """Submit a numbered situation report. A report past its clock, or a department's first report
    past its statutory window from the earliest sighting, is late (迟报) and needs a reason; the same
    idempotency key from the same department returns the first report, not a second one."""
    authorize(actor, "report_incident", department)
    authorize(actor, "view", incident)
    now = now or timezone.now()
    if kind not in ReportKind.values:
        raise ServiceError(_("Unknown report kind."), field="kind")
    if not text.strip():
        raise ServiceError(_("Describe the situation."), field="text")
    incident = _lock(incident)
    if idempotency_key:  # after the lock: a concurrent duplicate waits, then finds the first report
        existing = SituationReport.objects.filter(department=department, idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.incident_id != incident.pk:
                raise Conflict(_("This idempotency key was already used for another incident."))
            return existing
    if not incident.is_open and kind != ReportKind.FINAL:
        raise ServiceError(_("The incident is closed; only a final report can be submitted."), field="kind")
    clock = (
        ReportingClock.objects.select_for_update()
        .filter(incident=incident, department=department, satisfied_at__isnull=True, cancelled_at__isnull=True)
        .order_by("due_at")
        .first()
    )
    due_at = clock.due_at if clock else None
    # A department's first report while the incident is open is owed within its level's statutory
    # window from the earliest sighting, clock or no clock (an affected department, a department
    # whose clock was never started): past it, the report is late (迟报) and the gap is recorded.
    first_report = (
        incident.is_open and not SituationReport.objects.filter(incident=incident, department=department).exists()
    )
    if first_report:
        statutory_due = _initial_due(reporting_rule(incident.severity), incident, department.region)
        due_at = min(due_at, statutory_due) if due_at else statutory_due
    is_late = bool(due_at and now > due_at)
    late_gap = (now - incident.sighted_at) if is_late and first_report else None
    if is_late and not late_reason.strip():
        raise ServiceError(
            _("This report is late (due %(due)s): give the reason for the delay.")
            % {"due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M")},
            field="late_reason",
            code="late_reason_required",
        )
    incident.report_count += 1
    incident.save(update_fields=["report_count"])
    report = SituationReport.objects.create(
        incident=incident,
        number=incident.report_count,
        kind=kind,
        department=department,
        submitted_by=actor,
        submitted_at=now,
        deaths=deaths,
        injured=injured,
        missing=missing,
        affected_population=affected_population,
        evacuated=evacuated,
        resources_deployed=resources_deployed,
        text=text,
        due_at=due_at,
        is_late=is_late,
        late_by=(now - due_at) if is_late else None,
        late_gap=late_gap,
        late_gap_channel=incident.sighted_by if late_gap is not None else "",
        late_reason=late_reason if is_late else "",
        idempotency_key=idempotency_key,
    )
    if clock is not None:
        clock.satisfied_at, clock.satisfied_by = now, report
        clock.save(update_fields=["satisfied_at", "satisfied_by"])
    _next_clock(incident, department, now)
    event = audit_record(
        actor=actor,
        action="report.submit",
        target=report,
        region=department.region,
        after=snapshot(report, REPORT_FIELDS),
    )
    args = {"n": report.number, "dept": department.name}
    message = N_("Report No. %(n)s from %(dept)s")
    if is_late:
        message = N_("Report No. %(n)s from %(dept)s · late by %(minutes)s min")
        args["minutes"] = int(report.late_by.total_seconds() // 60)
    if late_gap is not None:
        message = N_("Report No. %(n)s from %(dept)s · late by %(minutes)s min, %(gap)s min after first sighting")
        args["gap"] = int(late_gap.total_seconds() // 60)
    _timeline(incident, TimelineKind.REPORT, message, args, event, report, at=now)
    return report


def _next_clock(incident: Incident, department: Department, now: datetime) -> None:
    """While the incident is being handled, the next follow-up (or daily) report falls due."""
    if incident.status not in (IncidentStatus.VERIFIED, IncidentStatus.RESPONDING):
        return
    if ReportingClock.objects.filter(
        incident=incident, department=department, satisfied_at__isnull=True, cancelled_at__isnull=True
    ).exists():
        return
    _cadence_clock(incident, department.pk, reporting_rule(incident.severity), now).save()


def _cadence_clock(incident: Incident, department_id: int, rule: ReportingRule, now: datetime) -> ReportingClock:
    """The next follow-up report (every `follow_up_minutes`), or in daily mode the next 08:00 report."""
    if rule.daily_report:
        shanghai = ZoneInfo(settings.TIME_ZONE)  # statutory times are Beijing time, whatever the request's zone
        local = now.astimezone(shanghai)
        due = datetime.combine(local.date() + timedelta(days=1), time(8, 0), tzinfo=shanghai)
        kind = ClockKind.DAILY
    else:
        due, kind = now + timedelta(minutes=rule.follow_up_minutes), ClockKind.FOLLOW_UP
    return ReportingClock(incident=incident, department_id=department_id, kind=kind, due_at=due)


# --- photos ---------------------------------------------------------------------------------------

MAX_PHOTO_BYTES = 10 * 1024 * 1024
# content type -> its leading bytes and the file name extensions it may carry
PHOTO_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
}
PILLOW_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


def _photo_type(uploaded_file) -> str | None:
    """PNG or JPEG, told by the first bytes and confirmed by decoding the header with Pillow (a
    renamed document or a truncated header is refused); never the client's content type."""
    from PIL import Image, UnidentifiedImageError

    uploaded_file.seek(0)
    head = uploaded_file.read(16)
    uploaded_file.seek(0)
    content_type = next((t for t, (magic, _ext) in PHOTO_TYPES.items() if head.startswith(magic)), None)
    if content_type is None:
        return None
    try:
        with Image.open(uploaded_file) as image:
            image.verify()
            decoded = PILLOW_FORMATS.get(image.format)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        decoded = None
    finally:
        uploaded_file.seek(0)
    return content_type if decoded == content_type else None


@transaction.atomic
def incident_photo_add(
    *, actor, incident: Incident, department: Department, uploaded_file, caption: str = ""
) -> IncidentPhoto:
    """A department that may report on the incident attaches a photo from the scene: PNG or JPEG
    by content, at most 10 MB, named like what it is. Stores the size, the dimensions and the
    SHA-256 of what was stored; one ledger event and one timeline entry."""
    authorize(actor, "report_incident", department)
    authorize(actor, "view", incident)
    incident = _lock(incident)
    if not incident.is_open:
        raise ServiceError(_("The incident is closed; no more photos can be attached."), code="incident_closed")
    if uploaded_file is None:
        raise ServiceError(_("Choose a photo."), field="photo")
    name = clean_file_name(uploaded_file.name)
    if not name:
        raise ServiceError(_("The file needs a name."), field="photo")
    if uploaded_file.size > MAX_PHOTO_BYTES:
        raise ServiceError(
            _("A photo may hold at most %(mb)d MB.") % {"mb": MAX_PHOTO_BYTES // (1024 * 1024)},
            field="photo",
            code="file_too_large",
        )
    content_type = _photo_type(uploaded_file)
    if content_type is None:
        raise ServiceError(_("Only PNG and JPEG photos can be attached."), field="photo", code="unsupported_file_type")
    if not name.lower().endswith(PHOTO_TYPES[content_type][1]):
        raise ServiceError(
            _("The file's name does not match its content (%(type)s).") % {"type": content_type},
            field="photo",
            code="unsupported_file_type",
        )
    caption = caption.strip()
    digest = hashlib.sha256()
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    photo = IncidentPhoto(
        incident=incident,
        name=name,
        caption=caption,
        size=uploaded_file.size,
        content_type=content_type,
        sha256=digest.hexdigest(),
        department=department,
        uploaded_by=actor,
    )
    photo.file.save(name, uploaded_file, save=False)  # also reads the width and height
    try:
        photo.save()
        event = audit_record(
            actor=actor,
            action="incident.photo",
            target=incident,
            region=department.region,
            after={
                "photo": photo.pk,
                "name": name,
                "size": photo.size,
                "sha256": photo.sha256,
                "content_type": content_type,
                "department": department.pk,
            },
        )
        args = {"dept": department.name, "caption": caption}
        message = N_("Photo from %(dept)s: %(caption)s") if caption else N_("Photo from %(dept)s")
        _timeline(incident, TimelineKind.PHOTO, message, args, event, photo)
    except BaseException:
        # the row and the ledger event roll back with the transaction; the stored file must go too
        photo.file.storage.delete(photo.file.name)
        raise
    return photo


# --- clocks: the beat job -------------------------------------------------------------------------


def clocks_check(*, now: datetime | None = None) -> dict[str, int]:
    """Walk the open clocks and take every escalation step that is due, each exactly once.

    A step is claimed with a conditional UPDATE (`... WHERE step_at IS NULL`), so re-runs and
    duplicate deliveries of the job never send a step twice.
    """
    now = now or timezone.now()
    counts = {step: 0 for step in ClockStep.values}
    horizon = now + timedelta(minutes=24 * 60)
    open_clocks = (
        ReportingClock.objects.filter(satisfied_at__isnull=True, cancelled_at__isnull=True, due_at__lte=horizon)
        .exclude(incident__status=IncidentStatus.CLOSED)
        # a clock whose whole ladder is taken has nothing left to do (the group step is left only
        # while no group is in charge: it is kept for the group that takes charge later)
        .exclude(
            Q(reminded_at__isnull=False, escalated_head_at__isnull=False, escalated_region_at__isnull=False)
            & (Q(escalated_group_at__isnull=False) | Q(incident__leading_group__isnull=True))
        )
        .select_related("incident", "incident__leading_group", "department", "department__region__parent")
        .order_by("due_at")
    )
    rules: dict[int, ReportingRule] = {}  # one read per severity per run, not one per clock
    for clock in open_clocks.iterator(chunk_size=500):
        severity = clock.incident.severity
        if severity not in rules:
            rules[severity] = reporting_rule(severity)
        rule = rules[severity]
        due = {
            ClockStep.REMINDED: clock.due_at - timedelta(minutes=rule.remind_before_minutes),
            ClockStep.HEAD: clock.due_at,
            ClockStep.REGION_ABOVE: clock.due_at + timedelta(minutes=rule.escalate_region_after_minutes),
            ClockStep.LEADING_GROUP: clock.due_at + timedelta(minutes=rule.escalate_group_after_minutes),
        }
        for step, at in due.items():
            if step == ClockStep.LEADING_GROUP and not clock.incident.leading_group_id:
                continue  # kept for the group that takes charge later, not used up on nobody
            if now >= at and clock_step(clock=clock, step=step, now=now):
                counts[step] += 1
    return counts


@transaction.atomic
def clock_step(*, clock: ReportingClock, step: str, now: datetime) -> bool:
    """Take one escalation step of one clock if nobody has; returns whether this call took it."""
    field = ReportingClock.STEP_FIELDS[step]
    claimed = ReportingClock.objects.filter(
        pk=clock.pk, satisfied_at__isnull=True, cancelled_at__isnull=True, **{f"{field}__isnull": True}
    ).update(**{field: now})
    if not claimed:
        return False
    incident, department = clock.incident, clock.department
    due_local = timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")
    args = {"title": incident.title, "due": due_local, "dept": department.name}
    key = f"clock:{clock.pk}:{step}"
    if step == ClockStep.REMINDED:
        recipients, role = [department], ""
        title = _("Report due at %(due)s: %(title)s") % args
    elif step == ClockStep.HEAD:
        recipients, role = [department], Role.HEAD
        title = _("Overdue report (due %(due)s): %(title)s") % args
    elif step == ClockStep.REGION_ABOVE:
        parent = department.region.parent
        recipients, role = (_emergency_departments([parent]) if parent else []), ""
        title = _("%(dept)s has not reported on %(title)s (due %(due)s)") % args
    else:
        group = incident.leading_group
        office = group.seat_of(LeadingGroupRole.INFORMATION_OFFICE) if group else None
        recipients, role = ([office.department] if office else []), ""
        title = _("%(dept)s has not reported on %(title)s (due %(due)s)") % args
    notify(
        departments=recipients,
        kind=f"clock.{step}",
        title=title,
        link=f"/incidents/{incident.pk}/",
        target=incident,
        key=key,
        audience_role=role,
    )
    event = audit_record(
        actor=None,
        action=f"clock.{step}",
        target=clock,
        region=department.region,
        after={
            "incident": incident.pk,
            "department": department.pk,
            "due_at": clock.due_at,
            "recipients": sorted(d.pk for d in recipients),
        },
        target_repr=str(clock),
    )
    if step != ClockStep.REMINDED:
        _timeline(
            incident,
            TimelineKind.CLOCK,
            N_("%(step)s: %(dept)s"),
            {"step": choice("ClockStep", step), "dept": department.name},
            event,
            clock,
            at=now,
        )
    return True


# --- warnings ----------------------------------------------------------------------------------


@transaction.atomic
def warning_draft(
    *,
    actor,
    issuer: Department,
    region: Region,
    level: str,
    title: str,
    area: str,
    starts_at: datetime,
    expected_hours: int,
    measures: str,
    content: str = "",
    incident: Incident | None = None,
    idempotency_key: str = "",
) -> Warning:
    authorize(actor, "report_incident", issuer)
    if idempotency_key:
        existing = _replayed(Warning, issuer, issuer=issuer, idempotency_key=idempotency_key)
        if existing is not None:
            return existing
    if incident is not None:
        authorize(actor, "view", incident)
    if not measures.strip():
        raise ServiceError(_("State the measures the public must take."), field="measures")
    in_own_area = region.path.startswith(issuer.region.path)
    if not in_own_area and not (incident is not None and incident.regions.filter(pk=region.pk).exists()):
        raise ServiceError(
            _("A department issues warnings for its own region and below, or for a region its incident affects."),
            field="region",
        )
    warning = Warning.objects.create(
        issuer=issuer,
        region=region,
        level=level,
        title=title,
        area=area,
        starts_at=starts_at,
        expected_hours=expected_hours,
        measures=measures,
        content=content,
        incident=incident,
        created_by=actor,
        idempotency_key=idempotency_key,
    )
    event = audit_record(actor=actor, action="warning.draft", target=warning, after=snapshot(warning, WARNING_FIELDS))
    if incident is not None:
        _timeline(incident, TimelineKind.WARNING, N_("Warning drafted: %(title)s"), {"title": title}, event, warning)
    return warning


def _warning_move(*, actor, warning: Warning, action: str, status: str, verb: str, **stamp) -> Warning:
    authorize(actor, action, warning)
    warning = Warning.objects.select_for_update().get(pk=warning.pk)
    ensure_transition(warning.status, status, WARNING_TRANSITIONS, WarningStatus)
    before = snapshot(warning, WARNING_FIELDS)
    warning.status = status
    for name, value in stamp.items():
        setattr(warning, name, value)
    warning.save(update_fields=["status", *stamp])
    event = audit_record(
        actor=actor, action=f"warning.{verb}", target=warning, before=before, after=snapshot(warning, WARNING_FIELDS)
    )
    if warning.incident_id:
        _timeline(
            warning.incident,
            TimelineKind.WARNING,
            N_("%(status)s: %(title)s"),
            {"status": choice("WarningStatus", status), "title": warning.title},
            event,
            warning,
        )
    return warning


@transaction.atomic
def warning_review(*, actor, warning: Warning) -> Warning:
    """The information office approves a draft for publication (统一发布)."""
    return _warning_move(
        actor=actor,
        warning=warning,
        action="review",
        status=WarningStatus.REVIEWED,
        verb="review",
        reviewed_by=actor,
        reviewed_at=timezone.now(),
    )


@transaction.atomic
def warning_publish(*, actor, warning: Warning) -> Warning:
    """Publish a reviewed warning; the departments of its region are told at once."""
    warning = _warning_move(
        actor=actor,
        warning=warning,
        action="review",
        status=WarningStatus.PUBLISHED,
        verb="publish",
        published_at=timezone.now(),
    )
    notify(
        departments=Department.objects.filter(region__path__startswith=warning.region.path, is_active=True),
        kind="warning.published",
        title=f"[{warning.get_level_display()}] {warning.title}",
        target=warning,
        key=f"warning.published:{warning.pk}",
    )
    return warning


@transaction.atomic
def warning_return(*, actor, warning: Warning) -> Warning:
    """The office sends a reviewed draft back to its issuer."""
    return _warning_move(actor=actor, warning=warning, action="review", status=WarningStatus.DRAFT, verb="return")


@transaction.atomic
def warning_withdraw(*, actor, warning: Warning) -> Warning:
    action = authorize_any(actor, ("review", "change"), warning)
    return _warning_move(actor=actor, warning=warning, action=action, status=WarningStatus.WITHDRAWN, verb="withdraw")


def timeline_add(
    *, incident: Incident, kind: str, message: str, args: dict | None = None, event=None, target=None
) -> TimelineEntry:
    """For other apps' services (tasks, data requests): add an entry to an incident's timeline
    inside their transaction, linked to their ledger event. `message` is marked with gettext_noop."""
    return _timeline(incident, kind, message, args, event, target)
