"""Reads of the data pool. Everything starts from `restrict()`; records additionally require the
`read` action on their dataset (the owner department; grants arrive with the data-access issue)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from apps.core.exceptions import AccessDenied
from apps.core.scoping import authorize

from .models import (
    ColumnMapping,
    Dataset,
    DatasetUse,
    DataStandard,
    IngestionJob,
    QualityCheck,
    Record,
    RejectedRow,
    SyncSource,
    Tag,
)


def sync_source_list(*, user) -> QuerySet[SyncSource]:
    """Sync sources `user` may see (the owner department's heads and stewards)."""
    return (
        SyncSource.objects.restrict(user, "view")
        .select_related("dataset__standard")
        .order_by("dataset_id", "name", "id")
    )


def tag_list(*, user) -> QuerySet[Tag]:
    """The tag vocabulary (标识): labels, no tenant data; any authenticated member of staff."""
    from apps.core.scoping import principal_for

    return Tag.objects.order_by("code") if principal_for(user) is not None else Tag.objects.none()


def default_owner_department_id(*, user) -> int | None:
    """The department a new dataset belongs to when the caller names none: their only department
    where they are a head or data steward (the service then checks they may publish there); None
    when they have none or several."""
    from apps.core.permissions import STEWARDS
    from apps.core.scoping import principal_for

    principal = principal_for(user)
    mine = principal.department_ids(STEWARDS) if principal is not None else set()
    return next(iter(mine)) if len(mine) == 1 else None


def standard_list(*, user) -> QuerySet[DataStandard]:
    return DataStandard.objects.restrict(user, "view").prefetch_related("quality_rules", "tag_rules__tag")


def dataset_catalog(*, user) -> QuerySet[Dataset]:
    """Datasets whose metadata `user` may discover (never their records)."""
    return (
        Dataset.objects.restrict(user, "view")
        .select_related("owner__region", "standard", "leading_group")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("code")))
    )


def dataset_owner_choices(*, datasets: QuerySet[Dataset]) -> list[tuple[int, str]]:
    """(id, name) of the departments owning `datasets` (a restricted list), by region and name: the
    owner filter's labels. Read through the datasets themselves, so it names exactly the owners of
    rows the caller sees (a catalog entry names its owner where the department directory may not
    reach)."""
    rows = (
        datasets.prefetch_related(None)
        .order_by("owner__region__path", "owner__name", "owner_id")
        .values_list("owner_id", "owner__name", "owner__region__path")
        .distinct()
    )
    return [(pk, name) for pk, name, _path in rows]


def job_dataset_choices(*, jobs: QuerySet[IngestionJob]) -> list[tuple[int, str]]:
    """(id, title) of the datasets of `jobs` (a restricted list), by title: the job filter's labels,
    read through the jobs the caller sees."""
    rows = jobs.prefetch_related(None).order_by("dataset__title", "dataset_id")
    return list(rows.values_list("dataset_id", "dataset__title").distinct())


def dataset_records(*, user, dataset: Dataset) -> QuerySet[Record]:
    """The records of `dataset` that `user` may read: AccessDenied (404) otherwise, even when the
    catalog shows the dataset (its records are not the user's to know about)."""
    try:
        authorize(user, "read", dataset)
    except AccessDenied as exc:
        raise AccessDenied(action="read", target=dataset, hidden=True) from exc
    return Record.objects.restrict(user, "view").filter(dataset=dataset).order_by("id")


def dataset_jobs(*, user, dataset: Dataset | None = None) -> QuerySet[IngestionJob]:
    jobs = IngestionJob.objects.restrict(user, "view").select_related("dataset", "department", "created_by")
    return jobs.filter(dataset=dataset) if dataset is not None else jobs


def job_rejects(*, user, job: IngestionJob) -> QuerySet[RejectedRow]:
    authorize(user, "view", job)
    return RejectedRow.objects.filter(job=job).order_by("line", "id")


def dataset_mappings(*, user, dataset: Dataset) -> QuerySet[ColumnMapping]:
    return ColumnMapping.objects.restrict(user, "view").filter(dataset=dataset)


def quality_history(*, user, dataset: Dataset, limit: int = 60) -> list[QualityCheck]:
    """The dataset-level scores over time (oldest first), shown before anyone requests the data."""
    authorize(user, "view", dataset)
    checks = QualityCheck.objects.filter(dataset=dataset, job__isnull=True).order_by("-measured_at")[:limit]
    return list(reversed(checks))


def asset_register(*, user) -> QuerySet[Dataset]:
    """The asset register (数据资产): datasets of my departments (and, for an information office,
    of its group's departments) with size, freshness, quality and use over the last 30 days."""
    since = timezone.localdate() - timedelta(days=30)
    return (
        Dataset.objects.restrict(user, "assets")
        .select_related("owner__region", "standard")
        .annotate(
            reads_30d=Sum("uses__reads", filter=Q(uses__day__gte=since)),
            rows_30d=Sum("uses__rows", filter=Q(uses__day__gte=since)),
            users_30d=Count("uses__department", filter=Q(uses__day__gte=since), distinct=True),
        )
        .order_by("owner__name", "title")
    )


def dataset_usage(*, user, dataset: Dataset, days: int = 30) -> list[dict]:
    """Who read the dataset and how often, per department over `days` (asset register detail)."""
    authorize(user, "assets", dataset)
    since = timezone.localdate() - timedelta(days=days)
    rows = (
        DatasetUse.objects.filter(dataset=dataset, day__gte=since)
        .values("department_id", "department__name")
        .annotate(reads=Sum("reads"), rows=Sum("rows"))
        .order_by("-reads")
    )
    return list(rows)
