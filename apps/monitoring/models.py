"""Early warning on pooled data (预警监测): monitoring rules, their incremental evaluation, alerts.

A `MonitoringRule` belongs to one department and watches one dataset that department may read
(its own, or through a valid grant: the rule sees exactly the rows and fields the grant opens).
Each evaluation reads only the records loaded since the rule's cursor, folds them into
per-region, per-window `RuleBucket`s, and checks the condition on the buckets it touched; a hit
raises at most one `Alert` per rule, region and window.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.core.scoping import ScopedModel
from apps.incidents.choices import Subtype, WarningLevel

from .choices import Aggregate, AlertStatus, Comparator, DraftAction, EvaluationOutcome, RuleKind, Window


class MonitoringRule(ScopedModel):
    department = models.ForeignKey(
        "organizations.Department", on_delete=models.PROTECT, related_name="monitoring_rules", verbose_name=_("owner")
    )
    dataset = models.ForeignKey(
        "datapool.Dataset", on_delete=models.PROTECT, related_name="monitoring_rules", verbose_name=_("dataset")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=RuleKind.choices)
    field = models.CharField(_("field"), max_length=64, blank=True)
    aggregate = models.CharField(_("aggregate"), max_length=8, choices=Aggregate.choices, default=Aggregate.COUNT)
    comparator = models.CharField(_("comparison"), max_length=4, choices=Comparator.choices, default=Comparator.GE)
    threshold = models.FloatField(_("threshold"))
    window = models.CharField(_("window"), max_length=8, choices=Window.choices, default=Window.DAY)
    min_baseline = models.FloatField(
        _("minimum baseline"), default=1, help_text=_("Rate rules only: the previous window must reach this value.")
    )
    level = models.CharField(pgettext_lazy("warning", "level"), max_length=8, choices=WarningLevel.choices)
    notify_departments = models.ManyToManyField(
        "organizations.Department", blank=True, related_name="+", verbose_name=_("departments alerted")
    )
    draft_action = models.CharField(_("on a hit"), max_length=16, choices=DraftAction.choices, default=DraftAction.NONE)
    incident_subtype = models.CharField(
        _("incident sub-type"),
        max_length=32,
        choices=Subtype.choices,
        blank=True,
        help_text=_("For drafted incidents."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    cursor = models.BigIntegerField(_("last record evaluated"), default=0, editable=False)
    last_evaluated_at = models.DateTimeField(_("last evaluated at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("monitoring rule")
        verbose_name_plural = _("monitoring rules")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return Q(department_id__in=principal.department_ids(roles))


class RuleBucket(models.Model):
    """The running aggregate of one rule over one region and one window (hour or day)."""

    rule = models.ForeignKey(MonitoringRule, on_delete=models.CASCADE, related_name="buckets")
    region = models.ForeignKey("organizations.Region", on_delete=models.PROTECT, null=True, related_name="+")
    start = models.DateTimeField()
    count = models.BigIntegerField(default=0)
    total = models.FloatField(default=0)
    valued = models.BigIntegerField(default=0)  # records that carried a value (for the average)
    maximum = models.FloatField(null=True)
    minimum = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "region", "start"], name="rulebucket_unique"),
            models.UniqueConstraint(
                fields=["rule", "start"], condition=Q(region__isnull=True), name="rulebucket_unique_noregion"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.region_id}/{self.start:%Y-%m-%d %H:%M}"

    def value(self, aggregate: str) -> float | None:
        if aggregate == Aggregate.COUNT:
            return float(self.count)
        if aggregate == Aggregate.SUM:
            return self.total if self.valued else None
        if aggregate == Aggregate.AVG:
            return self.total / self.valued if self.valued else None
        return self.maximum if aggregate == Aggregate.MAX else self.minimum


class Alert(ScopedModel):
    rule = models.ForeignKey(MonitoringRule, on_delete=models.PROTECT, related_name="alerts", verbose_name=_("rule"))
    region = models.ForeignKey(
        "organizations.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
    )
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end"))
    value = models.FloatField(_("value"))
    baseline = models.FloatField(_("previous window"), null=True, blank=True)
    level = models.CharField(pgettext_lazy("warning", "level"), max_length=8, choices=WarningLevel.choices)
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    warning = models.ForeignKey(
        "incidents.Warning",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("warning"),
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("incident"),
    )
    draft_error = models.CharField(_("draft not made"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "region", "window_start"], name="alert_once_per_window"),
            models.UniqueConstraint(
                fields=["rule", "window_start"], condition=Q(region__isnull=True), name="alert_once_per_window_noregion"
            ),
        ]
        indexes = [models.Index(fields=["status", "raised_at"], name="alert_status_idx")]

    def __str__(self) -> str:
        return f"{self.rule} · {self.window_start:%Y-%m-%d %H:%M}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        mine = principal.department_ids(roles)
        alerted = MonitoringRule.notify_departments.through.objects.filter(department_id__in=mine)
        return Q(rule__department_id__in=mine) | Q(rule_id__in=alerted.values("monitoringrule_id"))


class RuleEvaluation(models.Model):
    """One evaluation of one rule: the record ids it read, what it found."""

    rule = models.ForeignKey(MonitoringRule, on_delete=models.CASCADE, related_name="evaluations")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True)
    from_cursor = models.BigIntegerField(default=0)
    to_cursor = models.BigIntegerField(default=0)
    records = models.BigIntegerField(default=0)
    buckets = models.IntegerField(default=0)
    alerts = models.IntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=EvaluationOutcome.choices, default=EvaluationOutcome.OK)
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["rule", "-started_at"], name="ruleeval_rule_idx")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"
