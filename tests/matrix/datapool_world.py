"""World objects for the data-pool routes, shared by the API and portal matrix modules.

The target dataset (`pool_dataset`, internal) and a secret one (`pool_secret_dataset`) belong to
the target department (city A1), registered by its steward `pool_steward` (not a state's seat).
Metadata of the internal dataset is discoverable by every seated state; the secret one only by
the target department (no state sits in an information office). Records, jobs, rejects,
mappings and usage belong to the target department only.

`pool_group_dataset` is the pool of `pool_group`, a leading group over province A whose members
include the target department (so its stewards may share into it); it is owned by
`pool_office`, the group's information office, where no state sits.

Keep these names stable: the API and the portal matrices both use them.
"""

import atexit
import contextlib
import uuid

from django.db import transaction

from apps.core.permissions import Role
from apps.datapool import services
from apps.datapool.choices import Classification
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.datapool.models import DatasetUse, QualityCheck, Record, RejectedRow, Tag
from apps.organizations import services as org_services
from apps.organizations.choices import LeadingGroupKind
from tests import factories as f
from tests.matrix.harness import world_object

POOL_DATASET_TITLE = "Pool-Target-Dataset"
POOL_SECRET_TITLE = "Pool-Secret-Dataset"
POOL_GROUP_DATASET_TITLE = "Pool-Group-Dataset"
POOL_MAPPING_NAME = "Pool-Mapping"
POOL_ROWS = 4  # good rows of `pool_job`
POOL_BAD_ROWS = 2  # rejected rows of `pool_job`


@world_object("pool_standard")
def _pool_standard(w):
    """The demo's resident standard (with its quality and tagging rules and the tag vocabulary)."""
    return standards_ensure()["resident"]


@world_object("pool_tag")
def _pool_tag(w):
    assert w.pool_standard  # the vocabulary comes with the demo standards
    return Tag.objects.get(code="vulnerable")


@world_object("pool_steward")
def _pool_steward(w):
    """A steward of the target department who builds the targets (not a state's seat)."""
    return f.member(w.department, Role.STEWARD, display_name="Pool-Steward")


@world_object("pool_dataset")
def _pool_dataset(w):
    dataset = services.dataset_create(
        actor=w.pool_steward,
        owner=w.department,
        standard=w.pool_standard,
        title=POOL_DATASET_TITLE,
        description="Pool-Target-Description",
        classification=Classification.INTERNAL,
        tags=[w.pool_tag],
    )
    return dataset


@world_object("pool_secret_dataset")
def _pool_secret_dataset(w):
    return services.dataset_create(
        actor=w.pool_steward,
        owner=w.department,
        standard=w.pool_standard,
        title=POOL_SECRET_TITLE,
        classification=Classification.SECRET,
    )


def load(actor, dataset, data: bytes, name: str = "pool.csv", **kwargs):
    """Submit `data` through the upload channel and run the load in-process; returns the job."""
    with transaction.atomic():
        job = services.ingestion_submit_file(
            actor=actor, dataset=dataset, upload=services.spool_upload(data, name), **kwargs
        )
    job = services.ingestion_run(job.pk)
    job.refresh_from_db()
    return job


@world_object("pool_job")
def _pool_job(w):
    """A finished upload into `pool_dataset`: POOL_ROWS records loaded, POOL_BAD_ROWS rejected."""
    job = load(w.pool_steward, w.pool_dataset, csv_bytes(resident_rows(POOL_ROWS, bad=POOL_BAD_ROWS), "gb18030"))
    assert job.status == "succeeded", job.error_message()
    return job


@world_object("pool_second_job")
def _pool_second_job(w):
    """A second finished upload into `pool_dataset` (other rows): the `new` side of a diff."""
    job = load(w.pool_steward, w.pool_dataset, csv_bytes(resident_rows(POOL_ROWS + 1, seed=11)), name="pool-2.csv")
    assert job.status == "succeeded", job.error_message()
    return job


@world_object("pool_duplicate_hash")
def _pool_duplicate_hash(w):
    """A load into `pool_dataset` holding one row twice; the content hash of that exact-duplicate group."""
    rows = resident_rows(2, seed=31)
    job = load(w.pool_steward, w.pool_dataset, csv_bytes([*rows, rows[1]]), name="pool-duplicates.csv")
    assert job.status == "succeeded", job.error_message()
    return Record.objects.filter(job=job).order_by("id").values_list("content_hash", flat=True).first()


@world_object("pool_duplicate_group")
def _pool_duplicate_group(w):
    """The name the duplicates list gives that group: its kind and its first record."""
    first = Record.objects.filter(dataset=w.pool_dataset, content_hash=w.pool_duplicate_hash).order_by("id").first()
    return f"exact-{first.pk}"


@world_object("pool_record")
def _pool_record(w):
    return Record.objects.filter(job=w.pool_job).order_by("id").first()


@world_object("pool_reject")
def _pool_reject(w):
    return RejectedRow.objects.filter(job=w.pool_job).order_by("line", "id").first()


@world_object("pool_quality_check")
def _pool_quality_check(w):
    """The dataset-level quality score measured by `pool_job` (the quality history's row)."""
    assert w.pool_job
    return QualityCheck.objects.filter(dataset=w.pool_dataset, job__isnull=True).latest("measured_at", "id")


@world_object("pool_mapping")
def _pool_mapping(w):
    return services.mapping_save(
        actor=w.pool_steward,
        dataset=w.pool_dataset,
        name=POOL_MAPPING_NAME,
        columns={"id_number": "身份证号", "name": "姓名"},
    )


@world_object("pool_use")
def _pool_use(w):
    """One day of reads of `pool_dataset` by its owner (the asset register and usage rows)."""
    services.dataset_use(dataset=w.pool_dataset, department=w.department, rows=7)
    return DatasetUse.objects.get(dataset=w.pool_dataset, department=w.department)


@world_object("pool_office")
def _pool_office(w):
    return f.department(region=w.region, name="Pool-Office-Department")


@world_object("pool_group")
def _pool_group(w):
    return org_services.leading_group_create(
        actor=w.admin,
        name="Pool-Flood-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[w.province_a],
        information_office=w.pool_office,
        big_data_center=w.third_party,
        members=[w.department],
    )


@world_object("pool_office_steward")
def _pool_office_steward(w):
    assert w.pool_group  # seated after the group exists, so the seat's principal knows the office
    return f.member(w.pool_office, Role.STEWARD, display_name="Pool-Office-Steward")


@world_object("pool_group_dataset")
def _pool_group_dataset(w):
    """The leading group's pool, owned by its information office: the target department contributes."""
    return services.dataset_create(
        actor=w.pool_office_steward,
        owner=w.pool_office,
        standard=w.pool_standard,
        title=POOL_GROUP_DATASET_TITLE,
        leading_group=w.pool_group,
    )


class _SourceDatabase:
    """A scratch PostgreSQL database with a `residents` table that sync sources point at (SQLite is
    refused as a source). One per test process, created on first use, dropped when it exits."""

    def __init__(self):
        from django.db import connection

        settings = connection.settings_dict
        self.params = {
            "host": settings["HOST"] or "127.0.0.1",
            "port": settings["PORT"] or 5432,
            "user": settings["USER"],
            "password": settings["PASSWORD"] or None,
        }
        self.name = f"dp_matrix_src_{uuid.uuid4().hex[:12]}"
        password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
        self.url = (
            f"postgresql://{self.params['user']}{password}@{self.params['host']}:{self.params['port']}/{self.name}"
        )
        with contextlib.closing(self._connect("postgres")) as admin, admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.name}"')
        with contextlib.closing(self._connect(self.name)) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE residents (id serial PRIMARY KEY, sfz text, xm text, nl integer, updated_at timestamp)"
            )
        atexit.register(self.drop)

    def _connect(self, dbname: str):
        import psycopg2

        conn = psycopg2.connect(dbname=dbname, **self.params)
        conn.autocommit = True
        return conn

    def drop(self) -> None:
        with (
            contextlib.suppress(Exception),
            contextlib.closing(self._connect("postgres")) as admin,
            admin.cursor() as cur,
        ):
            cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


_source_database: _SourceDatabase | None = None
SOURCE_TABLE = "residents"
SOURCE_COLUMNS = {"id_number": "sfz", "name": "xm", "age": "nl"}


def source_url() -> str:
    """The URL of this process's scratch source database (created on first use)."""
    global _source_database
    if _source_database is None:
        _source_database = _SourceDatabase()
    return _source_database.url


@world_object("pool_sync_source")
def _pool_sync_source(w):
    """A database sync source of `pool_dataset`, pointing at the scratch source database."""
    from apps.datapool import sync

    return sync.sync_source_create(
        actor=w.pool_steward,
        dataset=w.pool_dataset,
        name="Pool-Sync-Source",
        url=source_url(),
        table=SOURCE_TABLE,
        columns=SOURCE_COLUMNS,
        cursor_column="id",
        interval_minutes=60,
    )


__all__ = [
    "POOL_BAD_ROWS",
    "POOL_DATASET_TITLE",
    "POOL_GROUP_DATASET_TITLE",
    "POOL_MAPPING_NAME",
    "POOL_ROWS",
    "POOL_SECRET_TITLE",
    "SOURCE_COLUMNS",
    "SOURCE_TABLE",
    "load",
    "source_url",
]
