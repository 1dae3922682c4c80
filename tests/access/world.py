"""A world for data-access tests: a resident dataset owned by public security, a health
department that asks for it, a leading group whose information office co-approves."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from apps.core.permissions import Role
from apps.incidents import services as incidents
from apps.organizations import services as orgs
from apps.organizations.choices import DepartmentType, LeadingGroupKind
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows
from tests.factories import admin_user, department, member


@dataclass
class AccessWorld:
    pool: object
    health: object
    health_steward: object
    health_head: object
    office: object
    office_head: object
    office_head2: object
    group: object
    stranger: object  # a steward of a department in another province


def access_world(rows: int = 30) -> AccessWorld:
    w = pool_world()
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(rows, place="320106")))
    health = w.other
    office = department(region=w.province, type=DepartmentType.EMERGENCY)
    center = department(region=w.province, type=DepartmentType.BIG_DATA_COMPANY)
    group = orgs.leading_group_create(
        actor=admin_user(),
        name=f"领导小组{office.pk}",
        kind=LeadingGroupKind.STANDING,
        regions=[w.province],
        information_office=office,
        big_data_center=center,
        members=[w.owner, health],
    )
    from tests.factories import region

    far = department(region=region(), type=DepartmentType.HEALTH)
    return AccessWorld(
        pool=w,
        health=health,
        health_steward=w.outsider,
        health_head=member(health, Role.HEAD),
        office=office,
        office_head=member(office, Role.HEAD),
        office_head2=member(office, Role.HEAD),
        group=group,
        stranger=member(far, Role.STEWARD),
    )


def incident(world: AccessWorld, severity: int = 2, verified: bool = True):
    inc = incidents.incident_report(
        actor=admin_user(),
        department=world.pool.owner,
        title="江堤管涌",
        category="natural_disaster",
        subtype="flood",
        severity=severity,
        place="鼓楼区",
        first_seen_at=timezone.now(),
    )
    if verified:
        inc = incidents.incident_verify(actor=admin_user(), incident=inc)
    return inc
