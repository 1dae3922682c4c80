"""On-demand data access (按需取用): requests, their approvals, and the grants they produce.

A `DataGrant` is the one object that lets a department (never a person) read another
department's records: which dataset, which fields (the rest masked or omitted), which rows (a
filter in a small safe language), for what purpose and incident, from when until when, approved
by whom. It is backed by a django-guardian permission on the dataset for the department's group;
both must hold at the moment of every read (see `Dataset.scope_q`, action "read").
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.core.permissions import Role
from apps.core.scoping import NOTHING, ScopedModel

from .choices import ApprovalStage, Decision, DemandStatus, RequestStatus

HEADS = {Role.HEAD}


def _office_q(principal, roles, dataset_path: str) -> Q:
    offices = principal.office_group_ids(roles)
    if not offices:
        return NOTHING
    return Q(**{f"{dataset_path}owner__leading_group_seats__group_id__in": offices})


class DataRequest(ScopedModel):
    """A department asks for another department's data: fields, rows, purpose, duration."""

    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="data_requests",
        verbose_name=_("requesting department"),
    )
    dataset = models.ForeignKey(
        "datapool.Dataset", on_delete=models.PROTECT, related_name="requests", verbose_name=_("dataset")
    )
    fields = models.JSONField(_("fields wanted in clear"), default=list)
    masked_fields = models.JSONField(_("fields wanted masked"), default=list, blank=True)
    row_filter = models.JSONField(_("row filter"), default=list, blank=True)
    purpose = models.TextField(_("purpose"))
    legal_basis = models.CharField(_("legal basis"), max_length=300)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="data_requests",
        verbose_name=_("incident"),
    )
    duration_hours = models.PositiveIntegerField(_("duration (hours)"))
    status = models.CharField(_("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.DRAFT)
    depth = models.PositiveSmallIntegerField(_("approval depth"), default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("data request")
        verbose_name_plural = _("data requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="datarequest_idempotency_unique",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.dataset} → {self.department}"

    @property
    def region(self):
        return self.department.region

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        mine = principal.department_ids(roles)
        if action == "view":
            return (
                Q(department_id__in=mine)
                | (Q(dataset__owner_id__in=mine) & ~Q(status=RequestStatus.DRAFT))
                | (_office_q(principal, roles, "dataset__") & ~Q(status=RequestStatus.DRAFT))
            )
        if action == "edit":  # submit, withdraw: the requesting department
            return Q(department_id__in=mine)
        if action == "decide_owner":
            return Q(dataset__owner_id__in=mine)
        if action == "decide_office":
            return _office_q(principal, roles, "dataset__")
        return NOTHING


class DataApproval(models.Model):
    """One decision on one stage of a request (owner head, information office, second office)."""

    request = models.ForeignKey(DataRequest, on_delete=models.CASCADE, related_name="approvals")
    stage = models.CharField(_("stage"), max_length=16, choices=ApprovalStage.choices)
    decision = models.CharField(_("decision"), max_length=8, choices=Decision.choices)
    reason = models.TextField(_("reason"), blank=True)
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)
    second_factor = models.BooleanField(_("second factor verified"), default=False)

    class Meta:
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")
        ordering = ["decided_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "stage"], name="dataapproval_one_per_stage")]

    def __str__(self) -> str:
        return f"{self.request_id} {self.stage} {self.decision}"


class DataGrant(ScopedModel):
    """Who (a department) may read which dataset, which fields, which rows, why, until when."""

    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="data_grants",
        verbose_name=_("department"),
    )
    dataset = models.ForeignKey(
        "datapool.Dataset", on_delete=models.PROTECT, related_name="grants", verbose_name=_("dataset")
    )
    request = models.OneToOneField(
        DataRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="grant", verbose_name=_("request")
    )
    fields = models.JSONField(_("fields in clear"), default=list)
    masked_fields = models.JSONField(_("masked fields"), default=list, blank=True)
    row_filter = models.JSONField(_("row filter"), default=list, blank=True)
    purpose = models.TextField(_("purpose"))
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="data_grants",
        verbose_name=_("incident"),
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), db_index=True)
    approved_by = models.JSONField(_("approved by"), default=list)  # [{"stage", "user", "name", "at"}]
    is_emergency = models.BooleanField(_("emergency access"), default=False)
    justification = models.TextField(_("justification"), blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_note = models.TextField(_("review note"), blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(_("reason for revoking"), blank=True)
    permission_removed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("data grant")
        verbose_name_plural = _("data grants")
        ordering = ["-valid_until", "-id"]
        indexes = [models.Index(fields=["department", "dataset", "valid_until"], name="datagrant_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.dataset} → {self.department}"

    @property
    def region(self):
        return self.department.region

    @classmethod
    def active_q(cls, now=None, prefix: str = "") -> Q:
        """Valid now: started, not expired, not revoked, and its incident (if any) not closed."""
        now = now or timezone.now()
        p = prefix
        return Q(**{f"{p}valid_from__lte": now, f"{p}valid_until__gt": now, f"{p}revoked_at__isnull": True}) & (
            Q(**{f"{p}incident__isnull": True}) | ~Q(**{f"{p}incident__status": "closed"})
        )

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None or not (self.valid_from <= now < self.valid_until):
            return False
        return self.incident_id is None or self.incident.status != "closed"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        mine = principal.department_ids(roles)
        if action == "view":
            return Q(department_id__in=mine) | Q(dataset__owner_id__in=mine) | _office_q(principal, roles, "dataset__")
        if action == "use":  # read through the grant: the grantee department's staff
            return Q(department_id__in=mine)
        if action == "revoke":
            return Q(dataset__owner_id__in=mine) | _office_q(principal, roles, "dataset__")
        if action == "review":  # break-glass review afterwards: owner head or information office
            return Q(dataset__owner_id__in=mine) | _office_q(principal, roles, "dataset__")
        return NOTHING


class DataDemand(ScopedModel):
    """A department needs data it cannot find (匹配供求): providers see open demands that match
    their datasets' standards or tags; a dataset published later that matches is suggested."""

    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="data_demands",
        verbose_name=_("department"),
    )
    title = models.CharField(_("what is needed"), max_length=200)
    description = models.TextField(pgettext_lazy("demand", "description"), blank=True)
    standard_code = models.SlugField(_("standard"), max_length=64, blank=True)
    tags = models.ManyToManyField("datapool.Tag", blank=True, related_name="demands", verbose_name=_("tags"))
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="data_demands",
        verbose_name=_("incident"),
    )
    status = models.CharField(_("status"), max_length=8, choices=DemandStatus.choices, default=DemandStatus.OPEN)
    suggested = models.ManyToManyField("datapool.Dataset", blank=True, related_name="+", verbose_name=_("suggested"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("data demand")
        verbose_name_plural = _("data demands")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def region(self):
        return self.department.region

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action == "view":  # the demand board is open to all staff: it names needs, holds no data
            return Q() if principal.seats_for(roles) else NOTHING
        if action == "edit":
            return Q(department_id__in=principal.department_ids(roles))
        return NOTHING


class Subscription(ScopedModel):
    """A department is told when a dataset it holds a grant on receives records, or an incident
    changes (数字订阅): in the inbox, by e-mail and webhook per its preferences, and in the digest."""

    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("department"),
    )
    dataset = models.ForeignKey(
        "datapool.Dataset",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("dataset"),
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("incident"),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dataset__isnull=False, incident__isnull=True)
                | Q(dataset__isnull=True, incident__isnull=False),
                name="subscription_one_target",
            ),
            models.UniqueConstraint(
                fields=["department", "dataset"], condition=Q(dataset__isnull=False), name="subscription_unique_dataset"
            ),
            models.UniqueConstraint(
                fields=["department", "incident"],
                condition=Q(incident__isnull=False),
                name="subscription_unique_incident",
            ),
        ]

    def __str__(self) -> str:
        return str(self.dataset or self.incident)

    @property
    def region(self):
        return self.department.region

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action in ("view", "edit"):
            return Q(department_id__in=principal.department_ids(roles))
        return NOTHING


__all__ = ["DataApproval", "DataDemand", "DataGrant", "DataRequest", "Subscription", "HEADS"]
