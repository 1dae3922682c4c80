"""Processing (数据处理): linking records across datasets by normalised keys (关联).

Comparison, fusion and tagging live beside it (see the functions below). Links are made set-wise
in SQL after a load, never per row.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from .choices import LinkKey
from .models import IngestionJob, Record, RecordLink
from .standards import KEY_COLUMNS, LINK_RULES

# Keys that identify one person or household. A place code names a whole area: it groups
# records by region but links nothing. A key value shared by more records than this is a
# placeholder ("000...", a hotline) rather than an entity, and is not linked.
LINKED_KEYS = (LinkKey.ID_NUMBER, LinkKey.PHONE, LinkKey.ADDRESS)
MAX_LINK_FANOUT = 50


def links_build(*, job_id: int) -> int:
    """Link the records of one load to records of other datasets sharing a key; idempotent."""
    job = IngestionJob.objects.filter(pk=job_id).select_related("dataset__standard").first()
    if job is None:
        return 0
    kinds = {f.get("link") for f in job.dataset.standard.fields if f.get("link")}
    record = Record._meta.db_table
    link = RecordLink._meta.db_table
    made = 0
    now = timezone.now()
    with transaction.atomic():
        for kind in LINKED_KEYS:
            if kind not in kinds:
                continue
            col = KEY_COLUMNS[kind]
            # identifiers come from the model and a fixed list of key columns; values are parameters
            sql = f"""

                INSERT INTO {link} (left_id, right_id, key_kind, rule, created_at)
                SELECT CASE WHEN a.id < b.id THEN a.id ELSE b.id END,
                       CASE WHEN a.id < b.id THEN b.id ELSE a.id END,
                       %s, %s, %s
                FROM {record} a
                JOIN {record} b ON b.{col} = a.{col} AND b.dataset_id <> a.dataset_id
                WHERE a.job_id = %s AND a.{col} IS NOT NULL
                  AND a.{col} NOT IN (
                      SELECT r.{col} FROM {record} r
                      WHERE r.{col} IN (SELECT x.{col} FROM {record} x WHERE x.job_id = %s AND x.{col} IS NOT NULL)
                      GROUP BY r.{col} HAVING COUNT(*) > %s
                  )
                ON CONFLICT DO NOTHING
            """  # noqa: S608
            with connection.cursor() as cursor:
                cursor.execute(sql, [kind, LINK_RULES[kind], now, job_id, job_id, MAX_LINK_FANOUT])
                made += max(cursor.rowcount, 0)
    return made
