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

from django.db import transaction

from apps.core.permissions import Role
from apps.datapool import services
from apps.datapool.choices import Classification
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.datapool.models import DatasetUse, Record, RejectedRow, Tag
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


@world_object("pool_record")
def _pool_record(w):
    return Record.objects.filter(job=w.pool_job).order_by("id").first()


@world_object("pool_reject")
def _pool_reject(w):
    return RejectedRow.objects.filter(job=w.pool_job).order_by("line", "id").first()


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


@world_object("pool_sync_source")
def _pool_sync_source(w):
    """A database sync source of `pool_dataset` (needs `apps.datapool.sync`)."""
    from apps.datapool import sync

    return sync.sync_source_create(
        actor=w.pool_steward,
        dataset=w.pool_dataset,
        name="Pool-Sync-Source",
        url="sqlite:///pool-matrix-source.db",
        table="residents",
        columns={"id_number": "id_no", "name": "full_name"},
        cursor_column="updated_at",
        interval_minutes=60,
    )


__all__ = [
    "POOL_BAD_ROWS",
    "POOL_DATASET_TITLE",
    "POOL_GROUP_DATASET_TITLE",
    "POOL_MAPPING_NAME",
    "POOL_ROWS",
    "POOL_SECRET_TITLE",
    "load",
]
