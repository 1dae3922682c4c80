"""The application layer's outputs for one incident: consolidated situation reports (综合报告),
after-action reviews (调查评估) and the digital archive frozen when the incident closes (数字档案).

A `Report` is also its own generation job: queued → running (with progress) → done or failed,
so the API can answer 202 and be polled. Its content is a JSON snapshot taken when it ran; the
PDF, Excel and CSV files are rendered from that snapshot and stored through Django's storage API.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.scoping import ScopedModel
from apps.incidents.models import Incident, _incident_visible

from .choices import JobStatus, ReportKind, Trigger


def _commanded_q(principal, roles, lookup: str = "incident") -> Q:
    """Incidents whose reports one may read: the leading group in charge (its member departments)
    and those who command the incident (emergency-management heads over its region, the office)."""
    prefix = f"{lookup}__" if lookup else ""
    q = Q(**{f"{prefix}pk__in": Incident.objects.filter(Incident.scope_q(principal, "command", roles)).values("pk")})
    groups = principal.leading_group_ids(roles)
    if groups:
        q |= Q(**{f"{prefix}leading_group_id__in": groups})
    return q


class Report(ScopedModel):
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+", verbose_name=_("incident"))
    kind = models.CharField(_("kind"), max_length=16, choices=ReportKind.choices, default=ReportKind.SITUATION)
    number = models.PositiveIntegerField(_("number"))
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.ON_DEMAND)
    slot = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    content = models.JSONField(_("content"), default=dict, blank=True, editable=False)
    pdf = models.FileField(_("PDF"), upload_to="reports/%Y/%m/", blank=True)
    xlsx = models.FileField(_("Excel"), upload_to="reports/%Y/%m/", blank=True)
    csv = models.FileField(_("CSV"), upload_to="reports/%Y/%m/", blank=True)
    hashes = models.JSONField(_("SHA-256"), default=dict, blank=True, editable=False)
    idempotency_key = models.CharField(max_length=64, blank=True, editable=False)
    # The language the files are written in: the requester's, else (a schedule, a closing) the platform's.
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE, editable=False
    )

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind", "number"], name="report_number_unique"),
            models.UniqueConstraint(
                fields=["incident", "kind", "slot"], condition=Q(slot__isnull=False), name="report_slot_unique"
            ),
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="report_idempotency_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.number} · {self.incident}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _commanded_q(principal, roles)

    def file_for(self, fmt: str):
        return getattr(self, fmt) if fmt in ("pdf", "xlsx", "csv") else None


class ReportSchedule(ScopedModel):
    """Generate a consolidated report every day at `at_time` (Asia/Shanghai) while the incident is open."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="report_schedule", verbose_name=_("incident")
    )
    at_time = models.TimeField(_("daily at"))
    is_active = models.BooleanField(_("active"), default=True)
    last_slot = models.DateTimeField(_("last run for"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")

    def __str__(self) -> str:
        return f"{self.incident} @ {self.at_time:%H:%M}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _commanded_q(principal, roles)


class Archive(ScopedModel):
    """数字档案: the incident as it stood when it closed, packed as one zip file with a manifest of
    SHA-256 hashes whose root hash is written to the ledger. Read-only once frozen."""

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="archive", verbose_name=_("incident")
    )
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    file = models.FileField(_("file"), upload_to="archives/%Y/", blank=True)
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    root_hash = models.CharField(_("root hash"), max_length=64, blank=True)
    manifest = models.JSONField(_("manifest"), default=dict, blank=True, editable=False)
    ledger_seq = models.BigIntegerField(_("ledger #"), null=True, blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("archive")
        verbose_name_plural = _("archives")
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.incident}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return _incident_visible(principal, roles)
