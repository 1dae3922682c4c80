"""Ingestion benchmark: a 12-column CSV through the real upload channel vs bare PostgreSQL COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ingest_bench .venv/bin/python bench/ingest.py --rows 1000000

Drops and re-creates the given database (its name must end in 'bench'), migrates it, writes a
CSV of N rows (12 columns: Chinese text, an ID-number key, numbers, dates, a yes/no column) and
then measures, in one run:

1. the platform path: `ingestion_submit_file` (hash and store the file) and `ingestion_run`
   (sniff, decode, map, convert, validate, hash, key, tag, score, COPY into `datapool_record`
   with its indexes, rejected rows, quality scores, commit);
2. baseline A: bare `COPY ... (FORMAT csv)` of the same file into a plain table of 12 typed
   columns without indexes;
3. baseline B: bare `COPY` of the records the platform produced (dumped to a file first) into a
   plain table of the records table's shape (payload jsonb + key columns) without indexes, and
   the same into a table with the records table's indexes;
4. the Python side alone: reading, converting, validating and formatting every COPY line,
   written nowhere.

`--profile` runs cProfile over the platform path instead (use `--rows 200000`) and prints the
top functions. Figures go to docs/benchmarks.md with the command; tests never assert them.
"""

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ingest_bench")

import django  # noqa: E402

from bench.common import ensure_database  # noqa: E402

PLACE = "320106"
FIELDS = [
    {
        "name": "id_number",
        "label": "身份证号",
        "type": "string",
        "required": True,
        "pattern": r"^\d{17}[\dXx]$",
        "link": "id_number",
    },
    {"name": "name", "label": "姓名", "type": "string", "required": True, "max_length": 50},
    {"name": "gender", "label": "性别", "type": "string", "codes": ["男", "女"]},
    {"name": "age", "label": "年龄", "type": "integer", "min": 0, "max": 150},
    {"name": "phone", "label": "联系电话", "type": "string", "link": "phone"},
    {"name": "address", "label": "住址", "type": "string", "link": "address"},
    {"name": "place_code", "label": "行政区划代码", "type": "string", "pattern": r"^\d{6,12}$", "link": "place_code"},
    {"name": "category", "label": "人员类别", "type": "string", "codes": ["常住", "流动", "重点关爱"]},
    {"name": "income", "label": "月收入", "type": "number", "min": 0},
    {"name": "insured", "label": "参保", "type": "boolean"},
    {"name": "birth_date", "label": "出生日期", "type": "date"},
    {"name": "observed_at", "label": "登记时间", "type": "datetime"},
]
PLAIN_TABLE = """
    CREATE UNLOGGED TABLE IF NOT EXISTS {name} (
        id_number varchar(18), name text, gender text, age integer, phone text, address text,
        place_code varchar(12), category text, income numeric, insured boolean, birth_date date,
        observed_at timestamp
    )
"""
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静磊洋勇艳杰军涛明超霞平"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def write_csv(path: Path, rows: int, seed: int = 11) -> int:
    """N rows of 12 columns (header = the standard's Chinese labels); 0.1% of them invalid."""
    rng = random.Random(seed)  # noqa: S311 - repeatable bench data
    start = datetime(2026, 11, 1, 8, 0)
    names = [s + g for s in SURNAMES for g in GIVEN]
    streets = [f"南京市鼓楼区中山北路{n}号{b}栋" for n in range(1, 400) for b in range(1, 6)]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow([f["label"] for f in FIELDS])
        batch = []
        born = datetime(1940, 1, 1)
        for i in range(rows):
            birth = born + timedelta(days=(i // 1000) * 7 % 29200)  # unique (birth date, serial) pairs
            year, month, day = birth.year, birth.month, birth.day
            body = f"{PLACE}{year}{month:02d}{day:02d}{i % 1000:03d}"
            check = "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]
            batch.append(
                (
                    body + check,
                    names[i % len(names)],
                    ("男" if i % 2 else "女") if i % 1000 else "未知",  # 0.1% rejected (code list)
                    str(2026 - year),
                    f"13{rng.randrange(10**9):09d}",
                    streets[i % len(streets)],
                    PLACE,
                    ("常住", "常住", "流动", "重点关爱")[i % 4],
                    f"{rng.randrange(0, 2000000) / 100:.2f}",
                    "1" if i % 3 else "0",
                    f"{year}-{month:02d}-{day:02d}",
                    (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S"),
                )
            )
            if len(batch) >= 10000:
                out.writerows(batch)
                batch = []
        out.writerows(batch)
    return path.stat().st_size


def world():
    from apps.core.permissions import Role
    from apps.datapool import services
    from apps.datapool.models import DataStandard, QualityRule, Tag, TagRule
    from apps.organizations.choices import DepartmentType
    from tests import factories as f

    province = f.region(name="江苏省", code="320000")
    city = f.region(parent=province, name="南京市", code="320100")
    f.region(parent=city, name="鼓楼区", code=PLACE)
    owner = f.department(region=city, type=DepartmentType.PUBLIC_SECURITY, name="南京市公安局")
    steward = f.member(owner, Role.STEWARD)
    standard = DataStandard.objects.create(
        code="bench-resident",
        name="人口基础信息（基准测试）",
        fields=FIELDS,
        key_fields=["id_number"],
        observed_field="observed_at",
        region_field="place_code",
    )
    tag = Tag.objects.create(code="vulnerable", name="重点关爱人员", name_en="Vulnerable person")
    TagRule.objects.create(standard=standard, tag=tag, field="age", op="gte", value=70)
    TagRule.objects.create(standard=standard, tag=tag, field="category", op="eq", value="重点关爱")
    QualityRule.objects.create(standard=standard, kind="uniqueness", weight=2)
    QualityRule.objects.create(standard=standard, kind="freshness", weight=1)
    QualityRule.objects.create(standard=standard, kind="required", field="phone", weight=1)
    QualityRule.objects.create(standard=standard, kind="range", field="income", params={"min": 0, "max": 15000})
    dataset = services.dataset_create(actor=steward, owner=owner, standard=standard, title="鼓楼区常住人口（基准）")
    return steward, dataset


def raw_copy(sql: str, path: Path) -> float:
    """Seconds to run `sql` (a COPY FROM STDIN) over the file at `path`, committed."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    with open(path, "rb") as handle, raw.cursor() as cur:
        start = time.perf_counter()
        cur.copy_expert(sql, handle, size=1 << 20)
        raw.commit()
        return time.perf_counter() - start


PHASES: dict[str, float] = {}


def timed(owner, name: str, label: str) -> None:
    """Wrap `owner.name` to add its wall time to PHASES[label] (where the platform's time goes)."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            PHASES[label] = PHASES.get(label, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)


def platform_load(steward, dataset, path: Path):
    from django.core.files import File
    from django.db import transaction

    from apps.datapool import services
    from apps.datapool.loader import Loader

    timed(Loader, "load", "read, validate and COPY (Python and PostgreSQL at once)")
    timed(services, "_finish", "quality scores, counters, ledger event")
    with open(path, "rb") as handle:
        start = time.perf_counter()
        with transaction.atomic():
            job = services.ingestion_submit_file(actor=steward, dataset=dataset, upload=File(handle, name=path.name))
        submitted = time.perf_counter() - start
    wal_before = _wal_lsn()
    start, cpu = time.perf_counter(), time.process_time()
    job = services.ingestion_run(job.pk)
    elapsed = time.perf_counter() - start
    PHASES_WAL["cpu"] = time.process_time() - cpu
    PHASES_WAL["ingestion_run"] = _wal_bytes(wal_before)
    return submitted, elapsed, job


PHASES_WAL: dict[str, int] = {}


def _wal_lsn() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn()")
        return cur.fetchone()[0]


def _wal_bytes(since: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [since])
        return int(cur.fetchone()[0])


def python_only(dataset, path: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to read, convert, validate and format every COPY line, written nowhere."""
    from apps.datapool.loader import Loader
    from apps.datapool.readers import open_source
    from apps.datapool.services import _mapped_rows, _region_ids, mapping_guess
    from apps.datapool.standards import compiled

    class Job:
        pk = 0
        dataset_id = dataset.pk

    loader = Loader(Job(), compiled(dataset.standard), _region_ids())
    loader._prepare_copy()
    start, cpu = time.perf_counter(), time.process_time()
    with open(path, "rb") as handle:
        source = open_source(handle, path.stat().st_size)
        rows = _mapped_rows(source.rows(), mapping_guess(dataset.standard, source.header))
        for _chunk in loader._copy_chunks(rows, lambda: None):
            pass
    return time.perf_counter() - start, time.process_time() - cpu


def explain(steward, dataset, path: Path, first_job) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the queries the app runs over the loaded records: a record
    page, a diff between two loads, duplicates, and linking a load to another dataset. The SQL is
    captured from the real selectors and services, then explained (writes rolled back)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from apps.datapool import processing, selectors, services

    small = path.with_name("changes.csv")
    with open(path, encoding="utf-8") as source, open(small, "w", encoding="utf-8") as out:
        for n, text in enumerate(source):  # the first 10,000 people again, half of them changed
            if n > 10_000:
                break
            out.write(text.replace(",常住,", ",流动,") if n % 2 else text)
    with open(small, "rb") as handle:
        again = services.ingestion_run(_submit(steward, dataset, handle).pk)
    other = services.dataset_create(
        actor=steward, owner=dataset.owner, standard=dataset.standard, title="鼓楼区流动人口（基准）"
    )
    with open(small, "rb") as handle:
        linked = services.ingestion_run(_submit(steward, other, handle).pk)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")

    class Rollback(Exception):
        pass

    def captured(label, fn):
        with CaptureQueriesContext(connection) as ctx:
            try:
                with transaction.atomic():
                    fn()
                    raise Rollback
            except Rollback:
                pass
        sqls = [q["sql"] for q in ctx.captured_queries if "datapool_record" in q["sql"]]
        for sql in sqls:
            if not sql.lstrip().upper().startswith(("SELECT", "INSERT")):
                continue
            print(f"\n-- {label}\n{sql}")
            try:
                with transaction.atomic():
                    with connection.cursor() as cur:
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                        print("\n".join(line for (line,) in cur.fetchall()))
                    raise Rollback
            except Rollback:
                pass

    records = selectors.dataset_records(user=steward, dataset=dataset)
    last = records.order_by("-id").values_list("id", flat=True).first()
    captured("record page 1 (dataset, id)", lambda: list(records[:50]))
    captured("record page at offset 500,000", lambda: list(records[500_000:500_050]))
    captured("record page after an id (keyset)", lambda: list(records.filter(id__gt=last - 500_000)[:50]))
    captured(
        "diff between two loads by (dataset, record_key)",
        lambda: processing.dataset_diff(user=steward, dataset=dataset, old_job=first_job, new_job=again),
    )
    captured("duplicates by (dataset, content_hash)", lambda: processing.duplicates(user=steward, dataset=dataset))
    captured("linking a load by key columns", lambda: processing.links_build(job_id=linked.pk))


def _submit(steward, dataset, handle):
    from django.core.files import File
    from django.db import transaction

    from apps.datapool import services

    with transaction.atomic():
        return services.ingestion_submit_file(actor=steward, dataset=dataset, upload=File(handle, name="changes.csv"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the platform path instead")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the app's record queries after the load")
    args = parser.parse_args()

    django.setup()
    ensure_database()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    from apps.datapool.models import Record
    from config.celery import app

    call_command("migrate", verbosity=0)
    app.conf.task_always_eager = False  # after-load tasks (linking) are queued, not run, in the timing
    app.conf.broker_url = "memory://"

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        tmp = Path(tmp)
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        path = tmp / "residents.csv"
        start = time.perf_counter()
        size = write_csv(path, args.rows)
        print(f"generated {args.rows:,} rows, {size / 1e6:.1f} MB in {time.perf_counter() - start:.1f}s")
        with override_settings(STORAGES=storages):
            steward, dataset = world()
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                platform_load(steward, dataset, path)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
                return
            submitted, ran, job = platform_load(steward, dataset, path)
        if job.status != "succeeded":
            raise SystemExit(f"load failed: {job.error_message()}")
        n = job.rows_accepted
        stored = Record.objects.filter(job=job).count()
        if stored != n:
            raise SystemExit(f"{stored} records stored, {n} accepted")
        platform = job.rows_read / ran
        rest = ran - sum(PHASES.values())
        for label, seconds in PHASES.items():
            print(f"  {label}: {seconds:.2f}s")
        print(f"  commit (deferred foreign-key checks, WAL flush) and the rest: {rest:.2f}s")
        print(f"  WAL written by the load: {PHASES_WAL['ingestion_run'] / 1e6:,.0f} MB")
        print(f"  CPU time of this (Python) process during ingestion_run: {PHASES_WAL['cpu']:.2f}s")
        print(
            f"platform: submit (hash + store) {submitted:.2f}s; ingestion_run {ran:.2f}s for {job.rows_read:,} rows"
            f" ({n:,} accepted, {job.rows_rejected:,} rejected) = {platform:,.0f} rows/s"
            f" (incl. submit: {job.rows_read / (ran + submitted):,.0f} rows/s)"
        )

        with connection.cursor() as cur:
            cur.execute(PLAIN_TABLE.format(name="bench_plain").replace("UNLOGGED ", ""))
        bare = raw_copy("COPY bench_plain FROM STDIN WITH (FORMAT csv, HEADER true)", path)
        bare_rate = args.rows / bare
        print(f"baseline A, bare COPY of the CSV into 12 typed columns: {bare:.2f}s = {bare_rate:,.0f} rows/s")

        # The platform's own COPY lines, dumped and re-loaded: what PostgreSQL alone needs.
        records = tmp / "records.copy"
        table = Record._meta.db_table
        columns = "dataset_id, job_id, line, payload, record_key, content_hash, near_hash, id_key, phone_key,"
        columns += " address_key, place_key, observed_at, region_id, tags, loaded_at"
        raw = connection.connection
        with open(records, "wb") as handle, raw.cursor() as cur:
            cur.copy_expert(f"COPY (SELECT {columns} FROM {table} WHERE job_id = {job.pk}) TO STDOUT", handle)  # noqa: S608
        print(f"  records as COPY text: {records.stat().st_size / 1e6:.1f} MB (the CSV: {size / 1e6:.1f} MB)")
        with connection.cursor() as cur:
            cur.execute(f"CREATE TABLE bench_records (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)")
            cur.execute(f"CREATE TABLE bench_records_indexed (LIKE {table} INCLUDING ALL)")
        shaped = raw_copy(f"COPY bench_records ({columns}) FROM STDIN", records)
        print(
            f"baseline B, bare COPY of the pre-formatted records (jsonb + key columns, no indexes): {shaped:.2f}s"
            f" = {n / shaped:,.0f} rows/s"
        )
        indexed = raw_copy(f"COPY bench_records_indexed ({columns}) FROM STDIN", records)
        print(
            f"baseline C, the same into a table with the records table's 9 indexes: {indexed:.2f}s"
            f" = {n / indexed:,.0f} rows/s"
        )
        related = {
            name: Record._meta.get_field(name).related_model._meta.db_table for name in ("dataset", "job", "region")
        }
        with connection.cursor() as cur:
            cur.execute(f"CREATE TABLE bench_records_fk (LIKE {table} INCLUDING ALL)")
            for name, target in related.items():
                cur.execute(
                    f"ALTER TABLE bench_records_fk ADD FOREIGN KEY ({name}_id) REFERENCES {target} (id)"
                    " DEFERRABLE INITIALLY DEFERRED"
                )
        keyed = raw_copy(f"COPY bench_records_fk ({columns}) FROM STDIN", records)
        print(
            f"baseline D, the same with the records table's 3 foreign keys (checked at commit, as Django"
            f" declares them): {keyed:.2f}s = {n / keyed:,.0f} rows/s"
        )
        wall, cpu = python_only(dataset, path)
        print(
            f"Python side alone (read, convert, validate, hash, format; no database): {wall:.2f}s"
            f" = {job.rows_read / wall:,.0f} rows/s ({cpu:.2f}s CPU = {job.rows_read / cpu:,.0f} rows/s)"
        )
        print(
            f"ratio platform / baseline A: {platform / bare_rate:.2f}x;"
            f" platform / baseline B: {platform / (n / shaped):.2f}x;"
            f" platform / baseline C: {platform / (n / indexed):.2f}x;"
            f" platform / baseline D: {platform / (n / keyed):.2f}x"
        )
        with connection.cursor() as cur:  # the copies are measured: leave the records table alone
            cur.execute("DROP TABLE bench_plain, bench_records, bench_records_indexed, bench_records_fk")
        if args.explain:
            with override_settings(STORAGES=storages):
                explain(steward, dataset, path, job)


if __name__ == "__main__":
    main()
