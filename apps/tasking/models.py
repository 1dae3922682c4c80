from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.permissions import Role
from apps.core.scoping import NOTHING, ScopedModel

from .choices import Priority, TaskEventKind, TaskStatus

HEAD_ONLY = {Role.HEAD}
WORKERS = {Role.HEAD, Role.STAFF}


class Task(ScopedModel):
    """A task with exactly one accountable department (`department`) at every moment.

    Issued by a department (its head) or by a leading group (its information office). A transfer
    names `transfer_to`; until that department accepts, `department` stays accountable. The
    deadline never changes on a transfer. Status changes only through services.
    """

    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("incident"),
    )
    batch = models.UUIDField(_("dispatch batch"), null=True, blank=True, db_index=True, editable=False)
    issuer_department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="issued_tasks",
        verbose_name=_("issuing department"),
    )
    issuer_group = models.ForeignKey(
        "organizations.LeadingGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("issuing leading group"),
    )
    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="tasks",
        verbose_name=_("accountable department"),
    )
    transfer_to = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("transfer requested to"),
    )
    status_before_transfer = models.CharField(max_length=24, blank=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    instructions = models.TextField(_("instructions"), blank=True)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    deadline = models.DateTimeField(_("deadline"), db_index=True)
    status = models.CharField(_("status"), max_length=24, choices=TaskStatus.choices, default=TaskStatus.ISSUED)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    transfer_reason = models.TextField(_("reason for the transfer"), blank=True)
    dispute_reason = models.TextField(_("reason for the dispute"), blank=True)
    result = models.TextField(_("result"), blank=True)
    # What proves the result (a document number, where photos or records are kept); a completion
    # needs this or an evidence attachment from the accountable department.
    evidence = models.TextField(_("evidence"), blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_head_at = models.DateTimeField(null=True, blank=True)
    escalated_group_at = models.DateTimeField(null=True, blank=True)
    # since when someone other than the accountable department must answer (a transfer request
    # waits for the named department, a decline for the issuer), and when they were reminded
    awaiting_answer_since = models.DateTimeField(null=True, blank=True)
    answer_reminded_at = models.DateTimeField(null=True, blank=True)
    dispatch_key = models.CharField(_("idempotency key"), max_length=64, blank=True, editable=False)
    planned_dispatch = models.OneToOneField(
        "incidents.PlannedDispatch", on_delete=models.PROTECT, null=True, blank=True, related_name="task"
    )

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["deadline", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["issued_by", "dispatch_key", "department"],
                condition=~Q(dispatch_key=""),
                name="task_dispatch_key_unique",
            )
        ]
        indexes = [
            models.Index(fields=["department", "status"], name="task_department_status_idx"),
            models.Index(fields=["status", "deadline"], name="task_status_deadline_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        mine = principal.department_ids(roles)
        offices = principal.office_group_ids(roles)
        if action == "view":
            q = Q(department_id__in=mine) | Q(issuer_department_id__in=mine) | Q(transfer_to_id__in=mine)
            if offices:
                q |= Q(issuer_group_id__in=offices) | Q(incident__leading_group_id__in=offices)
            return q
        if action in ("respond", "work"):
            return Q(department_id__in=mine)
        if action == "take_transfer":
            return Q(transfer_to_id__in=mine)
        if action == "control":
            q = Q(issuer_department_id__in=principal.department_ids(HEAD_ONLY), issuer_group__isnull=True)
            if offices:
                q |= Q(issuer_group_id__in=offices)
            return q
        if action == "rule":
            return (Q(issuer_group_id__in=offices) | Q(incident__leading_group_id__in=offices)) if offices else NOTHING
        return NOTHING


class TaskEvent(models.Model):
    """The task's history: what happened, to which department, when, and its ledger seq."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=24, choices=TaskEventKind.choices)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    department = models.ForeignKey(
        "organizations.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    other_department = models.ForeignKey(
        "organizations.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(_("actor"), max_length=150, blank=True)
    note = models.TextField(_("note"), blank=True)
    ledger_seq = models.BigIntegerField(_("ledger #"), null=True, blank=True)

    class Meta:
        verbose_name = _("task event")
        verbose_name_plural = _("task events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["department", "kind", "at"], name="task_event_scorecard_idx")]

    def __str__(self) -> str:
        return f"{self.task_id} {self.kind}"


class TaskComment(models.Model):
    """A progress update or a comment, visible to the issuer and the accountable department."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("text"))
    is_progress = models.BooleanField(_("progress update"), default=False)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("task comment")
        verbose_name_plural = _("task comments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:50]


def attachment_path(instance, filename: str) -> str:
    return f"tasks/{instance.task_id}/{timezone.now():%Y%m%d%H%M%S}-{filename}"


class TaskAttachment(models.Model):
    """A file on a task, stored through Django's storage API (object storage can replace the disk)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("content type"), max_length=100)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    is_evidence = models.BooleanField(_("evidence of completion"), default=False)

    class Meta:
        verbose_name = _("task attachment")
        verbose_name_plural = _("task attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name
