"""Shared set-up for data-pool tests: standards from the demo, a dataset with its owner's staff,
and a helper that loads bytes through the real upload channel and runs the job in-process."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from apps.core.permissions import Role
from apps.datapool import services
from apps.datapool.choices import Classification
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.organizations.choices import DepartmentType
from tests.factories import department, member, region


@dataclass
class PoolWorld:
    province: object
    city: object
    owner: object  # public security: owns the resident dataset
    other: object  # health, same city: no access to records
    steward: object
    head: object
    staff: object
    outsider: object  # a steward of `other`
    standard: object
    dataset: object


def pool_world(classification=Classification.SENSITIVE) -> PoolWorld:
    standards = standards_ensure()
    province = region()
    city = region(parent=province)
    owner = department(region=city, type=DepartmentType.PUBLIC_SECURITY)
    other = department(region=city, type=DepartmentType.HEALTH)
    steward = member(owner, Role.STEWARD)
    head = member(owner, Role.HEAD)
    staff = member(owner, Role.STAFF)
    outsider = member(other, Role.STEWARD)
    dataset = services.dataset_create(
        actor=steward,
        owner=owner,
        standard=standards["resident"],
        title="常住人口",
        classification=classification,
    )
    return PoolWorld(province, city, owner, other, steward, head, staff, outsider, standards["resident"], dataset)


def load_bytes(actor, dataset, data: bytes, name: str = "data.csv", **kwargs):
    """Submit `data` through the upload channel and run the load in-process; returns the job."""
    with transaction.atomic():
        job = services.ingestion_submit_file(
            actor=actor, dataset=dataset, upload=services.spool_upload(data, name), **kwargs
        )
    job = services.ingestion_run(job.pk)
    job.refresh_from_db()
    return job


__all__ = ["PoolWorld", "csv_bytes", "load_bytes", "pool_world", "resident_rows"]
