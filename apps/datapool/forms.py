"""Portal forms of the data pool: they parse, the services decide.

Choices come from restricted querysets (the caller's own departments, the standards and mappings
they may see); the service authorizes again inside its transaction.
"""

from __future__ import annotations

import uuid

from django import forms
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from apps.organizations.models import Department, LeadingGroup
from apps.organizations.selectors import leading_group_list

from . import selectors
from .choices import Classification, JobStatus, LinkKey, SourceKind, UpdateFrequency
from .errors import LoadError
from .models import ColumnMapping, Dataset, DataStandard, IngestionJob, Tag
from .readers import check_upload

NOT_IN_FILE = ""


def field_label(spec: dict, language: str | None = None) -> str:
    """A standard field's label in the reader's language (the field name when it has none)."""
    language = language if language is not None else (get_language() or "")
    if language.startswith("en") and spec.get("label_en"):
        return spec["label_en"]
    return spec.get("label") or spec.get("label_en") or spec["name"]


def publishing_departments(user):
    """The caller's departments in which they may register datasets (heads and data stewards)."""
    return (
        Department.objects.restrict(user, "publish_dataset").select_related("region").order_by("region__path", "name")
    )


def _idempotency_field() -> forms.CharField:
    # Made when the form is shown: a double click or a resubmission submits once.
    return forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)


class DatasetForm(forms.Form):
    """Register a dataset in the catalog (services.dataset_create) or edit its metadata
    (services.dataset_update: owner, standard and pool are fixed once records may exist)."""

    owner = forms.ModelChoiceField(queryset=Department.objects.none(), label=_("Owner department"))
    standard = forms.ModelChoiceField(queryset=DataStandard.objects.none(), label=_("Standard"))
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=pgettext_lazy("dataset", "Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    source_kind = forms.ChoiceField(label=_("Source"), choices=SourceKind.choices, initial=SourceKind.DEPARTMENT)
    classification = forms.ChoiceField(
        label=_("Classification"),
        choices=Classification.choices,
        initial=Classification.INTERNAL,
        help_text=_("Secret datasets are listed only to the owner and the information offices over it."),
    )
    update_frequency = forms.ChoiceField(
        label=_("Update frequency"),
        choices=UpdateFrequency.choices,
        initial=UpdateFrequency.DAILY,
        help_text=_("The catalog marks the dataset stale when no load arrives in time."),
    )
    tags = forms.ModelMultipleChoiceField(queryset=Tag.objects.none(), label=_("Tags"), required=False)
    leading_group = forms.ModelChoiceField(
        queryset=LeadingGroup.objects.none(),
        label=_("Leading group pool"),
        required=False,
        help_text=_("Only for a leading group's shared pool: its member departments may share records into it."),
    )

    def __init__(self, *args, user, dataset: Dataset | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        tags = Tag.objects.order_by("code")
        self.fields["tags"].queryset = tags
        self.fields["tags"].label_from_instance = lambda tag: tag.label(get_language())
        if dataset is not None:  # editing: owner, standard and pool stay
            for name in ("owner", "standard", "leading_group"):
                del self.fields[name]
            self.has_owners = True
            return
        owners = publishing_departments(user)
        options = list(owners)
        self.fields["owner"].queryset = owners
        if len(options) == 1:
            self.fields["owner"].empty_label = None
            self.fields["owner"].initial = options[0]
        self.has_owners = bool(options)
        self.fields["standard"].queryset = selectors.standard_list(user=user).prefetch_related(None)
        self.fields["leading_group"].queryset = leading_group_list(user=user).prefetch_related(None).order_by("name")

    @classmethod
    def for_dataset(cls, *, user, dataset: Dataset) -> DatasetForm:
        initial = {name: getattr(dataset, name) for name in ("title", "description", "source_kind")} | {
            "classification": dataset.classification,
            "update_frequency": dataset.update_frequency,
            "tags": list(dataset.tags.all()),
        }
        return cls(user=user, dataset=dataset, initial=initial)


class UploadForm(forms.Form):
    """Step one of collection (数据采集): the file and how its columns map to the standard."""

    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GB18030/GBK), Excel (.xlsx) or JSON lines. The format is read from the content."),
    )
    mapping = forms.ModelChoiceField(
        queryset=ColumnMapping.objects.none(),
        label=_("Column mapping"),
        required=False,
        empty_label=_("Guess from the column names"),
        help_text=_("A saved mapping, or a guess by field name and Chinese or English label."),
    )
    idempotency_key = _idempotency_field()

    def __init__(self, *args, user, dataset: Dataset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mapping"].queryset = selectors.dataset_mappings(user=user, dataset=dataset).order_by("name")
        self.fields["idempotency_key"].initial = uuid.uuid4().hex

    def clean_file(self):
        """Refuse, before the file is kept aside for step two, what its size and first bytes already
        show (the service checks the same again): too large, not CSV, Excel or JSON lines, a zip bomb."""
        upload = self.cleaned_data["file"]
        try:
            check_upload(upload, upload.size)
        except LoadError as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None
        return upload


class ColumnMappingForm(forms.Form):
    """Step two: one select per field of the standard, offering the columns of the file's header
    (required fields must have one); optionally saved under a name for the next file."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    idempotency_key = _idempotency_field()
    save_mapping_as = forms.CharField(
        label=_("Save this mapping as"),
        max_length=80,
        required=False,
        help_text=_("Give it a name to reuse it for the next file from the same source."),
    )

    def __init__(self, *args, standard: DataStandard, header: list[str], initial_columns: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.standard = standard
        choices = [(NOT_IN_FILE, _("— not in the file —")), *((h, h) for h in header)]
        for spec in standard.fields:
            name = spec["name"]
            column = initial_columns.get(name, NOT_IN_FILE)
            self.fields[f"col_{name}"] = forms.ChoiceField(
                label=field_label(spec),
                choices=choices,
                required=bool(spec.get("required")),
                initial=column if column in header else NOT_IN_FILE,
                error_messages={"required": _("This field is required by the standard: choose its column.")},
            )
            self.fields[f"col_{name}"].spec = spec

    def column_fields(self):
        return [self[f"col_{spec['name']}"] for spec in self.standard.fields]

    def columns(self) -> dict[str, str]:
        return {
            spec["name"]: self.cleaned_data[f"col_{spec['name']}"]
            for spec in self.standard.fields
            if self.cleaned_data.get(f"col_{spec['name']}")
        }


def style_dataset_filter(form, *, datasets, user) -> None:
    """Presentation of the shared DatasetFilter in the portal: owners, standards and tags as
    selects (built from what the caller may see), a number box for the quality threshold."""
    owners = selectors.dataset_owner_choices(datasets=datasets)
    form.fields["owner"].widget = forms.Select(choices=[("", "---------"), *owners])
    standards = selectors.standard_list(user=user).prefetch_related(None).order_by("code", "-version")
    form.fields["standard"].widget = forms.Select(
        choices=[("", "---------"), *dict.fromkeys((s.code, s.name) for s in standards)]
    )
    language = get_language()
    form.fields["tag"].widget = forms.Select(
        choices=[("", "---------"), *((t.code, t.label(language)) for t in Tag.objects.order_by("code"))]
    )
    form.fields["q"].widget.attrs["type"] = "search"
    form.fields["min_quality"].widget.attrs |= {"min": 0, "max": 100, "step": 1, "inputmode": "numeric"}


def style_job_filter(form, *, jobs) -> None:
    datasets = selectors.job_dataset_choices(jobs=jobs)
    form.fields["dataset"].widget = forms.Select(choices=[("", "---------"), *datasets])


class DiffForm(forms.Form):
    """Two finished loads of one dataset to compare (comparison 对比: what changed between them)."""

    old = forms.ModelChoiceField(queryset=IngestionJob.objects.none(), label=_("Earlier load"))
    new = forms.ModelChoiceField(queryset=IngestionJob.objects.none(), label=_("Later load"))

    def __init__(self, *args, user, dataset: Dataset, **kwargs):
        super().__init__(*args, **kwargs)
        loads = (
            selectors.dataset_jobs(user=user, dataset=dataset)
            .filter(status=JobStatus.SUCCEEDED)
            .exclude(options__has_key="duplicate_of")
            .order_by("-created_at", "-id")
        )
        for name in ("old", "new"):
            self.fields[name].queryset = loads
            self.fields[name].label_from_instance = load_label
        self.loads = loads

    def clean(self):
        data = super().clean()
        if data.get("old") and data.get("new") and data["old"].pk == data["new"].pk:
            raise forms.ValidationError(_("Choose two different loads."))
        return data


def load_label(job: IngestionJob) -> str:
    when = timezone.localtime(job.created_at).strftime("%Y-%m-%d %H:%M")
    return f"#{job.pk} · {when} · {job.source_name or job.get_channel_display()}"


class FusedForm(forms.Form):
    """Fusion (融合): one row per person or place across the datasets the caller may read."""

    key_kind = forms.ChoiceField(label=_("Link by"), choices=[])
    value = forms.CharField(
        label=_("Value"),
        max_length=200,
        required=False,
        help_text=_("An ID number, phone or address; empty: the entities found in most datasets."),
    )
    datasets = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.none(),
        label=_("Only these datasets"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, user, **kwargs):
        from .processing import LINKED_KEYS

        super().__init__(*args, **kwargs)
        labels = dict(LinkKey.choices)
        self.fields["key_kind"].choices = [(k.value, labels[k.value]) for k in LINKED_KEYS]
        self.fields["datasets"].queryset = Dataset.objects.restrict(user, "read").order_by("title")


class SyncSourceForm(forms.Form):
    """A database sync source (数据库同步): an external table, a column per standard field and a
    cursor column whose values only grow (an id or a modification time)."""

    name = forms.CharField(label=_("Name"), max_length=80)
    url = forms.CharField(
        label=_("Database URL"),
        max_length=1000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("For example postgresql://user:password@host:5432/database. Stored encrypted; shown masked."),
    )
    table = forms.CharField(label=_("Table"), max_length=128, help_text=_("schema.table or table"))
    cursor_column = forms.CharField(
        label=_("Cursor column"), max_length=128, help_text=_("A column that only grows: an id or a time.")
    )
    interval_minutes = forms.IntegerField(label=_("Every (minutes)"), min_value=1, initial=60)

    def __init__(self, *args, standard: DataStandard, **kwargs):
        super().__init__(*args, **kwargs)
        self.standard = standard
        for spec in standard.fields:
            self.fields[f"col_{spec['name']}"] = forms.CharField(
                label=field_label(spec),
                max_length=128,
                required=bool(spec.get("required")),
                help_text=_("Column in the source table"),
            )

    def column_fields(self):
        return [self[f"col_{spec['name']}"] for spec in self.standard.fields]

    def setting_fields(self):
        return [self[name] for name in ("name", "url", "table", "cursor_column", "interval_minutes")]

    def columns(self) -> dict[str, str]:
        return {
            spec["name"]: self.cleaned_data[f"col_{spec['name']}"].strip()
            for spec in self.standard.fields
            if self.cleaned_data.get(f"col_{spec['name']}", "").strip()
        }


FILTER_ROWS = 2


class ShareForm(forms.Form):
    """Share a subset of a dataset's records into another dataset of the department or into a
    leading group's pool (数据共享): the fields to share and up to two filters."""

    target = forms.ModelChoiceField(queryset=Dataset.objects.none(), label=_("Share into"))
    shared_fields = forms.MultipleChoiceField(
        label=_("Fields to share"), choices=[], widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, user, dataset: Dataset, **kwargs):
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        self.fields["target"].queryset = (
            Dataset.objects.restrict(user, "contribute")
            .exclude(pk=dataset.pk)
            .select_related("owner")
            .order_by("title")
        )
        self.fields["target"].label_from_instance = lambda d: f"{d.title} · {d.owner.name}"
        specs = dataset.standard.fields
        self.fields["shared_fields"].choices = [(s["name"], field_label(s)) for s in specs]
        self.fields["shared_fields"].initial = [s["name"] for s in specs]
        for i in range(1, FILTER_ROWS + 1):
            self.fields[f"filter_field_{i}"] = forms.ChoiceField(
                label=_("Only records whose field"),
                choices=[("", "---------"), *((s["name"], field_label(s)) for s in specs)],
                required=False,
            )
            self.fields[f"filter_values_{i}"] = forms.CharField(
                label=_("is one of"),
                max_length=2000,
                required=False,
                help_text=_("Values separated by commas."),
            )
        self.has_targets = self.fields["target"].queryset.exists()

    def filter_rows(self):
        return [(self[f"filter_field_{i}"], self[f"filter_values_{i}"]) for i in range(1, FILTER_ROWS + 1)]

    def clean(self):
        data = super().clean()
        filters: dict[str, list[str]] = {}
        for i in range(1, FILTER_ROWS + 1):
            name, raw = data.get(f"filter_field_{i}"), data.get(f"filter_values_{i}", "")
            values = [v.strip() for v in raw.replace("，", ",").replace("、", ",").split(",") if v.strip()]
            if name and not values:
                self.add_error(f"filter_values_{i}", _("Give at least one value."))
            elif values and not name:
                self.add_error(f"filter_field_{i}", _("Choose the field these values are for."))
            elif name:
                filters.setdefault(name, []).extend(values)
        data["filters"] = filters
        return data
