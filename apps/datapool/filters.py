"""FilterSets shared by the portal lists and the API lists of the data pool."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import Classification, JobStatus, SourceKind
from .models import Dataset, IngestionJob


class DatasetFilter(django_filters.FilterSet):
    """The catalog search (元数据目录): title, description, owner, standard, tags, quality,
    freshness. Narrows a list that already comes from `restrict()`."""

    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    owner = django_filters.NumberFilter(field_name="owner_id", label=_("Owner department"))
    standard = django_filters.CharFilter(field_name="standard__code", label=_("Standard"))
    tag = django_filters.CharFilter(field_name="tags__code", label=_("Tag"), distinct=True)
    classification = django_filters.ChoiceFilter(choices=Classification.choices, label=_("Classification"))
    source_kind = django_filters.ChoiceFilter(choices=SourceKind.choices, label=_("Source"))
    min_quality = django_filters.NumberFilter(
        field_name="quality_score", lookup_expr="gte", label=_("Quality at least")
    )

    class Meta:
        model = Dataset
        fields = ["q", "owner", "standard", "tag", "classification", "source_kind", "min_quality"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(description__icontains=value)
            | Q(owner__name__icontains=value)
            | Q(standard__name__icontains=value)
        )


class IngestionJobFilter(django_filters.FilterSet):
    dataset = django_filters.NumberFilter(field_name="dataset_id", label=_("Dataset"))
    status = django_filters.ChoiceFilter(choices=JobStatus.choices, label=_("Status"))

    class Meta:
        model = IngestionJob
        fields = ["dataset", "status"]
