"""Processing (数据处理): linking (关联), comparison (对比), fusion (融合) and identification (标识).

- Linking joins records of different datasets that share a normalised key (ID number, phone,
  address), set-wise in SQL after each load, with the rule and its version stored on every link.
- Comparison finds exact and near duplicates inside a dataset, and what changed between two
  loads (versions) of it by identity key.
- Fusion folds the records of one entity (one key value) from every dataset the reader may read
  into one row: newest observation wins per field, and the row is as restricted as its most
  restricted source.
- Identification re-applies a standard's tagging rules to stored records and keeps manual labels.

Everything that reads records starts from `Record.objects.restrict()` (through
`selectors.dataset_records` where a single dataset is named); every write authorises "manage" on
the dataset and writes a ledger event in its transaction.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import BooleanField, Count, Exists, F, OuterRef, QuerySet, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.scoping import authorize
from apps.ledger.services import audit_record

from .choices import CLASSIFICATION_RANK, JobStatus, LinkKey
from .models import Dataset, IngestionJob, Record, RecordLink, Tag
from .selectors import dataset_records
from .standards import KEY_COLUMNS, LINK_RULES, NORMALISERS, compiled

# Keys that identify one person or household. A place code names a whole area: it groups
# records by region but links nothing. A key value shared by more records than this is a
# placeholder ("000...", a hotline) rather than an entity, and is not linked.
LINKED_KEYS = (LinkKey.ID_NUMBER, LinkKey.PHONE, LinkKey.ADDRESS)
MAX_LINK_FANOUT = 50

# Comparison: record ids listed per duplicate group, sample size of a diff.
GROUP_IDS = 20
DIFF_SAMPLES = 20

# Identification: manual labels live in `Record.tags` beside the rule tags, with a marker so that
# re-tagging keeps them: "+code" = added by hand (kept even if no rule says so), "!code" = removed
# by hand (not re-added by a rule). Tag codes are slugs, so neither marker can be a code.
MANUAL_ADD = "+"
MANUAL_REMOVE = "!"
RETAG_BATCH = 2000


# --- linking (关联) ---


def links_build(*, job_id: int) -> int:
    """Link the records of one load to records of other datasets sharing a key; idempotent.

    One INSERT ... SELECT per key kind: the load's key values that occur in more than one dataset
    and in at most MAX_LINK_FANOUT records, then every cross-dataset pair of records with them.
    The pair is stored ordered (left < right) and unique per key kind, so a re-run, a redelivered
    task or a concurrent load adds nothing twice. Runs after the load commits: of two loads that
    commit at the same time, the later link run sees the other's records.
    """
    job = IngestionJob.objects.filter(pk=job_id).select_related("dataset__standard").first()
    if job is None or job.status != JobStatus.SUCCEEDED:
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
            # Identifiers come from the model and the fixed KEY_COLUMNS; every value is a parameter.
            # No CTE: SQLite reports no rowcount for a statement that starts with WITH. "WHERE 1 = 1"
            # keeps SQLite from reading ON CONFLICT as a join constraint.
            sql = f"""
                INSERT INTO {link} (left_id, right_id, key_kind, rule, created_at)
                SELECT CASE WHEN a.id < b.id THEN a.id ELSE b.id END,
                       CASE WHEN a.id < b.id THEN b.id ELSE a.id END,
                       %s, %s, %s
                FROM (
                    SELECT r.{col} AS k
                    FROM {record} r
                    WHERE r.{col} IN (
                        SELECT x.{col} FROM {record} x WHERE x.job_id = %s AND x.{col} IS NOT NULL
                    )
                    GROUP BY r.{col}
                    HAVING COUNT(*) <= %s AND COUNT(DISTINCT r.dataset_id) > 1
                ) keys
                JOIN {record} a ON a.{col} = keys.k AND a.job_id = %s
                JOIN {record} b ON b.{col} = keys.k AND b.dataset_id <> a.dataset_id
                WHERE 1 = 1
                ON CONFLICT DO NOTHING
            """  # noqa: S608
            params = [kind.value, LINK_RULES[kind], now, job_id, MAX_LINK_FANOUT, job_id]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                made += max(cursor.rowcount, 0)
        IngestionJob.objects.filter(pk=job_id).update(linked_at=now)  # `jobs_resume` leaves it alone now
    return made


# --- comparison (对比) ---


def _groups(records: QuerySet, column: str, hashes: list[str]) -> dict[str, list[int]]:
    """The first GROUP_IDS record ids of each group (one query, a window per group)."""
    if not hashes:
        return {}
    ranked = (
        records.filter(**{f"{column}__in": hashes})
        .annotate(n=Window(RowNumber(), partition_by=[F(column)], order_by=F("id").asc()))
        .filter(n__lte=GROUP_IDS)
        .order_by(column, "id")
        .values_list(column, "id")
    )
    ids: dict[str, list[int]] = {h: [] for h in hashes}
    for value, pk in ranked:
        ids[value].append(pk)
    return ids


def duplicates(*, user, dataset: Dataset, limit: int = 50) -> list[dict]:
    """Duplicate groups of a dataset, largest first: up to `limit` groups of exact duplicates (same
    content) and up to `limit` of near duplicates (same normalised content — case, width, spaces,
    punctuation — but different exact content). Each: kind, group (a name for it), count and the
    first record ids.
    AccessDenied (404) unless `user` may read the dataset's records."""
    records = dataset_records(user=user, dataset=dataset).order_by()
    exact = list(
        records.values("content_hash")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .order_by("-count", "content_hash")[:limit]
    )
    near = list(
        records.values("near_hash")
        .annotate(count=Count("id"), variants=Count("content_hash", distinct=True))
        .filter(variants__gt=1)
        .order_by("-count", "near_hash")[:limit]
    )
    exact_ids = _groups(records, "content_hash", [g["content_hash"] for g in exact])
    near_ids = _groups(records, "near_hash", [g["near_hash"] for g in near])
    # No hashes in the answer (a reader who sees a field masked could test guesses against them);
    # a group is named by its kind and its first record.
    out = []
    for kind, groups, column, ids in (
        ("exact", exact, "content_hash", exact_ids),
        ("near", near, "near_hash", near_ids),
    ):
        for g in groups:
            record_ids = ids[g[column]]
            entry = {"kind": kind, "group": f"{kind}-{record_ids[0]}", "count": g["count"], "record_ids": record_ids}
            if kind == "near":
                entry["variants"] = g["variants"]
            out.append(entry)
    return out


def _load_of(dataset: Dataset, job: IngestionJob) -> int:
    """The job whose records stand for `job`'s load (a re-upload of the same file points to the
    first load of it); ServiceError unless it is a finished load of `dataset`."""
    if job.dataset_id != dataset.pk:
        raise ServiceError(_("That load belongs to another dataset."), field="job")
    if job.status != JobStatus.SUCCEEDED:
        raise ServiceError(_("Only loads that succeeded can be compared."), field="job")
    return int((job.options or {}).get("duplicate_of") or job.pk)


def dataset_diff(
    *, user, dataset: Dataset, old_job: IngestionJob, new_job: IngestionJob, samples: int = DIFF_SAMPLES
) -> dict:
    """What changed between two loads (versions) of a dataset, by identity key (`record_key`):
    keys only in the new load (added), only in the old (removed), and in both with different
    content (changed). Counts are of distinct keys; samples list a few record ids (never the keys,
    which are hashes of identity fields such as ID numbers).
    AccessDenied (404) unless `user` may read the dataset's records."""
    records = dataset_records(user=user, dataset=dataset).order_by()
    old_id, new_id = _load_of(dataset, old_job), _load_of(dataset, new_job)
    old = records.filter(job_id=old_id)
    new = records.filter(job_id=new_id)
    # anti-joins on (dataset, record_key); a key is changed when its content in the new load is
    # not exactly one of its contents in the old one
    in_old = Exists(old.filter(record_key=OuterRef("record_key")))
    same_in_old = Exists(old.filter(record_key=OuterRef("record_key"), content_hash=OuterRef("content_hash")))
    added = new.exclude(in_old)
    removed = old.exclude(Exists(new.filter(record_key=OuterRef("record_key"))))
    changed = new.filter(in_old).exclude(same_in_old)

    def part(qs, sample_of) -> dict:
        count = qs.values("record_key").distinct().count()
        return {"count": count, "samples": sample_of(qs) if count else []}

    def plain(qs):
        return [{"record_id": pk} for pk in qs.order_by("record_key", "id").values_list("id", flat=True)[:samples]]

    def paired(qs):
        rows = list(qs.order_by("record_key", "id").values_list("record_key", "id")[:samples])
        before = {}
        for key, pk in old.filter(record_key__in=[k for k, _pk in rows]).order_by("id").values_list("record_key", "id"):
            before.setdefault(key, pk)
        return [{"record_id": pk, "old_record_id": before.get(key)} for key, pk in rows]

    return {
        "old_job": old_id,
        "new_job": new_id,
        "old_records": old.count(),
        "new_records": new.count(),
        "added": part(added, plain),
        "removed": part(removed, plain),
        "changed": part(changed, paired),
    }


# --- fusion (融合) ---


def _normalised(key_kind: str, value) -> str | None:
    return NORMALISERS[key_kind](value) if value not in (None, "") else None


def fused_view(*, user, key_kind: str, value=None, dataset_ids=None, limit: int = 50) -> list[dict]:
    """One row per entity (records sharing a normalised `key_kind` value) across every dataset
    whose records `user` may read (optionally only `dataset_ids`, or only the entity `value`).

    Each field takes the value of the newest observation that has it (observation time, then
    load time), with the dataset and record it came from; the row keeps all its record ids. The
    row's classification is the most restricted of its sources' and its sensitive fields are the
    union of theirs: a fused row is never less restricted than its most restricted source.

    Records read through a data-access grant show only what the grant shows (its clear fields,
    its masked fields masked, nothing else); a value in clear beats a masked one, and the key
    itself is masked unless some source shows it in clear. A key value shared by more than
    MAX_LINK_FANOUT records is a placeholder, not an entity, and is left out (as in linking).
    Entities found in most datasets come first.
    """
    if key_kind not in LINKED_KEYS:
        raise ServiceError(_("Records can be fused by ID number, phone or address only."), field="key_kind")
    col = KEY_COLUMNS[key_kind]
    records = Record.objects.restrict(user, "view").filter(**{f"{col}__isnull": False})
    if dataset_ids is not None:
        try:
            wanted = sorted({int(pk) for pk in dataset_ids})
        except (TypeError, ValueError):
            raise ServiceError(_("Unknown dataset."), field="dataset_ids") from None
        records = records.filter(dataset_id__in=wanted)
    if value is not None:
        key = _normalised(key_kind, value)
        if key is None:
            return []
        records = records.filter(**{col: key})
    entities = list(
        records.order_by()
        .values(col)
        .annotate(n=Count("id"), sources=Count("dataset_id", distinct=True))
        .filter(n__lte=MAX_LINK_FANOUT)
        .order_by("-sources", col)
        .values_list(col, flat=True)[: max(0, int(limit))]
    )
    if not entities:
        return []
    members = list(
        records.filter(**{f"{col}__in": entities})
        .select_related("dataset__standard")
        .order_by(col, F("observed_at").desc(nulls_last=True), "-loaded_at", "-id")
    )
    datasets = {m.dataset_id: m.dataset for m in members}
    views, grants = _source_views(user, key_kind, datasets)
    rows: dict[str, dict] = {key: _fused_row(key_kind, key) for key in entities}
    shown: dict[int, int] = {}
    for record in members:
        view = views.get(record.dataset_id)
        if view is not None:
            _fold(rows[getattr(record, col)], record, view)
            shown[record.dataset_id] = shown.get(record.dataset_id, 0) + 1
    # a fused view is a read of every dataset it shows records of: one ledger event per dataset,
    # naming the grant read through (None for the owner), like the record pages and the API
    from apps.access.services import read_record

    query = {"fused_by": key_kind, "one_entity": value is not None, "datasets": dataset_ids is not None}
    for pk, count in sorted(shown.items()):
        read_record(actor=user, dataset=datasets[pk], grant=grants[pk], query=query, rows=count)
    out = []
    for key in entities:
        row = rows[key]
        if not row["records"]:
            continue
        if not row.pop("key_in_clear"):
            row["key"] = _mask_key(key_kind, key)
            row["key_masked"] = True
        row["sensitive_fields"] = sorted(row["sensitive_fields"])
        row["datasets"] = sorted(row["datasets"])
        out.append(row)
    return out


def _mask_key(kind: str, value: str) -> str:
    from apps.access.masking import mask_id_number, mask_phone, mask_text

    return {LinkKey.ID_NUMBER: mask_id_number, LinkKey.PHONE: mask_phone}.get(kind, mask_text)(value)


def _source_views(user, key_kind: str, datasets: dict) -> dict:
    """Per source dataset: (presenter, masked field names, whether the key field shows in clear),
    and the grant each is read through (None for the owner department).
    The owner department sees whole records; a grantee what its grant shows, and a dataset whose
    grant hides the key field altogether takes no part (it would link what the grant withholds)."""
    from apps.access.selectors import grant_for_reading, presenter_for

    views, grants = {}, {}
    for pk, dataset in datasets.items():
        try:
            grant = grant_for_reading(user=user, dataset=dataset)
            present = presenter_for(grant, dataset)
        except AccessDenied:
            continue  # no longer readable: its records take no part
        keys = {f["name"] for f in dataset.standard.fields if f.get("link") == key_kind}
        masked = {name for name, _mask in present.masked}
        if keys & (set(present.clear) | masked):
            views[pk] = (present, masked, bool(keys & set(present.clear)))
            grants[pk] = grant
    return views, grants


def _fused_row(key_kind: str, key: str) -> dict:
    return {
        "key_kind": key_kind,
        "key": key,
        "key_in_clear": False,
        "rule": LINK_RULES[key_kind],
        "fields": {},
        "records": [],
        "datasets": set(),
        "classification": None,
        "sensitive_fields": set(),
    }


def _fold(row: dict, record: Record, view) -> None:
    """Add one record (records arrive newest first) to its entity's fused row."""
    present, masked, key_in_clear = view
    dataset = record.dataset
    row["records"].append(record.pk)
    row["datasets"].add(dataset.pk)
    row["key_in_clear"] = row["key_in_clear"] or key_in_clear
    current = row["classification"]
    if current is None or CLASSIFICATION_RANK[dataset.classification] > CLASSIFICATION_RANK[current]:
        row["classification"] = dataset.classification
    row["sensitive_fields"].update(dataset.standard.sensitive_fields)
    observed = record.observed_at.isoformat() if record.observed_at else None
    for name, field_value in present(record.payload).items():
        if field_value in (None, ""):
            continue
        held = row["fields"].get(name)
        if held is not None and not (held["masked"] and name not in masked):
            continue  # a newer value is held, and this one is not a clear value for a masked one
        row["fields"][name] = {
            "value": field_value,
            "masked": name in masked,
            "dataset": dataset.pk,
            "dataset_title": dataset.title,
            "record": record.pk,
            "observed_at": observed,
        }


# --- identification (标识) ---


def tag_codes(tags) -> list[str]:
    """The tags a record carries, without the manual-label markers."""
    return [t for t in tags or [] if not t.startswith((MANUAL_ADD, MANUAL_REMOVE))]


def _effective(rule_tags, stored) -> list[str]:
    """Rule tags, plus tags added by hand, minus tags removed by hand; markers kept."""
    stored = stored or []
    added = {t[1:] for t in stored if t.startswith(MANUAL_ADD)}
    removed = {t[1:] for t in stored if t.startswith(MANUAL_REMOVE)}
    codes = (set(rule_tags) - removed) | added
    markers = {t for t in stored if t.startswith((MANUAL_ADD, MANUAL_REMOVE))}
    return sorted(codes) + sorted(markers)


def records_with_tag(queryset: QuerySet, code: str) -> QuerySet:
    """Records of `queryset` carrying tag `code` (JSONB containment on PostgreSQL, json_each on
    SQLite)."""
    if connection.vendor == "postgresql":
        return queryset.filter(tags__contains=[code])
    table = Record._meta.db_table
    exists = RawSQL(  # noqa: S611 - the table name is the model's; the code is a parameter
        f"EXISTS (SELECT 1 FROM json_each({table}.tags) WHERE json_each.value = %s)",  # noqa: S608 - model table
        [code],
        output_field=BooleanField(),
    )
    return queryset.filter(exists)


def records_retag(*, actor, dataset: Dataset) -> int:
    """Re-apply the standard's tagging rules to every stored record of `dataset` (after a rule
    changed), keeping manual labels; returns how many records changed.

    Runs in one transaction with the dataset locked (a load waits, and either sees the old tags
    or the new ones); records are read in id batches and written with bulk updates, and the
    rules are the compiled predicates the loader uses, so a stored record gets exactly the tags
    a fresh load would give it."""
    authorize(actor, "manage", dataset)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().select_related("standard", "owner__region").get(pk=dataset.pk)
        processor = compiled(dataset.standard)
        changed = 0
        last = 0
        while True:
            batch = list(
                Record.objects.filter(dataset=dataset, id__gt=last)
                .order_by("id")
                .only("id", "payload", "tags")[:RETAG_BATCH]
            )
            if not batch:
                break
            last = batch[-1].pk
            dirty = []
            for record in batch:
                rule_tags = list(
                    dict.fromkeys(code for code, predicate in processor.taggers if predicate(record.payload))
                )
                tags = _effective(rule_tags, record.tags)
                if set(tags) != set(record.tags or []):  # order and repeats are no change
                    record.tags = tags
                    dirty.append(record)
            if dirty:
                Record.objects.bulk_update(dirty, ["tags"], batch_size=500)
                changed += len(dirty)
        audit_record(
            actor=actor,
            action="dataset.retag",
            target=dataset,
            after={
                "standard": dataset.standard_id,
                "rules": [code for code, _p in processor.taggers],
                "changed": changed,
            },
        )
    return changed


def record_label(*, actor, record: Record, tag: Tag, add: bool = True) -> Record:
    """Label a record by hand (or take a label off): kept through later re-tagging."""
    authorize(actor, "manage", record.dataset)
    with transaction.atomic():
        record = Record.objects.select_for_update().select_related("dataset__owner__region").get(pk=record.pk)
        before = list(record.tags or [])
        code = tag.code
        others = [t for t in before if t not in (code, MANUAL_ADD + code, MANUAL_REMOVE + code)]
        codes = set(tag_codes(others)) | ({code} if add else set())
        markers = {t for t in others if t.startswith((MANUAL_ADD, MANUAL_REMOVE))}
        markers.add((MANUAL_ADD if add else MANUAL_REMOVE) + code)
        tags = sorted(codes) + sorted(markers)
        if tags == before:
            return record
        record.tags = tags
        record.save(update_fields=["tags"])
        audit_record(
            actor=actor,
            action="record.label" if add else "record.unlabel",
            target=record,
            region=record.dataset.owner.region,
            before={"tags": tag_codes(before)},
            after={"tags": tag_codes(tags), "dataset": record.dataset_id, "tag": code},
        )
    return record


__all__ = [
    "LINKED_KEYS",
    "MAX_LINK_FANOUT",
    "dataset_diff",
    "duplicates",
    "fused_view",
    "links_build",
    "record_label",
    "records_retag",
    "records_with_tag",
    "tag_codes",
]
