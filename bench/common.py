"""What the benchmark scripts share: a throwaway database, a percentile, and a resident dataset
loaded through the platform's real upload path. No side effects at import: each script sets its
own settings module and database before `django.setup()`."""

from __future__ import annotations


def ensure_database() -> None:
    """Drop and re-create the configured database; refuses one whose name does not end in 'bench'."""
    import psycopg2
    from django.conf import settings
    from psycopg2 import sql

    cfg = settings.DATABASES["default"]
    if not cfg["NAME"].endswith("bench"):
        raise SystemExit(f"refusing to drop {cfg['NAME']!r}: the bench database's name must end in 'bench'")
    conn = psycopg2.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(cfg["NAME"])))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg["NAME"])))
    conn.close()


def percentile(values, p: float) -> float:
    """The p-quantile (0..1) by linear interpolation; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def resident_dataset(owner, records: int, place: str = "320106"):
    """The demo's resident register of `owner` with `records` rows, uploaded and loaded through the
    real ingestion path by a steward of `owner`. Returns the dataset, its load job and a head of
    `owner` (to approve requests for it)."""
    from django.db import transaction

    from apps.core.permissions import Role
    from apps.datapool import services as pool
    from apps.datapool.choices import Classification
    from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
    from tests import factories as f

    standards = standards_ensure()
    steward = f.member(owner, Role.STEWARD)
    head = f.member(owner, Role.HEAD)
    dataset = pool.dataset_create(
        actor=steward,
        owner=owner,
        standard=standards["resident"],
        title="常住人口基础信息",
        classification=Classification.INTERNAL,
    )
    with transaction.atomic():
        job = pool.ingestion_submit_file(
            actor=steward,
            dataset=dataset,
            upload=pool.spool_upload(csv_bytes(resident_rows(records, place=place)), "residents.csv"),
        )
    pool.ingestion_run(job.pk)
    job.refresh_from_db()
    return dataset, job, head
