"""Writes for the organisation: each service authorizes, locks, changes, records one ledger event."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import assign_perm

from apps.core.exceptions import Conflict, ServiceError
from apps.core.permissions import Role
from apps.core.scoping import authorize, ensure_in_scope, forget_principal
from apps.core.transitions import ensure_transition
from apps.ledger.services import audit_record, snapshot

from .choices import AGREEMENT_TRANSITIONS, AgreementStatus, LeadingGroupKind, LeadingGroupRole
from .models import (
    CollaborationAgreement,
    Department,
    DepartmentGroupObjectPermission,
    LeadingGroup,
    LeadingGroupSeat,
    Membership,
    Region,
    region_tree_errors,
)

REGION_FIELDS = ("code", "name", "level", "parent", "path")
DEPARTMENT_FIELDS = ("region", "name", "type", "contact_phone", "is_active")
DEPARTMENT_EDITABLE = ("name", "contact_phone")
AGREEMENT_FIELDS = (
    "title",
    "share_directory",
    "share_incidents",
    "share_tasks",
    "share_catalog",
    "valid_from",
    "valid_until",
    "status",
)
GRANTABLE_DEPARTMENT_PERMS = ("view_department",)


def _region_path(parent: Region | None, code: str) -> str:
    return f"{parent.path if parent else ''}{code}/"


@transaction.atomic
def region_create(*, actor, code: str, name: str, level: str, parent: Region | None = None) -> Region:
    """Add a region to the tree: province at the root, city under a province, county/district
    under a city, each code extending its parent's (`region_tree_errors`)."""
    authorize(actor, "add", Region)
    if Region.objects.filter(code=code).exists():
        raise Conflict(_("A region with this division code already exists."), field="code")
    errors = region_tree_errors(code=code, level=level, parent=parent)
    if errors:
        field, message = next(iter(errors.items()))
        raise ServiceError(message, field=field)
    region = Region(code=code, name=name, level=level, parent=parent, path=_region_path(parent, code))
    region.full_clean()
    region.save()
    audit_record(actor=actor, action="region.create", target=region, after=snapshot(region, REGION_FIELDS))
    return region


@transaction.atomic
def region_update(*, actor, region: Region, name: str) -> Region:
    authorize(actor, "change", Region)
    region = Region.objects.select_for_update().get(pk=region.pk)
    before = snapshot(region, REGION_FIELDS)
    region.name = name
    region.full_clean()
    region.save(update_fields=["name"])
    audit_record(
        actor=actor, action="region.update", target=region, before=before, after=snapshot(region, REGION_FIELDS)
    )
    return region


@transaction.atomic
def department_create(*, actor, region: Region, name: str, type: str, contact_phone: str = "") -> Department:
    """Create a department and its auth group (the group receives every cross-scope grant)."""
    authorize(actor, "add", Department)
    if Department.objects.filter(region=region, name=name).exists():
        raise Conflict(_("This region already has a department with that name."), field="name")
    group = Group.objects.create(name=f"dept:{region.code}:{name}"[:150])
    department = Department(region=region, name=name, type=type, contact_phone=contact_phone, group=group)
    department.full_clean(exclude=["group"])
    department.save()
    audit_record(
        actor=actor, action="department.create", target=department, after=snapshot(department, DEPARTMENT_FIELDS)
    )
    return department


@transaction.atomic
def department_update(*, actor, department: Department, data: dict) -> Department:
    """Heads edit their own department's name and duty phone; nothing else is writable here."""
    authorize(actor, "change", department)
    department = Department.objects.select_for_update().get(pk=department.pk)
    before = snapshot(department, DEPARTMENT_FIELDS)
    for name in DEPARTMENT_EDITABLE:
        if name in data:
            setattr(department, name, data[name])
    department.full_clean(exclude=["group"], validate_constraints=False)
    try:
        with transaction.atomic():  # a savepoint: a concurrent rename to the same name is a conflict, not a 500
            department.save(update_fields=list(DEPARTMENT_EDITABLE))
    except IntegrityError:
        raise Conflict(_("This region already has a department with that name."), field="name") from None
    after = snapshot(department, DEPARTMENT_FIELDS)
    if after == before:
        return department
    ensure_in_scope(actor, department, "view")
    audit_record(actor=actor, action="department.update", target=department, before=before, after=after)
    return department


@transaction.atomic
def membership_add(*, actor, department: Department, user, role: str) -> Membership:
    """Seat `user` in `department` with `role`, and put them in the department's group."""
    authorize(actor, "manage_members", department)
    if role not in Role.values:
        raise ServiceError(_("Unknown role."), field="role")
    if getattr(user, "is_service", False):
        raise ServiceError(_("Service accounts cannot be given a role."), field="user")
    membership, created = Membership.objects.get_or_create(user=user, department=department, role=role)
    if not created:
        raise Conflict(_("This user already holds this role in the department."))
    user.groups.add(department.group)
    forget_principal(user)
    audit_record(
        actor=actor,
        action="membership.add",
        target=membership,
        after={"user": user.pk, "department": department.pk, "role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor, membership: Membership) -> None:
    authorize(actor, "delete", membership)
    membership = Membership.objects.select_for_update().select_related("department", "user").get(pk=membership.pk)
    before = {"user": membership.user_id, "department": membership.department_id, "role": membership.role}
    user, department = membership.user, membership.department
    audit_record(actor=actor, action="membership.remove", target=membership, before=before)
    membership.delete()
    if not Membership.objects.filter(user=user, department=department).exists():
        user.groups.remove(department.group)
    forget_principal(user)


@transaction.atomic
def agreement_create(
    *, actor, title: str, parties: list[Region], valid_from, valid_until=None, **flags
) -> CollaborationAgreement:
    authorize(actor, "add", CollaborationAgreement)
    if len({p.pk for p in parties}) < 2:
        raise ServiceError(_("An agreement needs at least two parties."), field="parties")
    if valid_until is not None and valid_until <= valid_from:
        raise ServiceError(_("The end of validity must be after its start."), field="valid_until")
    unknown = set(flags) - set(CollaborationAgreement.SCOPE_FLAGS)
    if unknown:
        raise ServiceError(_("Unknown agreement scope."), field="scope")
    agreement = CollaborationAgreement.objects.create(
        title=title, valid_from=valid_from, valid_until=valid_until, **flags
    )
    agreement.parties.set(parties)
    audit_record(
        actor=actor,
        action="agreement.create",
        target=agreement,
        after={**snapshot(agreement, AGREEMENT_FIELDS), "parties": sorted(p.code for p in parties)},
    )
    return agreement


@transaction.atomic
def agreement_set_status(*, actor, agreement: CollaborationAgreement, status: str) -> CollaborationAgreement:
    authorize(actor, "change", CollaborationAgreement)
    agreement = CollaborationAgreement.objects.select_for_update().get(pk=agreement.pk)
    ensure_transition(agreement.status, status, AGREEMENT_TRANSITIONS, AgreementStatus)
    before = snapshot(agreement, AGREEMENT_FIELDS)
    agreement.status = status
    agreement.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="agreement.status",
        target=agreement,
        before=before,
        after=snapshot(agreement, AGREEMENT_FIELDS),
    )
    return agreement


def _leading_group_build(
    *,
    name: str,
    kind: str,
    regions: list[Region],
    information_office: Department,
    big_data_center: Department,
    members,
    convened_for=None,
) -> tuple[LeadingGroup, dict]:
    """Create the group and its seats; returns the group and what its ledger event records."""
    if kind not in LeadingGroupKind.values:
        raise ServiceError(_("Unknown kind of leading group."), field="kind")
    if information_office.pk == big_data_center.pk:
        raise ServiceError(_("The information office and the big-data center must be different departments."))
    group = LeadingGroup.objects.create(name=name, kind=kind, convened_for=convened_for)
    group.regions.set(regions)
    seats = [
        LeadingGroupSeat(group=group, department=information_office, role=LeadingGroupRole.INFORMATION_OFFICE),
        LeadingGroupSeat(group=group, department=big_data_center, role=LeadingGroupRole.BIG_DATA_CENTER),
    ]
    special = {information_office.pk, big_data_center.pk}
    seats += [
        LeadingGroupSeat(group=group, department=d) for d in {m.pk: m for m in members}.values() if d.pk not in special
    ]
    LeadingGroupSeat.objects.bulk_create(seats)
    after = {
        "name": name,
        "kind": kind,
        "regions": sorted(r.code for r in regions),
        "seats": sorted([s.department_id, s.role] for s in seats),
    }
    if convened_for is not None:
        after["convened_for"] = convened_for.pk
    return group, after


@transaction.atomic
def leading_group_create(
    *,
    actor,
    name: str,
    kind: str,
    regions: list[Region],
    information_office: Department,
    big_data_center: Department,
    members: list[Department] = (),
) -> LeadingGroup:
    """A leading group with no incident: standing, or convened ahead of any registered incident
    (`leading_group_convene` convenes one for an incident)."""
    authorize(actor, "add", LeadingGroup)
    group, after = _leading_group_build(
        name=name,
        kind=kind,
        regions=regions,
        information_office=information_office,
        big_data_center=big_data_center,
        members=members,
    )
    audit_record(
        actor=actor,
        action="leading_group.create",
        target=group,
        region=regions[0] if regions else None,
        after=after,
    )
    return group


@transaction.atomic
def leading_group_convene(
    *,
    actor,
    incident,
    name: str,
    information_office: Department,
    big_data_center: Department,
    members: list[Department] = (),
    regions: list[Region] | None = None,
) -> LeadingGroup:
    """Convene a leading group for an open incident (临时领导小组) and put the incident in its charge.

    Authorized like `leading_group_create` (platform administrators). The group covers the
    incident's affected regions unless `regions` is given. It records `leading_group.convene`;
    the hand-over of the charge is the incidents service's own write, with its own ledger event,
    timeline entry and notices to the group's departments.
    """
    from apps.incidents.models import Incident
    from apps.incidents.services import incident_assign_leading_group

    authorize(actor, "add", LeadingGroup)
    authorize(actor, "view", incident)
    incident = Incident.objects.select_for_update().select_related("region").get(pk=incident.pk)
    if not incident.is_open:
        raise ServiceError(_("A leading group cannot be convened for a closed incident."), field="incident")
    regions = list(regions) if regions is not None else list(incident.regions.all())
    if not regions:
        raise ServiceError(_("A leading group needs at least one region."), field="regions")
    group, after = _leading_group_build(
        name=name,
        kind=LeadingGroupKind.CONVENED,
        regions=regions,
        information_office=information_office,
        big_data_center=big_data_center,
        members=members,
        convened_for=incident,
    )
    audit_record(actor=actor, action="leading_group.convene", target=group, region=incident.region, after=after)
    incident_assign_leading_group(actor=actor, incident=incident, group=group)
    return group


@transaction.atomic
def leading_group_seat_add(*, actor, group: LeadingGroup, department: Department) -> LeadingGroupSeat:
    """The information office's head (or an administrator) adds a member department."""
    authorize(actor, "change", group)
    group = LeadingGroup.objects.select_for_update().get(pk=group.pk)
    seat, created = LeadingGroupSeat.objects.get_or_create(group=group, department=department)
    if not created:
        raise Conflict(_("The department is already a member of this group."))
    audit_record(
        actor=actor,
        action="leading_group.seat_add",
        target=group,
        region=department.region,
        after={"department": department.pk, "role": seat.role},
    )
    return seat


@transaction.atomic
def leading_group_seat_remove(*, actor, seat: LeadingGroupSeat) -> None:
    authorize(actor, "change", seat.group)
    seat = LeadingGroupSeat.objects.select_for_update().select_related("group", "department__region").get(pk=seat.pk)
    if seat.role != LeadingGroupRole.MEMBER:
        raise ServiceError(_("The information office and the big-data center cannot be removed, only replaced."))
    audit_record(
        actor=actor,
        action="leading_group.seat_remove",
        target=seat.group,
        region=seat.department.region,
        before={"department": seat.department_id, "role": seat.role},
    )
    seat.delete()


@transaction.atomic
def department_grant(*, actor, department: Department, grantee: Department, perm: str = "view_department"):
    """An explicit cross-scope grant: `grantee`'s group may `perm` on `department` (guardian, direct FK)."""
    authorize(actor, "grant", department)
    if perm not in GRANTABLE_DEPARTMENT_PERMS:
        raise ServiceError(_("This permission cannot be granted."), field="perm")
    if grantee.pk == department.pk:
        raise ServiceError(_("A department does not need a grant on itself."), field="grantee")
    if DepartmentGroupObjectPermission.objects.filter(
        content_object=department, group=grantee.group, permission__codename=perm
    ).exists():
        raise Conflict(_("This grant already exists."))
    row = assign_perm(f"organizations.{perm}", grantee.group, department)
    audit_record(
        actor=actor,
        action="department.grant",
        target=department,
        after={"grantee": grantee.pk, "perm": perm, "grant_id": row.pk},
    )
    return row


@transaction.atomic
def department_grant_revoke(
    *, actor, department: Department, grantee: Department, perm: str = "view_department"
) -> None:
    authorize(actor, "grant", department)
    deleted = DepartmentGroupObjectPermission.objects.filter(
        content_object=department, group=grantee.group, permission__codename=perm
    ).delete()[0]
    if not deleted:
        raise ServiceError(_("There is no such grant to revoke."), code="not_found")
    audit_record(
        actor=actor,
        action="department.grant_revoke",
        target=department,
        before={"grantee": grantee.pk, "perm": perm},
    )
