"""Data-pool API serializers.

Output serializers are read-only renderings. Input serializers list only what a caller may send:
the owner of a dataset is the acting department (one of the caller's), and its counters, score,
load times and author are the services'; a payload naming them is simply ignored (mass
assignment is impossible by construction). Records never appear in a dataset's rendering: they
have their own route, for the owner department only.
"""

from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.datapool.choices import Classification, SourceKind, UpdateFrequency
from apps.datapool.models import (
    ColumnMapping,
    Dataset,
    DataStandard,
    IngestionJob,
    QualityCheck,
    QualityRule,
    Record,
    RejectedRow,
    SyncSource,
    Tag,
    TagRule,
)
from apps.datapool.processing import LINKED_KEYS
from apps.datapool.standards import json_schema
from apps.incidents.api.serializers import DepartmentRefSerializer, LeadingGroupRefSerializer

# --- references -------------------------------------------------------------------------------


class StandardRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DataStandard
        fields = ["id", "code", "version", "name"]
        read_only_fields = fields


class DatasetRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "title"]
        read_only_fields = fields


# --- standards and tags -----------------------------------------------------------------------


class QualityRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualityRule
        fields = ["id", "kind", "field", "params", "weight"]
        read_only_fields = fields


class TagRuleSerializer(serializers.ModelSerializer):
    tag = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = TagRule
        fields = ["id", "tag", "field", "op", "value"]
        read_only_fields = fields


class StandardSerializer(serializers.ModelSerializer):
    """A versioned data standard (数据标准): its field specs, identity fields, scoring and tagging
    rules, and the JSON Schema one record must satisfy (what a reporting system validates against)."""

    quality_rules = QualityRuleSerializer(many=True, read_only=True)
    tag_rules = TagRuleSerializer(many=True, read_only=True)
    record_schema = serializers.SerializerMethodField(help_text=_("JSON Schema of one record."))

    class Meta:
        model = DataStandard
        fields = [
            "id",
            "code",
            "version",
            "name",
            "description",
            "fields",
            "key_fields",
            "observed_field",
            "region_field",
            "quality_rules",
            "tag_rules",
            "record_schema",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_record_schema(self, obj) -> dict:
        return json_schema(obj)


class TagSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField(help_text=_("The name in the language of the request."))

    class Meta:
        model = Tag
        fields = ["code", "name", "name_en", "label"]
        read_only_fields = fields

    def get_label(self, obj) -> str:
        return obj.label(get_language())


# --- the catalog ------------------------------------------------------------------------------


class DatasetSerializer(serializers.ModelSerializer):
    """Catalog metadata (元数据目录), discoverable by all staff; never records. Every relation it
    shows is joined by `selectors.dataset_catalog`."""

    owner = DepartmentRefSerializer(read_only=True)
    region = serializers.CharField(source="owner.region.code", read_only=True, help_text=_("Owner's region code."))
    standard = StandardRefSerializer(read_only=True)
    tags = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    leading_group = LeadingGroupRefSerializer(read_only=True, allow_null=True)
    is_fresh = serializers.SerializerMethodField(help_text=_("Loaded within its declared update frequency."))

    class Meta:
        model = Dataset
        fields = [
            "id",
            "title",
            "description",
            "owner",
            "region",
            "standard",
            "source_kind",
            "classification",
            "update_frequency",
            "tags",
            "leading_group",
            "record_count",
            "size_bytes",
            "quality_score",
            "last_loaded_at",
            "is_fresh",
            "created_at",
        ]
        read_only_fields = fields

    def get_is_fresh(self, obj) -> bool:
        return obj.is_fresh()


class DatasetCreateSerializer(serializers.Serializer):
    """A new catalog entry. The owner is the acting department; counters and scores are the services'."""

    department = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The owner department (one of yours); may be left out when you are a steward of only one."),
    )
    standard = serializers.IntegerField(min_value=1, help_text=_("The data standard (id) its records follow."))
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    source_kind = serializers.ChoiceField(choices=SourceKind.choices, required=False, default=SourceKind.DEPARTMENT)
    classification = serializers.ChoiceField(
        choices=Classification.choices, required=False, default=Classification.INTERNAL
    )
    update_frequency = serializers.ChoiceField(
        choices=UpdateFrequency.choices, required=False, default=UpdateFrequency.DAILY
    )
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=64), required=False, default=list, help_text=_("Tag codes.")
    )
    leading_group = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Make it this leading group's pool (the owner must sit in the group)."),
    )


class DatasetUpdateSerializer(serializers.Serializer):
    """The metadata the owner's stewards may change; anything else in the payload is ignored."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    source_kind = serializers.ChoiceField(choices=SourceKind.choices, required=False)
    classification = serializers.ChoiceField(choices=Classification.choices, required=False)
    update_frequency = serializers.ChoiceField(choices=UpdateFrequency.choices, required=False)
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=64), required=False, help_text=_("Tag codes (replaces the set).")
    )


# --- records ----------------------------------------------------------------------------------


class RecordSerializer(serializers.ModelSerializer):
    """One record. `payload` passes through the reader's presenter (context "presenter"): whole for
    the owner department, the grant's fields (some masked) for a grantee."""

    payload = serializers.SerializerMethodField(help_text=_("The record, keyed by the standard's field names."))

    class Meta:
        model = Record
        fields = ["id", "job", "line", "payload", "tags", "observed_at", "loaded_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_payload(self, obj) -> dict:
        presenter = self.context.get("presenter")
        return presenter(obj.payload or {}) if presenter is not None else obj.payload

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if self.context.get("presenter") is not None:
            # a grantee sees the grant's fields only: tags, times and load details derive from
            # fields the grant may leave out, so they are the owner's
            return {"id": data["id"], "payload": data["payload"]}
        return data


class RecordBatchSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=serializers.DictField(),
        help_text=_("Records as JSON objects keyed by the standard's field names (see the standard's record_schema)."),
    )


# --- loads ------------------------------------------------------------------------------------


class JobSerializer(serializers.ModelSerializer):
    """An ingestion job and its progress; every relation it shows is joined by `selectors.dataset_jobs`."""

    dataset = DatasetRefSerializer(read_only=True)
    department = DepartmentRefSerializer(read_only=True, help_text=_("The department that submitted the load."))
    created_by = serializers.CharField(source="created_by.display_name", read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text=_("Percent of the source read."))
    is_finished = serializers.BooleanField(read_only=True)
    error = serializers.SerializerMethodField(help_text=_("Why the load failed, in the language of the request."))
    duplicate_of = serializers.SerializerMethodField(help_text=_("The earlier job that loaded the same file."))
    url = serializers.SerializerMethodField(help_text=_("Poll this path for progress."))
    rejects_url = serializers.SerializerMethodField()

    class Meta:
        model = IngestionJob
        fields = [
            "id",
            "dataset",
            "channel",
            "status",
            "department",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "source_name",
            "source_format",
            "encoding",
            "size_bytes",
            "sha256",
            "mapping",
            "columns",
            "rows_read",
            "rows_accepted",
            "rows_rejected",
            "progress",
            "is_finished",
            "quality_score",
            "error_code",
            "error",
            "duplicate_of",
            "url",
            "rejects_url",
        ]
        read_only_fields = fields

    def get_error(self, obj) -> str:
        return obj.error_message()

    def get_duplicate_of(self, obj) -> int | None:
        return (obj.options or {}).get("duplicate_of") if isinstance(obj.options, dict) else None

    def get_url(self, obj) -> str:
        return reverse("api:ingestion-job-detail", kwargs={"pk": obj.pk})

    def get_rejects_url(self, obj) -> str:
        return reverse("api:ingestion-job-rejects", kwargs={"pk": obj.pk})


class RejectSerializer(serializers.ModelSerializer):
    reason_text = serializers.CharField(read_only=True, help_text=_("The reason in the language of the request."))

    class Meta:
        model = RejectedRow
        fields = ["id", "line", "field", "reason", "reason_text", "raw"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_("CSV (UTF-8 or GB18030/GBK), Excel (.xlsx) or JSON lines."),
        allow_empty_file=True,  # the service refuses an empty file with its own message
    )
    mapping = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text=_("A saved column mapping (id).")
    )
    columns = serializers.JSONField(
        binary=True,
        required=False,
        default=None,
        help_text=_('Standard field -> source column, as a JSON object, e.g. {"id_number": "身份证号"}.'),
    )
    save_mapping_as = serializers.CharField(
        max_length=80, required=False, allow_blank=True, default="", help_text=_("Save the columns under this name.")
    )

    def validate_columns(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError(_("The mapping must map fields to columns."))
        return value


class MappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = ColumnMapping
        fields = ["id", "dataset", "name", "columns", "created_at"]
        read_only_fields = fields


class MappingCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    columns = serializers.DictField(child=serializers.CharField(allow_blank=True), help_text=_("Field -> column."))


# --- quality, assets, usage -------------------------------------------------------------------


class QualityCheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualityCheck
        fields = ["id", "measured_at", "score", "rows", "results"]
        read_only_fields = fields


class AssetSerializer(DatasetSerializer):
    """A row of the asset register (数据资产): the catalog metadata plus use over the last 30 days."""

    reads_30d = serializers.IntegerField(read_only=True, allow_null=True)
    rows_30d = serializers.IntegerField(read_only=True, allow_null=True)
    users_30d = serializers.IntegerField(read_only=True, help_text=_("Departments that read it."))

    class Meta(DatasetSerializer.Meta):
        fields = [f for f in DatasetSerializer.Meta.fields if f not in ("tags", "leading_group")] + [
            "reads_30d",
            "rows_30d",
            "users_30d",
        ]
        read_only_fields = fields


class UsageSerializer(serializers.Serializer):
    department_id = serializers.IntegerField(read_only=True)
    department_name = serializers.CharField(source="department__name", read_only=True)
    reads = serializers.IntegerField(read_only=True)
    rows = serializers.IntegerField(read_only=True)


# --- processing, sync, sharing ----------------------------------------------------------------


class DiffQuerySerializer(serializers.Serializer):
    old = serializers.IntegerField(min_value=1, help_text=_("The earlier load (job id)."))
    new = serializers.IntegerField(min_value=1, help_text=_("The later load (job id)."))


class DuplicateGroupSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("exact", "exact"), ("near", "near")], read_only=True)
    group = serializers.CharField(read_only=True, help_text=_("A name for the group: its kind and first record."))
    count = serializers.IntegerField(read_only=True, help_text=_("Records in the group."))
    variants = serializers.IntegerField(
        read_only=True, required=False, help_text=_("Near duplicates: distinct exact contents.")
    )
    record_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)


class DiffSampleSerializer(serializers.Serializer):
    record_id = serializers.IntegerField(read_only=True)
    old_record_id = serializers.IntegerField(read_only=True, required=False, allow_null=True)


class DiffPartSerializer(serializers.Serializer):
    count = serializers.IntegerField(read_only=True, help_text=_("Distinct identity keys."))
    samples = DiffSampleSerializer(many=True, read_only=True)


class DiffSerializer(serializers.Serializer):
    """What changed between two loads of a dataset, by identity key."""

    old_job = serializers.IntegerField(read_only=True, help_text=_("The load compared (after re-upload folding)."))
    new_job = serializers.IntegerField(read_only=True)
    old_records = serializers.IntegerField(read_only=True)
    new_records = serializers.IntegerField(read_only=True)
    added = DiffPartSerializer(read_only=True)
    removed = DiffPartSerializer(read_only=True)
    changed = DiffPartSerializer(read_only=True)


class FusedRowSerializer(serializers.Serializer):
    """One entity folded from every dataset the caller may read: per field the newest value and
    where it came from; as restricted as its most restricted source."""

    key_kind = serializers.CharField(read_only=True)
    key = serializers.CharField(read_only=True, help_text=_("The normalised key value."))
    # not read_only: the schema would then list it as required, but rows hold it only when masked
    key_masked = serializers.BooleanField(
        required=False, help_text=_("Present when no source shows the key in clear to you.")
    )
    rule = serializers.CharField(read_only=True, help_text=_("The linking rule and its version."))
    fields = serializers.DictField(
        child=serializers.DictField(),
        read_only=True,
        help_text=_("Field -> value, masked, dataset, dataset_title, record, observed_at."),
    )
    records = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    datasets = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    classification = serializers.ChoiceField(choices=Classification.choices, read_only=True)
    sensitive_fields = serializers.ListField(child=serializers.CharField(), read_only=True)


class FusedQuerySerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=[(k.value, k.label) for k in LINKED_KEYS], help_text=_("The linking key."))
    value = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    datasets = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=_("Comma-separated dataset ids.")
    )

    def validate_datasets(self, value) -> list[int] | None:
        if not value.strip():
            return None
        try:
            return [int(part) for part in value.split(",") if part.strip()]
        except ValueError:
            raise serializers.ValidationError(_("Give dataset ids separated by commas.")) from None


class SyncSourceSerializer(serializers.ModelSerializer):
    """A database sync source. The connection URL is write-only: stored encrypted, never shown."""

    dataset = DatasetRefSerializer(read_only=True)

    class Meta:
        model = SyncSource
        fields = [
            "id",
            "dataset",
            "name",
            "table",
            "columns",
            "cursor_column",
            "cursor_value",
            "interval_minutes",
            "enabled",
            "last_run_at",
        ]
        read_only_fields = fields


class SyncSourceWriteSerializer(serializers.Serializer):
    """A new source: the service connects to check the table and columns, then stores the URL encrypted."""

    name = serializers.CharField(max_length=80)
    url = serializers.CharField(
        max_length=2000,
        write_only=True,
        help_text=_(
            "SQLAlchemy URL of the source database (PostgreSQL, MySQL, SQL Server, Oracle); never shown again."
        ),
    )
    table = serializers.CharField(max_length=128)
    columns = serializers.DictField(child=serializers.CharField(), help_text=_("Standard field -> source column."))
    cursor_column = serializers.CharField(
        max_length=128, help_text=_("A column that only grows (an id or a time): rows beyond the last one are pulled.")
    )
    interval_minutes = serializers.IntegerField(
        required=False, default=60, help_text=_("Pull every this many minutes.")
    )


class SyncSourceUpdateSerializer(serializers.Serializer):
    """Only the settings sent change; a new URL, table or column is checked against the database again."""

    name = serializers.CharField(max_length=80, required=False)
    url = serializers.CharField(max_length=2000, write_only=True, required=False)
    table = serializers.CharField(max_length=128, required=False)
    columns = serializers.DictField(child=serializers.CharField(), required=False)
    cursor_column = serializers.CharField(max_length=128, required=False)
    cursor_value = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text=_("Start after this value (blank: from the start).")
    )
    interval_minutes = serializers.IntegerField(required=False)
    enabled = serializers.BooleanField(required=False)


class ShareSerializer(serializers.Serializer):
    target = serializers.IntegerField(min_value=1, help_text=_("The dataset (a leading group's pool) to share into."))
    fields = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, help_text=_("Fields of the records to share.")
    )
    filters = serializers.DictField(required=False, default=dict, help_text=_("Field -> value the records match."))
