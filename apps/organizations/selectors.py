"""Reads for organisation objects. Lists start from `restrict`; nothing filters scope by hand."""

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.core.scoping import Principal, Seat

from .choices import AgreementStatus, LeadingGroupRole
from .models import CollaborationAgreement, Department, LeadingGroup, LeadingGroupSeat, Membership, Region


def principal_load(*, user) -> Principal:
    """Load what the permission rules need about `user`: three queries, cached per user object."""
    principal = Principal(user_id=user.pk, is_superuser=user.is_superuser)
    rows = Membership.objects.filter(user_id=user.pk, department__is_active=True).values_list(
        "department_id", "department__region_id", "department__region__path", "role", "department__type"
    )
    principal.seats = [Seat(d, r, p, role, t) for d, r, p, role, t in rows]
    if not principal.seats:
        return principal
    my_departments = principal.department_ids()
    for group_id, dept_id, role in LeadingGroupSeat.objects.filter(
        department_id__in=my_departments, group__is_active=True
    ).values_list("group_id", "department_id", "role"):
        principal.leading_groups.setdefault(group_id, set()).add(dept_id)
        if role == LeadingGroupRole.INFORMATION_OFFICE:
            principal.office_groups.setdefault(group_id, set()).add(dept_id)
    if principal.office_groups:
        principal.office_region_paths = set(
            Region.objects.filter(leading_groups__in=principal.office_groups).values_list("path", flat=True)
        )

    my_paths = principal.region_paths()
    ancestor_codes = {code for p in my_paths for code in p.split("/") if code}
    now = timezone.now()
    flags = CollaborationAgreement.SCOPE_FLAGS
    agreements = (
        CollaborationAgreement.objects.filter(
            status=AgreementStatus.ACTIVE, valid_from__lte=now, parties__code__in=ancestor_codes
        )
        .exclude(valid_until__lt=now)
        .distinct()
        .prefetch_related(Prefetch("parties", queryset=Region.objects.only("path")))
    )
    for agreement in agreements:
        for party in agreement.parties.all():
            if any(p.startswith(party.path) for p in my_paths):
                continue  # my own side of the agreement opens nothing new
            for flag in flags:
                if getattr(agreement, flag):
                    principal.agreement_paths.setdefault(flag, set()).add(party.path)
    return principal


def user_heads_a_department(*, user) -> bool:
    """Whether `user` is a department head somewhere (administrators: always), so navigation offers
    the head-only pages. Reads the caller's own seats only (no query: the principal is cached)."""
    from apps.core.permissions import Role
    from apps.core.scoping import principal_for

    principal = principal_for(user)
    return bool(principal and (principal.is_superuser or principal.seats_for({Role.HEAD})))


def region_list(*, user, filters=None) -> QuerySet[Region]:
    return Region.objects.restrict(user, "view").select_related("parent")


def department_list(*, user) -> QuerySet[Department]:
    return Department.objects.restrict(user, "view").select_related("region", "region__parent")


def department_get(*, user, pk) -> Department:
    return Department.objects.restrict(user, "view").select_related("region", "region__parent").get(pk=pk)


def membership_list(*, user) -> QuerySet[Membership]:
    return Membership.objects.restrict(user, "view").select_related("user", "department", "department__region")


def agreement_list(*, user) -> QuerySet[CollaborationAgreement]:
    return CollaborationAgreement.objects.restrict(user, "view").prefetch_related("parties")


def leading_group_list(*, user) -> QuerySet[LeadingGroup]:
    return LeadingGroup.objects.restrict(user, "view").prefetch_related(
        "regions", Prefetch("seats", queryset=LeadingGroupSeat.objects.select_related("department"))
    )


def department_can(*, user, department: Department, action: str) -> bool:
    return Department.objects.restrict(user, action).filter(pk=department.pk).exists()
