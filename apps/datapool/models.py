"""The emergency big-data resource pool: standards, datasets, records and how they got there.

Standards and open datasets are discoverable by every member of staff; other datasets' metadata
stays in the owner's region unless an agreement, a leading group or a grant opens it (see
`Dataset`); records are visible to the owner department and valid grants only. Writes go through
`services.py`; reads start from `restrict()`.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from guardian.models import GroupObjectPermissionBase

from apps.core.permissions import Role
from apps.core.scoping import NOTHING, ScopedModel, subtree_q

from .choices import (
    Channel,
    Classification,
    FieldType,
    JobStatus,
    LinkKey,
    QualityRuleKind,
    SourceFormat,
    SourceKind,
    TagOperator,
    UpdateFrequency,
)

STEWARDS = {Role.HEAD, Role.STEWARD}


def _owner_or_office_q(principal, roles, owner: str) -> Q:
    """Rows owned by my departments, or by a department sitting in a leading group whose
    information office I belong to (the office curates the pool)."""
    q = Q(**{f"{owner}_id__in": principal.department_ids(roles)})
    offices = principal.office_group_ids(roles)
    if offices:
        q |= Q(**{f"{owner}__leading_group_seats__group_id__in": offices})
    return q


def _catalog_q(principal, roles) -> Q:
    """Where the metadata of an internal or sensitive dataset may be discovered: the owner's region
    line (its staff, the regions above it and the counties below), partner regions whose active
    agreement shares the catalog, the information offices over the owner's regions, the members
    of the leading group whose pool it is, and departments holding a valid grant on it."""
    paths = principal.region_paths(roles)
    ancestors = {code for p in paths for code in p.split("/") if code}
    q = subtree_q("owner__region__path", paths) | Q(owner__region__code__in=ancestors)
    q |= subtree_q("owner__region__path", principal.agreement_paths.get("share_catalog", set()))
    if principal.office_group_ids(roles):
        q |= subtree_q("owner__region__path", principal.office_region_paths)
    groups = principal.leading_group_ids(roles)
    if groups:
        q |= Q(leading_group_id__in=groups)
    from apps.access.selectors import granted_dataset_q

    return q | granted_dataset_q(principal.department_ids(roles))


class DataStandard(ScopedModel):
    """A versioned schema for a kind of record (数据标准). A new version is a new row; a version
    in use is never edited in place. `fields` is a list of field specs (see `standards.FIELD_SPEC`)."""

    code = models.SlugField(_("code"), max_length=64)
    version = models.PositiveIntegerField(_("version"), default=1)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(pgettext_lazy("dataset", "description"), blank=True)
    fields = models.JSONField(_("fields"), default=list)
    key_fields = models.JSONField(
        _("identity fields"), default=list, blank=True, help_text=_("Fields that identify one record (for diffs).")
    )
    observed_field = models.CharField(_("observation time field"), max_length=64, blank=True)
    region_field = models.CharField(_("division code field"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("data standard")
        verbose_name_plural = _("data standards")
        ordering = ["code", "-version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="datastandard_code_version_unique")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return Q() if action == "view" and principal.seats_for(roles) else NOTHING

    def clean(self):
        from .standards import standard_spec_errors

        errors = standard_spec_errors(self)
        if errors:
            raise ValidationError({"fields": errors})

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    def field(self, name: str) -> dict | None:
        return next((f for f in self.fields if f["name"] == name), None)

    @property
    def sensitive_fields(self) -> list[str]:
        return [f["name"] for f in self.fields if f.get("sensitive")]


class Tag(models.Model):
    """A label for datasets and records (标识), e.g. "vulnerable person", "hazardous material"."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=80)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def label(self, language: str | None) -> str:
        return self.name_en if (language or "").startswith("en") and self.name_en else self.name


class Dataset(ScopedModel):
    """A dataset in the pool (数据资源目录). Open metadata is discoverable by all staff; internal and
    sensitive metadata inside the owner's region line and through the doors in `_catalog_q`
    (agreements sharing the catalog, offices, the pool's group, grants); secret metadata only by the
    owner and the information offices over it. Records: the owner, and valid grants."""

    owner = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="datasets",
        verbose_name=_("owner department"),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(pgettext_lazy("dataset", "description"), blank=True)
    source_kind = models.CharField(
        _("source"), max_length=16, choices=SourceKind.choices, default=SourceKind.DEPARTMENT
    )
    standard = models.ForeignKey(
        DataStandard, on_delete=models.PROTECT, related_name="datasets", verbose_name=_("standard")
    )
    classification = models.CharField(
        _("classification"), max_length=16, choices=Classification.choices, default=Classification.INTERNAL
    )
    update_frequency = models.CharField(
        _("update frequency"), max_length=16, choices=UpdateFrequency.choices, default=UpdateFrequency.DAILY
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="datasets", verbose_name=_("tags"))
    leading_group = models.ForeignKey(
        "organizations.LeadingGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pool_datasets",
        verbose_name=_("leading group pool"),
        help_text=_("Set when this dataset is the leading group's pool: its members may share records into it."),
    )
    record_count = models.BigIntegerField(_("records"), default=0)
    size_bytes = models.BigIntegerField(_("size (bytes)"), default=0)
    last_loaded_at = models.DateTimeField(_("last loaded"), null=True, blank=True)
    quality_score = models.FloatField(_("quality score"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "title"], name="dataset_unique_title_per_owner")]
        permissions = [("read_dataset", "Can read the records of dataset")]

    def __str__(self) -> str:
        return self.title

    @property
    def region(self):
        return self.owner.region

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action == "view":
            if not principal.seats_for(roles):
                return NOTHING
            return (
                Q(classification=Classification.OPEN)
                | (~Q(classification=Classification.SECRET) & _catalog_q(principal, roles))
                | _owner_or_office_q(principal, roles, "owner")
            )
        if action == "assets":  # the asset register: usage and size, for the owner and the office
            return _owner_or_office_q(principal, roles, "owner")
        if action == "read":  # records: the owner, or a department holding a grant valid right now
            from apps.access.selectors import granted_dataset_q

            mine = principal.department_ids(roles)
            return Q(owner_id__in=mine) | granted_dataset_q(mine)
        if action in ("manage", "report"):  # report: push records through the API (staff, integration keys)
            return Q(owner_id__in=principal.department_ids(roles))
        if action == "contribute":  # share records into it: the owner, or a member of its pool's group
            q = Q(owner_id__in=principal.department_ids(roles))
            groups = principal.leading_group_ids(roles)
            if groups:
                q |= Q(leading_group_id__in=groups)
            return q
        return NOTHING

    def is_fresh(self, now=None) -> bool:
        from .choices import FRESH_FOR_HOURS

        if self.last_loaded_at is None:
            return False
        hours = FRESH_FOR_HOURS.get(self.update_frequency, 24)
        return (now or timezone.now()) - self.last_loaded_at <= timezone.timedelta(hours=hours)


class ColumnMapping(ScopedModel):
    """A saved extraction (提取): standard field -> source column, reused for the next file."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="mappings", verbose_name=_("dataset"))
    name = models.CharField(_("name"), max_length=80)
    columns = models.JSONField(_("columns"), default=dict)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")
        ordering = ["dataset", "name"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="columnmapping_unique_name")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action in ("view", "manage"):
            return Q(dataset__owner_id__in=principal.department_ids(roles))
        return NOTHING


class IngestionJob(ScopedModel):
    """One load into a dataset through one of the four channels (数据汇聚), run by Celery.

    Counters move while it runs (progress); the accepted rows commit together with the job's
    final state, or nothing does. Rejected rows are kept with line, field and reason.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("dataset"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    department = models.ForeignKey(
        "organizations.Department",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("submitted by department"),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Set by the linking task that follows a load. Its message can be lost (a Redis broker loses the
    # messages a killed worker had popped but not yet recorded): `jobs_resume` links a succeeded
    # load whose linking never ran (docs/decisions/0013-dead-letters.md).
    linked_at = models.DateTimeField(_("linked at"), null=True, blank=True)
    source_name = models.CharField(_("source"), max_length=255, blank=True)
    file = models.FileField(_("file"), upload_to="ingest/%Y/%m/", blank=True)
    source_format = models.CharField(_("format"), max_length=8, choices=SourceFormat.choices, blank=True)
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True, db_index=True)
    mapping = models.ForeignKey(
        ColumnMapping, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("mapping")
    )
    columns = models.JSONField(_("columns used"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)
    rows_read = models.BigIntegerField(_("rows read"), default=0)
    rows_accepted = models.BigIntegerField(_("rows accepted"), default=0)
    rows_rejected = models.BigIntegerField(_("rows rejected"), default=0)
    quality_score = models.FloatField(_("quality score"), null=True, blank=True)
    error_code = models.CharField(_("error"), max_length=40, blank=True)
    error_args = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("ingestion job")
        verbose_name_plural = _("ingestion jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "channel", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="ingestionjob_idempotency_unique",
            )
        ]
        indexes = [models.Index(fields=["dataset", "status", "sha256"], name="ingestionjob_rerun_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.dataset} ({self.get_channel_display()})"

    @property
    def region(self):
        return self.dataset.owner.region

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action == "view":
            mine = principal.department_ids(roles)
            return Q(dataset__owner_id__in=mine) | Q(department_id__in=mine)
        return NOTHING

    @property
    def progress(self) -> int:
        """Percent of the source read, when its size is known (files); 100 once finished."""
        if self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return 100
        total = self.options.get("rows_expected") if isinstance(self.options, dict) else None
        if total:
            return min(99, int(self.rows_read * 100 / total))
        return 0

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    def error_message(self) -> str:
        from .errors import error_text

        return error_text(self.error_code, self.error_args) if self.error_code else ""


class RejectedRow(models.Model):
    """A row that failed validation: kept with its line, field and reason, never loaded."""

    job = models.ForeignKey(IngestionJob, on_delete=models.CASCADE, related_name="rejects")
    line = models.BigIntegerField(_("line"))
    field = models.CharField(_("field"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=32)
    raw = models.JSONField(_("row as read"), default=dict)

    class Meta:
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        ordering = ["job", "line"]
        indexes = [models.Index(fields=["job", "line"], name="rejectedrow_job_line_idx")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line}"

    def reason_text(self) -> str:
        from .errors import reason_text

        return reason_text(self.reason)


class Record(ScopedModel):
    """One record of one dataset: the payload as JSONB plus extracted, normalised key columns.

    `record_key` hashes the standard's identity fields (diffs between versions), `content_hash`
    the whole payload (exact duplicates), `near_hash` a normalised payload (near duplicates).
    """

    id = models.BigAutoField(primary_key=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="records", db_index=False)
    job = models.ForeignKey(IngestionJob, on_delete=models.PROTECT, related_name="records", db_index=False)
    line = models.BigIntegerField(default=0)
    payload = models.JSONField()
    record_key = models.CharField(max_length=32)
    content_hash = models.CharField(max_length=32)
    near_hash = models.CharField(max_length=32)
    id_key = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 - NULL = no key (partial index)
    phone_key = models.CharField(max_length=20, null=True, blank=True)  # noqa: DJ001 - NULL = no key (partial index)
    address_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL = no key (partial index)
    place_key = models.CharField(max_length=12, null=True, blank=True)  # noqa: DJ001 - NULL = no key (partial index)
    observed_at = models.DateTimeField(null=True, blank=True)
    region = models.ForeignKey(
        "organizations.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    tags = models.JSONField(default=list, blank=True)
    loaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("record")
        verbose_name_plural = _("records")
        ordering = ["dataset", "id"]
        indexes = [
            # paging a dataset's records (every record list and bulk pull)
            models.Index(fields=["dataset", "id"], name="record_dataset_id_idx"),
            # diffs between loads and the uniqueness rule
            models.Index(fields=["dataset", "record_key"], name="record_dataset_key_idx"),
            # exact duplicates
            models.Index(fields=["dataset", "content_hash"], name="record_dataset_hash_idx"),
            # a load's own rows (linking after a load, rollback checks)
            models.Index(fields=["job"], name="record_job_idx"),
            # linking (关联) across datasets by normalised key
            models.Index(fields=["id_key"], name="record_id_key_idx", condition=Q(id_key__isnull=False)),
            models.Index(fields=["phone_key"], name="record_phone_key_idx", condition=Q(phone_key__isnull=False)),
            models.Index(fields=["address_key"], name="record_address_key_idx", condition=Q(address_key__isnull=False)),
            models.Index(fields=["place_key"], name="record_place_key_idx", condition=Q(place_key__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.pk}"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action == "view":  # the owner's records, and the rows a valid grant opens (its filter)
            from apps.access.selectors import granted_records_q

            mine = principal.department_ids(roles)
            return Q(dataset__owner_id__in=mine) | granted_records_q(mine)
        return NOTHING


class DatasetGroupObjectPermission(GroupObjectPermissionBase):
    """guardian's direct-FK table: `read_dataset` for a grantee department's group. Created and
    removed only by the data-access services; a read also needs the grant itself to be valid."""

    content_object = models.ForeignKey(Dataset, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("dataset access permission")
        verbose_name_plural = _("dataset access permissions")
        constraints = [
            models.UniqueConstraint(fields=["group", "permission", "content_object"], name="dataset_group_perm_unique")
        ]


class RecordLink(models.Model):
    """Two records of different datasets that share a normalised linking key, with the rule (and
    its version) that linked them: the provenance of every fused view."""

    left = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    key_kind = models.CharField(max_length=16, choices=LinkKey.choices)
    rule = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("record link")
        verbose_name_plural = _("record links")
        constraints = [
            models.UniqueConstraint(fields=["left", "right", "key_kind"], name="recordlink_unique"),
            models.CheckConstraint(condition=Q(left__lt=models.F("right")), name="recordlink_ordered"),
        ]
        indexes = [models.Index(fields=["right"], name="recordlink_right_idx")]

    def __str__(self) -> str:
        return f"{self.left_id}-{self.right_id} ({self.rule})"


class QualityRule(models.Model):
    """A scoring rule of a standard (数据质量): rows that break it are loaded but lower the score.
    Hard checks (types, required, code lists in the standard's fields) reject rows instead."""

    standard = models.ForeignKey(DataStandard, on_delete=models.CASCADE, related_name="quality_rules")
    kind = models.CharField(_("kind"), max_length=16, choices=QualityRuleKind.choices)
    field = models.CharField(_("field"), max_length=64, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)

    class Meta:
        verbose_name = _("quality rule")
        verbose_name_plural = _("quality rules")
        ordering = ["standard", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.field}".strip()


class QualityCheck(models.Model):
    """A measured quality score: per ingestion and for the dataset as a whole, kept as history."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="quality_checks")
    job = models.ForeignKey(
        IngestionJob, on_delete=models.CASCADE, null=True, blank=True, related_name="quality_checks"
    )
    measured_at = models.DateTimeField(default=timezone.now, db_index=True)
    score = models.FloatField()
    rows = models.BigIntegerField(default=0)
    results = models.JSONField(default=list)  # [{"rule": id|None, "kind": ..., "field": ..., "passed": rate}]

    class Meta:
        verbose_name = _("quality check")
        verbose_name_plural = _("quality checks")
        ordering = ["-measured_at", "-id"]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.score}"


class TagRule(models.Model):
    """Rule-based auto-tagging: records of `standard` whose `field` `op` `value` get `tag`."""

    standard = models.ForeignKey(DataStandard, on_delete=models.CASCADE, related_name="tag_rules")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(_("field"), max_length=64)
    op = models.CharField(_("operator"), max_length=8, choices=TagOperator.choices)
    value = models.JSONField(_("value"))

    class Meta:
        verbose_name = _("tagging rule")
        verbose_name_plural = _("tagging rules")
        ordering = ["standard", "id"]

    def __str__(self) -> str:
        return f"{self.tag}: {self.field} {self.op} {self.value}"


class SyncSource(ScopedModel):
    """A scheduled pull from an external SQL database (数据库同步): new rows by a cursor column.
    The connection URL is stored encrypted (see `crypto.py`)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="sync_sources")
    name = models.CharField(_("name"), max_length=80)
    url_encrypted = models.TextField(editable=False)
    table = models.CharField(_("table"), max_length=128)
    columns = models.JSONField(_("columns"), default=dict, help_text=_("Standard field -> source column."))
    cursor_column = models.CharField(_("cursor column"), max_length=128)
    cursor_value = models.CharField(_("last cursor value"), max_length=64, blank=True)
    interval_minutes = models.PositiveIntegerField(_("every (minutes)"), default=60)
    enabled = models.BooleanField(_("enabled"), default=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("database sync source")
        verbose_name_plural = _("database sync sources")
        ordering = ["dataset", "name"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="syncsource_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def region(self):
        return self.dataset.owner.region

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action in ("view", "manage"):
            return Q(dataset__owner_id__in=principal.department_ids(roles))
        return NOTHING


class DatasetUse(models.Model):
    """Operations (数据运营): how often, and by which department, a dataset is read, per day."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="uses")
    department = models.ForeignKey("organizations.Department", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reads = models.PositiveIntegerField(default=0)
    rows = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("dataset use")
        verbose_name_plural = _("dataset uses")
        constraints = [models.UniqueConstraint(fields=["dataset", "department", "day"], name="datasetuse_unique_day")]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.department_id}/{self.day}"


__all__ = [
    "ColumnMapping",
    "DataStandard",
    "Dataset",
    "DatasetUse",
    "FieldType",
    "IngestionJob",
    "QualityCheck",
    "QualityRule",
    "Record",
    "RecordLink",
    "RejectedRow",
    "SyncSource",
    "Tag",
    "TagOperator",
    "TagRule",
]
