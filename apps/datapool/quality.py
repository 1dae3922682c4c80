"""Data quality (数据质量): a score per ingestion and per dataset, kept as history.

The score is a weighted mean of pass rates, 0-100: validity (rows accepted / rows read, weight 1)
plus each quality rule of the standard: row rules (required, range, pattern, code list) count the
accepted rows that break them, uniqueness counts distinct identity keys over the whole dataset,
freshness says whether the last load is within the declared update frequency.
"""

from __future__ import annotations

from django.db.models import Count, F, Sum
from django.utils import timezone

from .choices import JobStatus, QualityRuleKind
from .models import Dataset, IngestionJob, QualityCheck, Record


def _score(results: list[dict]) -> float:
    total = sum(r["weight"] for r in results)
    if not total:
        return 100.0
    return round(100.0 * sum(r["weight"] * r["rate"] for r in results) / total, 1)


def _uniqueness(dataset: Dataset) -> tuple[int, int]:
    agg = Record.objects.filter(dataset=dataset).aggregate(n=Count("id"), distinct=Count("record_key", distinct=True))
    return agg["n"] or 0, agg["distinct"] or 0


def _dataset_rules(dataset, processor, job_rows: dict, now, validity: tuple[int, int]) -> list[dict]:
    read, accepted = validity
    results = [
        {
            "rule": None,
            "kind": "validity",
            "field": "",
            "weight": 1,
            "failed": read - accepted,
            "rows": read,
            "rate": (accepted / read) if read else 1.0,
        }
    ]
    unique_counts = None
    for index, (rule_id, kind, field, weight, predicate) in enumerate(processor.scoring):
        if predicate is not None:
            failed = job_rows.get(index, 0)
            rows = accepted
            rate = 1 - failed / rows if rows else 1.0
        elif kind == QualityRuleKind.UNIQUENESS:
            if unique_counts is None:
                unique_counts = _uniqueness(dataset)
            rows, distinct = unique_counts
            failed = rows - distinct
            rate = distinct / rows if rows else 1.0
        elif kind == QualityRuleKind.FRESHNESS:
            rows, failed = 1, 0 if dataset.is_fresh(now) else 1
            rate = 1.0 - failed
        else:
            continue
        results.append(
            {
                "rule": rule_id,
                "kind": kind,
                "field": field,
                "weight": weight,
                "failed": failed,
                "rows": rows,
                "rate": round(rate, 4),
            }
        )
    return results


def quality_measure(
    *, dataset: Dataset, job: IngestionJob | None, result=None, processor=None, now=None
) -> QualityCheck:
    """Score `job` (from its load `result`) and re-score the dataset as a whole; both are kept.
    Runs inside the load's transaction; updates the dataset's counters too."""
    from .standards import compiled

    now = now or timezone.now()
    processor = processor or compiled(dataset.standard)
    job_check = None
    if job is not None and result is not None:
        Dataset.objects.filter(pk=dataset.pk).update(
            last_loaded_at=now, size_bytes=F("size_bytes") + result.payload_bytes
        )
        dataset.last_loaded_at = now
        job_results = _dataset_rules(
            dataset, processor, result.rule_failures, now, (result.rows_read, result.rows_accepted)
        )
        job_check = QualityCheck.objects.create(
            dataset=dataset,
            job=job,
            measured_at=now,
            score=_score(job_results),
            rows=result.rows_read,
            results=job_results,
        )
    dataset_check = quality_refresh(dataset=dataset, processor=processor, now=now, extra=result)
    return job_check or dataset_check


def quality_refresh(*, dataset: Dataset, processor=None, now=None, extra=None) -> QualityCheck:
    """The dataset-level score from all its loads so far (and its counters)."""
    from .standards import compiled

    now = now or timezone.now()
    processor = processor or compiled(dataset.standard)
    jobs = IngestionJob.objects.filter(dataset=dataset, status=JobStatus.SUCCEEDED)
    totals = jobs.aggregate(read=Sum("rows_read"), accepted=Sum("rows_accepted"))
    read, accepted = totals["read"] or 0, totals["accepted"] or 0
    failures: dict[int, int] = {}
    for results in QualityCheck.objects.filter(dataset=dataset, job__status=JobStatus.SUCCEEDED).values_list(
        "results", flat=True
    ):
        for index, entry in enumerate(results[1:]):
            if entry.get("kind") in (QualityRuleKind.UNIQUENESS, QualityRuleKind.FRESHNESS):
                continue
            failures[index] = failures.get(index, 0) + int(entry.get("failed", 0))
    if extra is not None:  # the running load is not marked succeeded yet
        read += extra.rows_read
        accepted += extra.rows_accepted
        for index, n in extra.rule_failures.items():
            failures[index] = failures.get(index, 0) + n
    results = _dataset_rules(dataset, processor, failures, now, (read, accepted))
    count = Record.objects.filter(dataset=dataset).count()
    check = QualityCheck.objects.create(
        dataset=dataset, job=None, measured_at=now, score=_score(results), rows=count, results=results
    )
    Dataset.objects.filter(pk=dataset.pk).update(quality_score=check.score, record_count=count)
    dataset.quality_score, dataset.record_count = check.score, count
    return check
