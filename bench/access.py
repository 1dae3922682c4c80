"""Data-access benchmark: the first page of a granted dataset read through the API, against the
same page from a hand-written SQL query (same filter, same masks), at 10,000 and at 1,000,000
records, with 500 departments and 10,000 grants.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/access_bench .venv/bin/python bench/access.py

Drops and re-creates the given database (its name must end in 'bench'), migrates it and seeds it:
500 departments (factories, through the services), one dataset each, 10,000 grants (bulk_create,
with their guardian rows; a fifth of them expired, without the permission, as the sweep leaves
them) and the records. Records are COPied straight into `datapool_record` (the ingestion path is
bypassed for seeding; `bench/ingest.py` measures that path): 10% of them in the granted dataset,
the rest spread over the other 499, interleaved in id order as loads over time leave them.

The reader is a staff member of a department holding 20 grants (one of them on the dataset read,
with a row filter and two masked fields). Each API request is a fresh in-process request
(`APIClient`, session authentication): the principal is loaded, the dataset found in the catalog,
the grant checked, the page read through `selectors.grant_records`, masked, and one `data.read`
ledger event and the usage row written and committed. The SQL baseline is one query that filters,
masks (in SQL) and pages; API requests and SQL queries alternate. Each size is measured twice:
with the platform's session settings (parallel query off, `max_parallel_workers_per_gather = 0`,
decision 0015), and with PostgreSQL's default of 2 parallel workers, because at 1,000,000 records
the planner then starts two parallel workers for the page query, which costs more than the query.

`--requests` (default 300) sets the number of timed requests per case, after 20 warm-ups;
`--explain` prints both plans; `--profile` prints a cProfile of 100 API requests at the largest size;
`--restrict-path` reads the page as `Record.objects.restrict(user)` plus the grant's filter (the
read path before `grant_records` checked the grant with one EXISTS), for comparison.
"""

import argparse
import csv
import hashlib
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/access_bench")

import django  # noqa: E402

from bench.common import ensure_database, percentile  # noqa: E402

DEPARTMENTS = 500
GRANTS = 10_000
READER_GRANTS = 20
SIZES = (10_000, 1_000_000)
TARGET_SHARE = 10  # one record in TARGET_SHARE belongs to the granted dataset
PAGE = 100
CLEAR = ["name", "age", "gender", "category"]
MASKED = ["id_number", "phone"]
ROW_FILTER = [
    {"field": "category", "op": "in", "value": ["常住", "重点关爱"]},
    {"field": "age", "op": "gte", "value": 18},
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
CATEGORIES = ["常住", "常住", "流动", "重点关爱"]
COPY_COLUMNS = (
    "dataset_id, job_id, line, payload, record_key, content_hash, near_hash, id_key, phone_key, "
    "address_key, place_key, observed_at, tags, loaded_at"
)

# The same page by hand: the grant's filter as Django writes it for JSONB keys, the masks of
# apps/access/masking.py (ID number: first and last character; phone: first 3 and last 4 digits).
HAND_SQL = """
SELECT id, jsonb_build_object(
    'id_number', left(payload->>'id_number', 1) || repeat('*', length(payload->>'id_number') - 2)
                 || right(payload->>'id_number', 1),
    'name', payload->'name',
    'phone', left(payload->>'phone', 3) || '****' || right(payload->>'phone', 4),
    'age', payload->'age',
    'gender', payload->'gender',
    'category', payload->'category'
)
FROM datapool_record
WHERE dataset_id = %s
  AND (payload -> 'category') IN ('"常住"'::jsonb, '"重点关爱"'::jsonb)
  AND (payload -> 'age') >= '18'::jsonb
ORDER BY id
LIMIT %s
"""


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


# --- seeding ----------------------------------------------------------------------------------


def seed_world(rng: random.Random):
    """500 departments (through the services), a dataset and a job each, 10,000 grants."""
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from apps.access.models import DataGrant
    from apps.core.permissions import Role
    from apps.datapool.choices import Channel, Classification, JobStatus
    from apps.datapool.demo import standards_ensure
    from apps.datapool.models import Dataset, DatasetGroupObjectPermission, IngestionJob
    from tests import factories as f

    admin = f.admin_user()
    standard = standards_ensure()["resident"]
    province = f.region(name="江苏省")
    cities = [f.region(parent=province, name=f"城市{i:02d}") for i in range(10)]
    started = time.perf_counter()
    departments = [f.department(region=cities[i % len(cities)], name=f"部门{i:03d}") for i in range(DEPARTMENTS)]
    print(f"seed: {DEPARTMENTS} departments through the services in {time.perf_counter() - started:.1f} s")
    owner, reader_department = departments[0], departments[1]
    reader = f.member(reader_department, Role.STAFF)
    now = timezone.now()
    datasets = Dataset.objects.bulk_create(
        Dataset(
            owner=d,
            standard=standard,
            title=f"常住人口{i:03d}",
            classification=Classification.INTERNAL,
            created_by=admin,
            created_at=now,
        )
        for i, d in enumerate(departments)
    )
    jobs = IngestionJob.objects.bulk_create(
        IngestionJob(
            dataset=ds,
            channel=Channel.UPLOAD,
            status=JobStatus.SUCCEEDED,
            department=ds.owner,
            created_by=admin,
            source_name="bench (COPY)",
        )
        for ds in datasets
    )
    target = datasets[0]  # owned by departments[0]

    # 10,000 (department, dataset) pairs, never a department's own dataset; the reader holds 20,
    # one of them on the target with the filter and the masks.
    pairs = {(reader_department.pk, target.pk)}
    others = [ds for ds in datasets[1:] if ds.owner_id != reader_department.pk]
    for ds in rng.sample(others, READER_GRANTS - 1):
        pairs.add((reader_department.pk, ds.pk))
    owners = {ds.pk: ds.owner_id for ds in datasets}
    while len(pairs) < GRANTS:
        d, ds = rng.choice(departments), rng.choice(datasets)
        if owners[ds.pk] != d.pk and d.pk != reader_department.pk:
            pairs.add((d.pk, ds.pk))
    pairs = sorted(pairs)
    grants, expired = [], 0
    for department_id, dataset_id in pairs:
        mine = (department_id, dataset_id) == (reader_department.pk, target.pk)
        ended = not mine and department_id != reader_department.pk and rng.random() < 0.2
        expired += ended
        start = now - timedelta(days=30 if ended else 1)
        grants.append(
            DataGrant(
                department_id=department_id,
                dataset_id=dataset_id,
                fields=CLEAR if mine else rng.sample(standard.field_names, 4),
                masked_fields=MASKED if mine else ["id_number"],
                row_filter=ROW_FILTER
                if mine
                else [{"field": "age", "op": "gte", "value": rng.randrange(1, 80)}]
                if rng.random() < 0.5
                else [],
                purpose="防汛转移核查",
                valid_from=start,
                valid_until=start + timedelta(days=7 if ended else 30),
                permission_removed_at=now if ended else None,
                approved_by=[{"stage": "owner", "user": admin.pk, "name": "bench", "at": start.isoformat()}],
                created_by=admin,
                created_at=start,
            )
        )
    DataGrant.objects.bulk_create(grants, batch_size=2000)
    perm = Permission.objects.get(codename="read_dataset", content_type__app_label="datapool")
    groups = {d.pk: d.group_id for d in departments}
    DatasetGroupObjectPermission.objects.bulk_create(
        (
            DatasetGroupObjectPermission(
                group_id=groups[g.department_id], permission=perm, content_object_id=g.dataset_id
            )
            for g in grants
            if g.permission_removed_at is None
        ),
        batch_size=2000,
    )
    print(
        f"seed: {len(datasets)} datasets, {len(grants)} grants ({len(grants) - expired} valid, {expired} expired),"
        f" reader holds {READER_GRANTS}"
    )
    return {"owner": owner, "reader": reader, "target": target, "datasets": datasets, "jobs": jobs}


def copy_records(world, start: int, count: int, rng: random.Random) -> None:
    """COPY `count` records straight into datapool_record (ingestion bypassed for seeding)."""
    from django.db import connection

    datasets, jobs = world["datasets"], world["jobs"]
    others = len(datasets) - 1
    base = datetime(2026, 11, 1, 8, 0)
    loaded = datetime.now().astimezone().isoformat()
    chunk = 50_000
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for offset in range(start, start + count, chunk):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for i in range(offset, min(offset + chunk, start + count)):
                k = 0 if i % TARGET_SHARE == 0 else 1 + i % others
                id_number = f"320106{1940 + i % 80}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}{i % 10}"
                phone = f"13{rng.randrange(10)}{rng.randrange(10**8):08d}"
                observed = base + timedelta(minutes=i)
                payload = {
                    "id_number": id_number,
                    "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "phone": phone,
                    "address": f"南京市鼓楼区中山北路{rng.randrange(1, 400)}号{rng.randrange(1, 30)}栋",
                    "place_code": "320106",
                    "age": rng.randrange(1, 99),
                    "gender": rng.choice("男女"),
                    "category": rng.choice(CATEGORIES),
                    "observed_at": observed.isoformat(),
                }
                text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
                digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
                writer.writerow(
                    [
                        datasets[k].pk,
                        jobs[k].pk,
                        i + 1,
                        text,
                        hashlib.md5(id_number.encode(), usedforsecurity=False).hexdigest(),
                        digest,
                        digest,
                        id_number,
                        phone,
                        payload["address"],
                        "320106",
                        observed.isoformat() + "+08:00",
                        "[]",
                        loaded,
                    ]
                )
            buffer.seek(0)
            raw.copy_expert(f"COPY datapool_record ({COPY_COLUMNS}) FROM STDIN WITH (FORMAT csv)", buffer)
        cursor.execute("ANALYZE datapool_record")
    total = start + count
    print(f"seed: COPY of {count:,} records (now {total:,}) in {time.perf_counter() - started:.1f} s, then ANALYZE")


# --- measuring --------------------------------------------------------------------------------


def timings(world, n: int):
    """`n` API requests and `n` hand-written queries, interleaved one by one (so a change in the
    machine's load during the run weighs on both alike), after 20 warm-ups of each."""
    from django.db import connection
    from django.urls import reverse
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(world["reader"])
    url = reverse("api:dataset-granted-records", args=[world["target"].pk])
    api, sql, counter, rows = [], [], QueryCounter(), None
    with connection.cursor() as cursor:
        for i in range(20 + n):
            measured = i >= 20
            start = time.perf_counter()
            if measured:
                with connection.execute_wrapper(counter):
                    response = client.get(url)
            else:
                response = client.get(url)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise SystemExit(f"the API answered {response.status_code}: {response.content[:300]!r}")
            if measured:
                api.append(elapsed)
            start = time.perf_counter()
            cursor.execute(HAND_SQL, [world["target"].pk, PAGE])
            rows = cursor.fetchall()
            if measured:
                sql.append((time.perf_counter() - start) * 1000)
    body = response.json()
    if len(body["results"]) != PAGE:
        raise SystemExit(f"unexpected page: {str(body)[:300]}")
    return api, counter.count / n, body, sql, rows


def same_page(api_body, sql_rows) -> bool:
    shown = [(r["id"], r["payload"]) for r in api_body["results"]]
    by_hand = [(pk, payload if isinstance(payload, dict) else json.loads(payload)) for pk, payload in sql_rows]
    return shown == by_hand


def explain(world) -> str:
    """EXPLAIN ANALYZE of the page query exactly as the API builds it."""
    from django.db import connection

    from apps.access import selectors

    user = world["reader"]
    dataset = world["target"]
    grant = selectors.grant_for_reading(user=user, dataset=dataset)
    queryset = selectors.grant_records(user=user, dataset=dataset, grant=grant).only("id", "payload")[: PAGE + 1]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        api = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + HAND_SQL, [dataset.pk, PAGE])
        hand = "\n".join(row[0] for row in cursor.fetchall())
    return f"-- the API's page query:\n{api}\n-- the hand-written query:\n{hand}"


def report(size: int, world, requests: int, label: str) -> float:
    from django.contrib.auth import get_user_model

    world["reader"] = get_user_model().objects.get(pk=world["reader"].pk)  # no cached principal
    api, queries, body, sql, rows = timings(world, requests)
    if not same_page(body, rows):
        raise SystemExit("the hand-written page differs from the API's")
    api50, api99 = statistics.median(api), percentile(api, 0.99)
    sql50, sql99 = statistics.median(sql), percentile(sql, 0.99)
    print(
        f"{size:>9,} records, {label}: API first page ({PAGE} rows) p50 {api50:.2f} ms, p99 {api99:.2f} ms, "
        f"{queries:.0f} queries/request | hand SQL p50 {sql50:.2f} ms, p99 {sql99:.2f} ms | "
        f"ratio p50 {api50 / sql50:.1f}x, p99 {api99 / sql99:.1f}x  ({requests} requests each)"
    )
    return api50


def profile(world) -> None:
    import cProfile
    import pstats

    from django.urls import reverse
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(world["reader"])
    url = reverse("api:dataset-granted-records", args=[world["target"].pk])
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(100):
        client.get(url)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(40)


def use_restrict_path() -> None:
    """Read pages as the permission path alone builds them: every valid grant of the reader's
    departments OR-ed into the records query (`granted_records_q`), then the grant's filter."""
    from apps.access import selectors
    from apps.access.rowfilter import to_q
    from apps.datapool.models import Record

    def grant_records(*, user, dataset, grant):
        records = Record.objects.restrict(user, "view").filter(dataset=dataset)
        if grant is not None:
            records = records.filter(to_q(grant.row_filter))
        return records.order_by("id")

    selectors.grant_records = grant_records
    print("mode: pages read through Record.objects.restrict(user) + the grant's filter")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the API's page query")
    parser.add_argument("--restrict-path", action="store_true", help="read pages through restrict() + filter")
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in SIZES), help="record counts to measure at (ascending)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    django.setup()
    ensure_database()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # APIClient's host, as under the test runner

    call_command("migrate", verbosity=0)
    from config.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"

    if args.restrict_path:
        use_restrict_path()
    rng = random.Random(20261124)  # noqa: S311 - repeatable bench data, not secrets
    world = seed_world(rng)
    print(
        "note: records are COPied straight into datapool_record for seeding (the ingestion path is bypassed;"
        " bench/ingest.py measures it); grants are bulk-created with their guardian rows"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(f"machine: {os.cpu_count()} cores, PostgreSQL {version}, Python {sys.version.split()[0]}")
    first: dict[tuple[str, int], float] = {}
    loaded = 0
    modes = [
        ("platform settings (parallel query off)", "RESET max_parallel_workers_per_gather"),
        ("PostgreSQL default (2 parallel workers)", "SET max_parallel_workers_per_gather = 2"),
    ]
    for size in sizes:
        copy_records(world, loaded, size - loaded, rng)
        loaded = size
        for label, setting in modes:
            with connection.cursor() as cursor:
                cursor.execute(setting)
            first[label, size] = report(size, world, args.requests, label)
            if args.explain:
                print(explain(world))
        with connection.cursor() as cursor:
            cursor.execute("RESET max_parallel_workers_per_gather")
    small, large = sizes[0], sizes[-1]
    for label, _setting in modes:
        big, little = first[label, large], first[label, small]
        print(
            f"{label}: API first page p50 at {large:,} records vs at {small:,}: "
            f"{big:.2f} / {little:.2f} ms = {big / little:.2f}x"
        )
    if args.profile:
        profile(world)


if __name__ == "__main__":
    main()
