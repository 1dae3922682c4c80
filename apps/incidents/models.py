from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.permissions import Role
from apps.core.scoping import NOTHING, ScopedModel, subtree_q
from apps.organizations.choices import DepartmentType

from .choices import (
    Category,
    ClockKind,
    ClockStep,
    IncidentStatus,
    IntakeChannel,
    ReportKind,
    Severity,
    Subtype,
    TimelineKind,
    WarningLevel,
    WarningStatus,
)

COMMANDERS = {Role.HEAD, Role.STAFF}


def format_gap(delta) -> str:
    """ "5 h 07 min" (hours and minutes, however many days that is), in the active language."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    return gettext("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}


def _gap_text(delta, channel: str, *, by_channel: str, by_anyone: str) -> str:
    """One whole sentence per case (translators need the word order of the whole)."""
    args = {"gap": format_gap(delta), "channel": IntakeChannel(channel).label if channel else ""}
    return gettext(by_channel if channel else by_anyone) % args


class Incident(ScopedModel):
    """A public emergency (公共突发事件).

    Seen by the reporting region (and the regions above it), by every affected region, by the
    members of the leading group in charge, by the information office of any leading group
    whose regions it touches, and (read-only) by the staff of a partner region whose active
    agreement shares incidents; nobody else. Status and severity change only through services.
    """

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    subtype = models.CharField(_("sub-type"), max_length=32, choices=Subtype.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.REPORTED
    )
    is_drill = models.BooleanField(_("drill/exercise"), default=False)
    region = models.ForeignKey(
        "organizations.Region",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reporting region"),
        editable=False,
    )
    regions = models.ManyToManyField(
        "organizations.Region", related_name="incidents", verbose_name=_("affected regions")
    )
    place = models.CharField(_("place"), max_length=300)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    first_seen_at = models.DateTimeField(_("first seen at"))
    # 信息报送 runs from the earliest sighting: an intake channel (a monitoring alert, the 12345
    # hotline, ...) may have picked the event up before the reporting department did.
    intake_channel = models.CharField(_("intake channel"), max_length=16, choices=IntakeChannel.choices, blank=True)
    intake_seen_at = models.DateTimeField(_("first seen by the intake channel at"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), default=timezone.now)
    reporting_department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="reported_incidents",
        verbose_name=_("reporting department"),
    )
    leading_group = models.ForeignKey(
        "organizations.LeadingGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("leading group in charge"),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    report_count = models.PositiveIntegerField(_("situation reports"), default=0, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-first_seen_at", "-id"]
        indexes = [models.Index(fields=["status", "severity"], name="incident_status_severity_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["reporting_department", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="incident_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=(Q(intake_channel="") & Q(intake_seen_at__isnull=True))
                | (~Q(intake_channel="") & Q(intake_seen_at__isnull=False)),
                name="incident_intake_channel_and_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status != IncidentStatus.CLOSED

    @property
    def sighted_at(self):
        """When the event was first seen by anyone: the statutory reporting clocks run from here."""
        if self.intake_seen_at is not None and self.intake_seen_at < self.first_seen_at:
            return self.intake_seen_at
        return self.first_seen_at

    @property
    def sighted_by(self) -> str:
        """The intake channel that saw the event first ("" when the reporting department did)."""
        if self.intake_seen_at is not None and self.intake_seen_at <= self.first_seen_at:
            return self.intake_channel
        return ""

    @property
    def registration_gap(self):
        """How long after the first sighting the incident was registered on the platform."""
        return max(self.reported_at - self.sighted_at, timedelta(0))

    @property
    def registration_gap_text(self) -> str:
        """ "registered 5 h 20 min after Hotline (12345) first saw it" """
        return _gap_text(
            self.registration_gap,
            self.sighted_by,
            by_channel=gettext_noop("registered %(gap)s after %(channel)s first saw it"),
            by_anyone=gettext_noop("registered %(gap)s after the event was first seen"),
        )

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        office = principal.office_group_ids(COMMANDERS)
        if action == "command":
            # verify, change severity/status, take charge: emergency-management heads over the
            # reporting region, and the information office of a leading group covering it.
            q = subtree_q("region__path", principal.region_paths({Role.HEAD}, {DepartmentType.EMERGENCY}))
            if office:
                q |= Q(leading_group_id__in=office)
                q |= cls._in_paths(principal.office_region_paths)
            return q
        paths = principal.region_paths(roles)
        q = cls._in_paths(paths, with_ancestors=True)
        groups = principal.leading_group_ids(roles)
        if groups:
            q |= Q(leading_group_id__in=groups)
        if office:
            q |= cls._in_paths(principal.office_region_paths)
        # An active, in-window agreement sharing incidents opens the incidents the partner regions
        # reported (not every incident touching them: that would pass a third region's incidents
        # on), for reading only: `command` above never looks at agreements.
        q |= subtree_q("region__path", principal.agreement_paths.get("share_incidents", set()))
        return q

    @classmethod
    def _in_paths(cls, paths, *, with_ancestors: bool = False) -> Q:
        """Incidents reported in or affecting these regions (and below). With ancestors: also those
        affecting a region above (a county sees the flood declared for its city: plan work reaches it)."""
        if not paths:
            return NOTHING
        region_q = subtree_q("region__path", paths)
        if with_ancestors:
            region_q |= Q(region__path__in=ancestor_paths(paths))
        affected = cls.regions.through.objects.filter(region_q).values("incident_id")
        return subtree_q("region__path", paths) | Q(pk__in=affected)


def ancestor_paths(paths) -> set[str]:
    """Each path and every path above it: "32/3201/" -> {"32/", "32/3201/"}."""
    return {p[: i + 1] for p in paths for i, c in enumerate(p) if c == "/"}


def _incident_visible(principal, roles, lookup: str = "incident") -> Q:
    return Q(**{f"{lookup}_id__in": Incident.objects.filter(Incident.scope_q(principal, "view", roles)).values("pk")})


class SituationReport(ScopedModel):
    """信息报送: a numbered report on an incident from one department, with structured figures."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="reports", verbose_name=_("incident"))
    number = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=16, choices=ReportKind.choices)
    department = models.ForeignKey(
        "organizations.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    deaths = models.PositiveIntegerField(_("deaths"), default=0)
    injured = models.PositiveIntegerField(_("injured"), default=0)
    missing = models.PositiveIntegerField(_("missing"), default=0)
    affected_population = models.PositiveIntegerField(_("affected population"), default=0)
    evacuated = models.PositiveIntegerField(_("evacuated"), default=0)
    resources_deployed = models.TextField(_("resources deployed"), blank=True)
    text = models.TextField(_("situation"))
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    is_late = models.BooleanField(_("late report"), default=False)
    late_by = models.DurationField(_("late by"), null=True, blank=True)
    late_reason = models.TextField(_("reason for lateness"), blank=True)
    # A department's first report past the statutory window from the earliest sighting (迟报):
    # how long after that sighting it came, and which intake channel saw the event first.
    late_gap = models.DurationField(_("reported after the first sighting by"), null=True, blank=True)
    late_gap_channel = models.CharField(_("first seen by"), max_length=16, choices=IntakeChannel.choices, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("situation report")
        verbose_name_plural = _("situation reports")
        ordering = ["incident_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="situation_report_number_unique"),
            models.UniqueConstraint(
                fields=["department", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="situation_report_idempotency_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident} #{self.number}"

    @property
    def late_gap_text(self) -> str:
        """ "reported 5 h 20 min after Hotline (12345) first saw it"; "" unless late from the sighting."""
        if self.late_gap is None:
            return ""
        return _gap_text(
            self.late_gap,
            self.late_gap_channel,
            by_channel=gettext_noop("reported %(gap)s after %(channel)s first saw it"),
            by_anyone=gettext_noop("reported %(gap)s after the event was first seen"),
        )

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _incident_visible(principal, roles)


def photo_path(instance, filename: str) -> str:
    return f"incidents/{instance.incident_id}/{timezone.now():%Y%m%d%H%M%S}-{filename}"


class IncidentPhoto(ScopedModel):
    """A photo from the scene, attached by a department that reports on the incident. Stored
    through Django's storage API; served only through the incident's scope (never a public URL)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="photos", verbose_name=_("incident"))
    file = models.ImageField(
        _("file"), upload_to=photo_path, max_length=300, width_field="width", height_field="height"
    )
    name = models.CharField(_("name"), max_length=200)
    caption = models.CharField(_("caption"), max_length=300, blank=True)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("content type"), max_length=100)
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    department = models.ForeignKey(
        "organizations.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("incident photo")
        verbose_name_plural = _("incident photos")
        ordering = ["incident_id", "uploaded_at", "id"]

    def __str__(self) -> str:
        return self.caption or self.name

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _incident_visible(principal, roles)


class Warning(ScopedModel):
    """预警: a colour-coded warning notice. Published outside the platform only after the
    information office's review (统一发布): draft → reviewed → published."""

    title = models.CharField(_("title"), max_length=200)
    level = models.CharField(pgettext_lazy("warning", "level"), max_length=8, choices=WarningLevel.choices)
    region = models.ForeignKey(
        "organizations.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("region")
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="warnings", verbose_name=_("incident")
    )
    issuer = models.ForeignKey(
        "organizations.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("issuer")
    )
    area = models.CharField(_("area"), max_length=300)
    starts_at = models.DateTimeField(_("start"))
    expected_hours = models.PositiveIntegerField(_("expected duration (hours)"), validators=[MinValueValidator(1)])
    measures = models.TextField(_("measures"))
    content = models.TextField(_("content"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=WarningStatus.choices, default=WarningStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("warning")
        verbose_name_plural = _("warnings")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="warning_idempotency_unique",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        office = principal.office_group_ids(roles)
        if action == "review":
            return subtree_q("region__path", principal.office_region_paths) if office else NOTHING
        if action == "change":
            return Q(issuer_id__in=principal.department_ids(roles))
        paths = principal.region_paths(roles)
        q = (
            subtree_q("region__path", paths)
            | Q(region__path__in=ancestor_paths(paths))  # a warning for the city reaches its counties
            | Q(issuer_id__in=principal.department_ids(roles))
        )
        if office:
            q |= subtree_q("region__path", principal.office_region_paths)
        groups = principal.leading_group_ids(roles)
        if groups:
            q |= Q(incident__leading_group_id__in=groups)
        return q


class ResponsePlan(ScopedModel):
    """应急预案: what a verified incident of a type and severity sets in motion."""

    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    subtype = models.CharField(
        _("sub-type"), max_length=32, choices=Subtype.choices, blank=True, help_text=_("Empty: every sub-type.")
    )
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    lead_department_type = models.CharField(_("lead department type"), max_length=32, choices=DepartmentType.choices)
    notify_department_types = models.JSONField(
        _("department types to notify"),
        default=list,
        blank=True,
        help_text=_("Department types in the affected regions told at activation."),
    )
    data_approval_depth = models.PositiveSmallIntegerField(
        _("data request approval depth"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text=_("1: owner head only; 2: plus the information office; 3: plus the leading group head."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("response plan")
        verbose_name_plural = _("response plans")
        ordering = ["category", "severity", "name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        # Plans are published templates: every member of staff may read them; only
        # administrators edit them (admin console).
        return Q() if principal.seats_for(roles) else NOTHING


class PlanTaskTemplate(models.Model):
    plan = models.ForeignKey(ResponsePlan, on_delete=models.CASCADE, related_name="task_templates")
    title = models.CharField(_("title"), max_length=200)
    target_department_type = models.CharField(
        _("target department type"), max_length=32, choices=DepartmentType.choices
    )
    deadline_minutes = models.PositiveIntegerField(_("deadline (minutes after activation)"))
    instructions = models.TextField(_("instructions"), blank=True)

    class Meta:
        verbose_name = _("plan task")
        verbose_name_plural = _("plan tasks")
        ordering = ["plan_id", "deadline_minutes", "id"]

    def __str__(self) -> str:
        return self.title


class PlanActivation(ScopedModel):
    """One activation of a plan for an incident at a severity. Never deleted when severity drops."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="activations")
    plan = models.ForeignKey(ResponsePlan, on_delete=models.PROTECT, related_name="activations")
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    activated_at = models.DateTimeField(_("activated at"), default=timezone.now)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("plan activation")
        verbose_name_plural = _("plan activations")
        ordering = ["incident_id", "activated_at"]
        constraints = [models.UniqueConstraint(fields=["incident", "plan"], name="plan_activation_once")]

    def __str__(self) -> str:
        return f"{self.plan} → {self.incident}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _incident_visible(principal, roles)


class PlannedDispatch(models.Model):
    """What an activation dispatches: one row per (task template, department). Handed to the task
    services once they exist; until then it records what would be dispatched."""

    activation = models.ForeignKey(PlanActivation, on_delete=models.CASCADE, related_name="dispatches")
    template = models.ForeignKey(PlanTaskTemplate, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    deadline = models.DateTimeField(_("deadline"))
    task_id = models.BigIntegerField(_("task"), null=True, blank=True)

    class Meta:
        verbose_name = _("planned dispatch")
        verbose_name_plural = _("planned dispatches")
        ordering = ["activation_id", "deadline", "id"]
        constraints = [
            models.UniqueConstraint(fields=["activation", "template", "department"], name="planned_dispatch_once")
        ]

    def __str__(self) -> str:
        return self.title


class ReportingRule(models.Model):
    """Configurable statutory reporting deadlines (信息报送时限). One active rule per severity."""

    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices, unique=True)
    initial_minutes = models.PositiveIntegerField(_("initial report within (minutes of first seen)"))
    county_to_city_minutes = models.PositiveIntegerField(_("county → city (minutes)"), default=120)
    city_to_province_minutes = models.PositiveIntegerField(_("city → province (minutes)"), default=180)
    follow_up_minutes = models.PositiveIntegerField(_("follow-up cadence while responding (minutes)"), default=240)
    daily_report = models.BooleanField(_("daily report mode"), default=False)
    remind_before_minutes = models.PositiveIntegerField(_("remind before due (minutes)"), default=30)
    escalate_region_after_minutes = models.PositiveIntegerField(
        _("escalate to the region above after (minutes overdue)"), default=30
    )
    escalate_group_after_minutes = models.PositiveIntegerField(
        _("escalate to the leading group after (minutes overdue)"), default=60
    )

    class Meta:
        verbose_name = _("reporting rule")
        verbose_name_plural = _("reporting rules")
        ordering = ["severity"]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.initial_minutes} min"


class ReportingClock(ScopedModel):
    """A statutory deadline one department must meet for one incident, and its escalation state."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="clocks")
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=ClockKind.choices)
    due_at = models.DateTimeField(_("due at"), db_index=True)
    satisfied_at = models.DateTimeField(_("satisfied at"), null=True, blank=True)
    satisfied_by = models.ForeignKey(SituationReport, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_head_at = models.DateTimeField(null=True, blank=True)
    escalated_region_at = models.DateTimeField(null=True, blank=True)
    escalated_group_at = models.DateTimeField(null=True, blank=True)

    STEP_FIELDS = {
        ClockStep.REMINDED: "reminded_at",
        ClockStep.HEAD: "escalated_head_at",
        ClockStep.REGION_ABOVE: "escalated_region_at",
        ClockStep.LEADING_GROUP: "escalated_group_at",
    }

    class Meta:
        verbose_name = _("reporting clock")
        verbose_name_plural = _("reporting clocks")
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["satisfied_at", "cancelled_at", "due_at"], name="clock_open_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.incident}"

    @property
    def is_open(self) -> bool:
        return self.satisfied_at is None and self.cancelled_at is None

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _incident_visible(principal, roles)


class TimelineEntry(ScopedModel):
    """演化路线图: one entry per thing that happened to an incident, linked to its object and ledger seq."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField(_("time"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=16, choices=TimelineKind.choices)
    summary = models.CharField(_("summary"), max_length=300)  # rendered in the platform language (search, fallback)
    message = models.CharField(max_length=200, blank=True)  # the translatable source text (msgid)
    message_args = models.JSONField(default=dict, blank=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ledger_seq = models.BigIntegerField(_("ledger #"), null=True, blank=True)
    actor_name = models.CharField(_("actor"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return self.summary

    @property
    def text(self) -> str:
        """The summary in the reader's language (entries are written in whichever language the writer used)."""
        from .timeline import render

        return render(self.message, self.message_args) if self.message else self.summary

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _incident_visible(principal, roles)
