"""Writes of early warning: rules (create, change, switch off), their evaluation, alerts.

Evaluation is incremental: `rule_evaluate` reads only the records with an id above the rule's
cursor (the `(dataset, id)` index), restricted to what the rule's department may read at that
moment (its own dataset, or the rows and fields of a valid grant), folds them into per-region,
per-window buckets and checks the condition on the buckets it touched. The rule row is locked for
the whole evaluation and the cursor moves in the same transaction as the buckets and alerts, so a
re-run or a duplicate delivery reads nothing twice, and an alert is raised at most once per rule,
region and window (a unique constraint backs it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, FloatField, Max, Min, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDay, TruncHour
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.scoping import NOTHING, authorize, principal_for
from apps.incidents.choices import SUBTYPES_BY_CATEGORY, IntakeChannel, WarningLevel
from apps.ledger.services import audit_record, snapshot
from apps.notifications.services import message_for, notify_bulk

from .choices import Aggregate, AlertStatus, Comparator, DraftAction, EvaluationOutcome, RuleKind, Window
from .models import Alert, MonitoringRule, RuleBucket, RuleEvaluation

log = logging.getLogger(__name__)
RULE_FIELDS = [
    "name",
    "dataset_id",
    "kind",
    "field",
    "aggregate",
    "comparator",
    "threshold",
    "window",
    "min_baseline",
    "level",
    "draft_action",
    "incident_subtype",
    "is_active",
]
NUMERIC = {"integer", "number"}
WINDOWS = {Window.HOUR: timedelta(hours=1), Window.DAY: timedelta(days=1)}
COMPARE = {
    Comparator.GT: lambda a, b: a > b,
    Comparator.GE: lambda a, b: a >= b,
    Comparator.LT: lambda a, b: a < b,
    Comparator.LE: lambda a, b: a <= b,
}
BATCH = 100_000  # records per evaluation step; a backlog is read over several steps of one run


def _category_of(subtype: str) -> str:
    return next((c for c, subs in SUBTYPES_BY_CATEGORY.items() if subtype in subs), "")


# --- what a rule may read -----------------------------------------------------------------------


def readable_rows(department_id: int, dataset, field: str) -> Q | None:
    """The rows of `dataset` the department may read now and whose `field` it may see in clear.

    The owner department reads the whole dataset. Any other department reads through its valid
    grants on it: the OR of their row filters, counting only grants that show `field` unmasked
    (a count rule needs no field). None: nothing may be read (no grant, or the field is masked)."""
    from apps.access.rowfilter import to_q
    from apps.access.selectors import active_grants

    if dataset.owner_id == department_id:
        return Q()
    q = NOTHING
    found = False
    for row_filter, fields in (
        active_grants({department_id}).filter(dataset=dataset).values_list("row_filter", "fields")
    ):
        if field and field not in fields:
            continue
        q |= to_q(row_filter)
        found = True
    return q if found else None


def _check_definition(
    *, department, dataset, kind, field, aggregate, comparator, threshold, window, draft_action, subtype
):
    if kind not in RuleKind.values:
        raise ServiceError(_("Unknown rule kind."), field="kind")
    if comparator not in Comparator.values:
        raise ServiceError(_("Unknown comparison."), field="comparator")
    if window not in Window.values:
        raise ServiceError(_("Unknown window."), field="window")
    if draft_action not in DraftAction.values:
        raise ServiceError(_("Unknown action."), field="draft_action")
    if kind == RuleKind.COUNT:
        field, aggregate = "", Aggregate.COUNT
    else:
        if aggregate not in Aggregate.values:
            raise ServiceError(_("Unknown aggregate."), field="aggregate")
        if aggregate != Aggregate.COUNT:
            spec = dataset.standard.field(field) if field else None
            if spec is None or spec.get("type") not in NUMERIC:
                raise ServiceError(_("Choose a numeric field of the dataset's standard."), field="field")
        else:
            field = ""
    if not dataset.standard.observed_field:
        raise ServiceError(
            _("This dataset's standard has no observation time: windows cannot be formed."), field="dataset"
        )
    if readable_rows(department.pk, dataset, field) is None:
        raise ServiceError(
            _("Your department may not read this dataset (or this field in clear): request a grant first."),
            field="field" if field else "dataset",
        )
    if threshold is None:
        raise ServiceError(_("Enter a threshold."), field="threshold")
    if draft_action == DraftAction.INCIDENT and not _category_of(subtype or ""):
        raise ServiceError(_("Choose the sub-type of the incident to draft."), field="incident_subtype")
    return field, aggregate


@transaction.atomic
def rule_create(
    *,
    actor,
    department,
    dataset,
    name: str,
    kind: str,
    threshold: float,
    level: str,
    field: str = "",
    aggregate: str = Aggregate.COUNT,
    comparator: str = Comparator.GE,
    window: str = Window.DAY,
    min_baseline: float = 1,
    notify_departments=(),
    draft_action: str = DraftAction.NONE,
    incident_subtype: str = "",
) -> MonitoringRule:
    authorize(actor, "monitor", department)
    authorize(actor, "view", dataset)
    if level not in WarningLevel.values:
        raise ServiceError(_("Unknown warning level."), field="level")
    field, aggregate = _check_definition(
        department=department,
        dataset=dataset,
        kind=kind,
        field=field,
        aggregate=aggregate,
        comparator=comparator,
        threshold=threshold,
        window=window,
        draft_action=draft_action,
        subtype=incident_subtype,
    )
    rule = MonitoringRule.objects.create(
        department=department,
        dataset=dataset,
        name=name.strip()[:200] or dataset.title,
        kind=kind,
        field=field,
        aggregate=aggregate,
        comparator=comparator,
        threshold=float(threshold),
        window=window,
        min_baseline=max(float(min_baseline or 0), 0.0),
        level=level,
        draft_action=draft_action,
        incident_subtype=incident_subtype if draft_action == DraftAction.INCIDENT else "",
        created_by=actor,
    )
    from apps.organizations.models import Department

    # departments the author can see, and those over the author's own regions (a county alerts its
    # city's and province's offices, which the department directory does not list for it)
    wanted = {getattr(d, "pk", d) for d in notify_departments}
    visible = set(Department.objects.restrict(actor, "view").filter(pk__in=wanted).values_list("pk", flat=True))
    principal = principal_for(actor)
    mine = principal.region_paths() if principal is not None else set()
    for pk, path in Department.objects.filter(pk__in=wanted - visible).values_list("pk", "region__path"):
        if any(own.startswith(path) for own in mine):
            visible.add(pk)
    if wanted - visible:
        raise ServiceError(_("Choose departments to alert among those you can see."), field="notify_departments")
    rule.notify_departments.set(visible)
    audit_record(actor=actor, action="monitoring.rule.create", target=rule, after=snapshot(rule, RULE_FIELDS))
    return rule


@transaction.atomic
def rule_set_active(*, actor, rule: MonitoringRule, active: bool) -> MonitoringRule:
    authorize(actor, "manage", rule)
    rule = MonitoringRule.objects.select_for_update().get(pk=rule.pk)
    if rule.is_active == active:
        return rule
    before = snapshot(rule, RULE_FIELDS)
    rule.is_active = active
    rule.save(update_fields=["is_active"])
    audit_record(
        actor=actor, action="monitoring.rule.active", target=rule, before=before, after=snapshot(rule, RULE_FIELDS)
    )
    return rule


# --- evaluation ---------------------------------------------------------------------------------


def rules_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """The beat job: evaluate every active rule, each in its own transaction. A rule another
    worker is evaluating right now is skipped (its lock is held), not waited for."""
    totals = {"rules": 0, "records": 0, "alerts": 0}
    for pk in MonitoringRule.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True):
        try:
            result = rule_evaluate(rule_id=pk, now=now)
        except Exception as exc:  # one broken rule must not stop the others: recorded, retried next run
            log.exception("monitoring rule %s failed", pk)
            RuleEvaluation.objects.create(
                rule_id=pk,
                started_at=now or timezone.now(),
                finished_at=timezone.now(),
                outcome=EvaluationOutcome.FAILED,
                message=f"{type(exc).__name__}: {exc}"[:300],
            )
            totals["failed"] = totals.get("failed", 0) + 1
            continue
        if result is None:
            continue
        totals["rules"] += 1
        totals["records"] += result.records
        totals["alerts"] += result.alerts
    return totals


def rule_evaluate(*, rule_id: int, now: datetime | None = None, batch: int = BATCH) -> RuleEvaluation | None:
    """Read the records loaded since the cursor (in steps of `batch`), fold them into buckets and
    raise alerts. Returns the evaluation record, or None when the rule is busy or switched off."""
    from apps.datapool.models import Record

    now = now or timezone.now()
    with transaction.atomic():
        rule = (
            MonitoringRule.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("dataset__standard", "department__region")
            .filter(pk=rule_id, is_active=True)
            .first()
        )
        if rule is None:
            return None
        evaluation = RuleEvaluation(rule=rule, started_at=now, from_cursor=rule.cursor, to_cursor=rule.cursor)
        visible = readable_rows(rule.department_id, rule.dataset, rule.field)
        if visible is None:
            evaluation.outcome = EvaluationOutcome.NO_ACCESS
            evaluation.message = "no valid grant opens this dataset (or the field) to the rule's department"
        else:
            touched: dict[tuple[int | None, datetime], RuleBucket] = {}
            while True:
                pending = Record.objects.filter(dataset_id=rule.dataset_id, id__gt=evaluation.to_cursor).order_by("id")
                upper = pending.values_list("id", flat=True)[batch - 1 : batch].first()
                if upper is None:
                    upper = pending.aggregate(top=Max("id"))["top"]
                if upper is None:
                    break
                rows = pending.filter(visible, id__lte=upper, observed_at__isnull=False)
                evaluation.records += _fold(rule, rows, touched)
                evaluation.to_cursor = upper
            evaluation.buckets = len(touched)
            if touched:
                evaluation.alerts = _raise_alerts(rule, touched, now)
            rule.cursor = evaluation.to_cursor
        rule.last_evaluated_at = now
        rule.save(update_fields=["cursor", "last_evaluated_at"])
        evaluation.finished_at = timezone.now()
        evaluation.save()
    return evaluation


def _fold(rule: MonitoringRule, rows, touched: dict) -> int:
    """Add one step's rows to the rule's buckets (one aggregate query, one read of the buckets
    it lands in, one bulk insert and one bulk update). Returns how many records it read."""
    tz = ZoneInfo(settings.TIME_ZONE)
    trunc = TruncHour if rule.window == Window.HOUR else TruncDay
    numbers = {}
    if rule.field:
        value = Cast(KeyTextTransform(rule.field, "payload"), FloatField())
        numbers = {"total": Sum(value), "valued": Count(value), "top": Max(value), "low": Min(value)}
    groups = list(
        rows.annotate(bucket=trunc("observed_at", tzinfo=tz))
        .values("region_id", "bucket")
        .annotate(n=Count("id"), **numbers)
        .order_by()
    )
    if not groups:
        return 0
    starts = {g["bucket"] for g in groups}
    existing = {
        (b.region_id, b.start): b for b in RuleBucket.objects.filter(rule=rule, start__in=starts).select_for_update()
    }
    step = []
    for g in groups:
        key = (g["region_id"], g["bucket"])
        bucket = touched.get(key) or existing.get(key) or RuleBucket(rule=rule, region_id=key[0], start=key[1])
        bucket.count += g["n"]
        if rule.field and g.get("valued"):
            bucket.total += g["total"] or 0
            bucket.valued += g["valued"]
            bucket.maximum = g["top"] if bucket.maximum is None else max(bucket.maximum, g["top"])
            bucket.minimum = g["low"] if bucket.minimum is None else min(bucket.minimum, g["low"])
        touched[key] = bucket
        step.append(bucket)
    stored = [b for b in step if b.pk is not None]
    RuleBucket.objects.bulk_create([b for b in step if b.pk is None])
    if stored:
        RuleBucket.objects.bulk_update(stored, ["count", "total", "valued", "maximum", "minimum"])
    return sum(g["n"] for g in groups)


def _raise_alerts(rule: MonitoringRule, touched: dict, now: datetime) -> int:
    span = WINDOWS[rule.window]
    previous = {}
    if rule.kind == RuleKind.RATE:
        wanted = {b.start - span for b in touched.values()}
        previous = {
            (b.region_id, b.start): b.value(rule.aggregate)
            for b in RuleBucket.objects.filter(rule=rule, start__in=wanted)
        }
    compare = COMPARE[rule.comparator]
    hits = []
    for (region_id, start), bucket in sorted(touched.items(), key=lambda kv: (kv[0][1], kv[0][0] or 0)):
        value = bucket.value(rule.aggregate)
        if value is None:
            continue
        baseline = None
        if rule.kind == RuleKind.RATE:
            baseline = previous.get((region_id, start - span))
            if baseline is None or baseline < max(rule.min_baseline, 1e-9):
                continue
            measured = (value - baseline) / baseline * 100
        else:
            measured = value
        if compare(measured, rule.threshold):
            hits.append((region_id, start, value, baseline))
    if not hits:
        return 0
    known = set(
        Alert.objects.filter(rule=rule, window_start__in={h[1] for h in hits}).values_list("region_id", "window_start")
    )
    raised = 0
    for region_id, start, value, baseline in hits:
        if (region_id, start) in known:
            continue
        alert = Alert.objects.create(
            rule=rule,
            region_id=region_id,
            window_start=start,
            window_end=start + span,
            value=value,
            baseline=baseline,
            level=rule.level,
            raised_at=now,
        )
        _announce(rule, alert)
        raised += 1
    return raised


def _describe(rule: MonitoringRule, alert: Alert) -> str:
    region = alert.region.name if alert.region_id else gettext("no division code")
    if rule.kind == RuleKind.RATE:
        return gettext(
            "%(rule)s: %(region)s went from %(before)s to %(after)s (%(change)+.0f%%) in the window from %(start)s."
        ) % {
            "rule": rule.name,
            "region": region,
            "before": f"{alert.baseline:g}",
            "after": f"{alert.value:g}",
            "change": (alert.value - alert.baseline) / alert.baseline * 100,
            "start": timezone.localtime(alert.window_start).strftime("%Y-%m-%d %H:%M"),
        }
    return gettext("%(rule)s: %(region)s reached %(value)s (threshold %(threshold)s) in the window from %(start)s.") % {
        "rule": rule.name,
        "region": region,
        "value": f"{alert.value:g}",
        "threshold": f"{rule.threshold:g}",
        "start": timezone.localtime(alert.window_start).strftime("%Y-%m-%d %H:%M"),
    }


def _announce(rule: MonitoringRule, alert: Alert) -> None:
    """Ledger, notifications and the optional draft for one new alert (inside the evaluation)."""
    with translation.override(settings.LANGUAGE_CODE):
        summary = _describe(rule, alert)
        audit_record(
            actor=None,
            action="monitoring.alert",
            target=alert,
            region=alert.region or rule.department.region,
            after={
                "rule": rule.pk,
                "region": alert.region_id,
                "window_start": alert.window_start,
                "value": alert.value,
                "baseline": alert.baseline,
                "level": alert.level,
            },
        )
        departments = {rule.department_id, *rule.notify_departments.values_list("pk", flat=True)}
        title = gettext("%(level)s alert: %(rule)s") % {"level": WarningLevel(alert.level).label, "rule": rule.name}
        notify_bulk(
            [
                message_for(
                    department=pk,
                    kind="monitoring.alert",
                    title=title,
                    key=f"alert:{alert.pk}",
                    target=alert,
                    body=summary,
                    link=f"/monitoring/alerts/{alert.pk}/",
                )
                for pk in sorted(departments)
            ]
        )
        if rule.draft_action != DraftAction.NONE:
            _draft(rule, alert, summary)


def _draft(rule: MonitoringRule, alert: Alert, summary: str) -> None:
    """Draft a warning notice or an incident report for human review, in the name of the rule's
    author. When the author may no longer do so, the alert says why and nothing is drafted."""
    from apps.incidents import services as incidents

    region = alert.region or rule.department.region
    try:
        with transaction.atomic():
            if rule.draft_action == DraftAction.WARNING:
                alert.warning = incidents.warning_draft(
                    actor=rule.created_by,
                    issuer=rule.department,
                    region=region,
                    level=alert.level,
                    title=(gettext("%(rule)s: %(region)s") % {"rule": rule.name, "region": region.name})[:200],
                    area=region.name,
                    starts_at=alert.raised_at,
                    expected_hours=24 if rule.window == Window.DAY else 6,
                    measures=gettext("To be completed by the reviewing department."),
                    content=summary,
                    idempotency_key=f"alert-{alert.pk}",
                )
            else:
                alert.incident = incidents.incident_report(
                    actor=rule.created_by,
                    department=rule.department,
                    title=(gettext("%(rule)s: %(region)s") % {"rule": rule.name, "region": region.name})[:200],
                    category=_category_of(rule.incident_subtype),
                    subtype=rule.incident_subtype,
                    severity=4,
                    place=region.name,
                    first_seen_at=alert.window_start,
                    intake_channel=IntakeChannel.MONITORING,
                    intake_seen_at=alert.window_start,
                    regions=[region],
                    description=summary,
                    idempotency_key=f"alert-{alert.pk}",
                )
    except (AccessDenied, ServiceError) as exc:
        message = getattr(exc, "message", "") or gettext("the rule's author may no longer draft this")
        alert.draft_error = str(message)[:300]
    alert.save(update_fields=["warning", "incident", "draft_error"])


# --- alerts -------------------------------------------------------------------------------------


@transaction.atomic
def alert_handle(*, actor, alert: Alert, status: str, note: str = "") -> Alert:
    """Acknowledge or close an alert (closed is final)."""
    authorize(actor, "handle", alert)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    allowed = {
        AlertStatus.OPEN: {AlertStatus.ACKNOWLEDGED, AlertStatus.CLOSED},
        AlertStatus.ACKNOWLEDGED: {AlertStatus.CLOSED},
    }
    if status == alert.status:
        return alert  # a double click
    if status not in allowed.get(alert.status, set()):
        raise ServiceError(_("This alert cannot move to that status."), code="invalid_transition", field="status")
    before = snapshot(alert, ["status", "note"])
    alert.status = status
    alert.note = (note or alert.note).strip()
    alert.handled_by = actor
    alert.handled_at = timezone.now()
    alert.save(update_fields=["status", "note", "handled_by", "handled_at"])
    audit_record(
        actor=actor,
        action="monitoring.alert.handle",
        target=alert,
        before=before,
        after=snapshot(alert, ["status", "note"]),
    )
    return alert


def open_alerts_q() -> Q:
    return Q(status__in=[AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED])
