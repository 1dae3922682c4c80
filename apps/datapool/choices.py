"""Vocabularies of the emergency big-data resource pool (应急大数据资源池)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SourceKind(models.TextChoices):
    BASE = "base", _("Base data")
    DEPARTMENT = "department", _("Department data")
    SOCIAL = "social", _("Social data")


class Classification(models.TextChoices):
    OPEN = "open", pgettext_lazy("data classification", "Open")
    INTERNAL = "internal", _("Internal")
    SENSITIVE = "sensitive", _("Sensitive")
    SECRET = "secret", _("Secret")


# Higher is more restricted; a fused view takes the maximum of its sources.
CLASSIFICATION_RANK = {"open": 0, "internal": 1, "sensitive": 2, "secret": 3}


class UpdateFrequency(models.TextChoices):
    REALTIME = "realtime", _("Real time")
    HOURLY = "hourly", _("Hourly")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    IRREGULAR = "irregular", _("Irregular")


# Hours after which a dataset counts as stale, per declared update frequency (freshness rule).
FRESH_FOR_HOURS = {"realtime": 1, "hourly": 2, "daily": 26, "weekly": 24 * 8, "monthly": 24 * 32, "irregular": 24 * 366}


class FieldType(models.TextChoices):
    STRING = "string", _("Text")
    INTEGER = "integer", _("Integer")
    NUMBER = "number", _("Number")
    BOOLEAN = "boolean", _("Yes/no")
    DATE = "date", _("Date")
    DATETIME = "datetime", _("Date and time")


class LinkKey(models.TextChoices):
    ID_NUMBER = "id_number", _("ID number")
    PHONE = "phone", _("Phone")
    ADDRESS = "address", _("Address")
    PLACE_CODE = "place_code", _("Place code")


class Channel(models.TextChoices):
    UPLOAD = "upload", _("File upload")
    API = "api", _("API reporting")
    SYNC = "sync", _("Database sync")
    SHARE = "share", _("Sharing")


class JobStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("load status", "Queued")
    RUNNING = "running", pgettext_lazy("load status", "Running")
    SUCCEEDED = "succeeded", pgettext_lazy("load status", "Succeeded")
    FAILED = "failed", pgettext_lazy("load status", "Failed")


class SourceFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (.xlsx)"
    JSONL = "jsonl", _("JSON lines")
    RECORDS = "records", _("Records")  # API batches, database rows, shared records


class QualityRuleKind(models.TextChoices):
    REQUIRED = "required", _("Required")
    RANGE = "range", _("Range")
    PATTERN = "pattern", _("Pattern")
    CODE_LIST = "code_list", _("Code list")
    UNIQUENESS = "uniqueness", _("Uniqueness")
    FRESHNESS = "freshness", _("Freshness")


class TagOperator(models.TextChoices):
    EQUALS = "eq", _("equals")
    IN = "in", _("is one of")
    GTE = "gte", _("at least")
    LTE = "lte", _("at most")
    CONTAINS = "contains", _("contains")
