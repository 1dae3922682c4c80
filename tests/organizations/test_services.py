"""Services: business rules of the organisation writes."""

import pytest
from django.utils import timezone

from apps.core.exceptions import AccessDenied, Conflict, ServiceError
from apps.core.permissions import Role
from apps.organizations import services
from apps.organizations.choices import AgreementStatus, LeadingGroupKind, RegionLevel
from apps.organizations.models import Department
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_region_path_is_built_from_the_parent_codes(admin):
    p = services.region_create(actor=admin, code="320000", name="江苏省", level=RegionLevel.PROVINCE)
    c = services.region_create(actor=admin, code="320100", name="南京市", level=RegionLevel.CITY, parent=p)
    assert c.path == "320000/320100/"


def test_region_codes_must_be_six_digits_and_unique(admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.region_create(actor=admin, code="32A000", name="x", level=RegionLevel.PROVINCE)
    services.region_create(actor=admin, code="320000", name="江苏省", level=RegionLevel.PROVINCE)
    with pytest.raises(Conflict):
        services.region_create(actor=admin, code="320000", name="重复", level=RegionLevel.PROVINCE)


def test_only_platform_administrators_create_regions_and_departments(admin):
    region = f.region()
    head = f.member(f.department(region=region), Role.HEAD)
    with pytest.raises(AccessDenied):
        services.region_create(actor=head, code="990100", name="x", level=RegionLevel.PROVINCE)
    with pytest.raises(AccessDenied):
        services.department_create(actor=head, region=region, name="新部门", type="fire")


def test_department_gets_its_own_auth_group(admin):
    dept = f.department(region=f.region())
    assert dept.group.department == dept


def test_head_edits_own_department_but_not_its_type_or_region(admin):
    region, other = f.region(), f.region()
    dept = f.department(region=region, type="fire")
    head = f.member(dept, Role.HEAD)
    services.department_update(
        actor=head, department=dept, data={"contact_phone": "025-12345678", "type": "health", "region": other}
    )
    dept.refresh_from_db()
    assert dept.contact_phone == "025-12345678"
    assert dept.type == "fire" and dept.region == region


def test_staff_cannot_edit_their_department_and_another_head_cannot_see_it(admin):
    region = f.region()
    dept, other = f.department(region=region), f.department(region=f.region())
    staff = f.member(dept, Role.STAFF)
    with pytest.raises(AccessDenied) as visible_refusal:
        services.department_update(actor=staff, department=dept, data={"contact_phone": "1"})
    assert visible_refusal.value.hidden is False
    foreign_head = f.member(other, Role.HEAD)
    with pytest.raises(AccessDenied) as hidden_refusal:
        services.department_update(actor=foreign_head, department=dept, data={"contact_phone": "1"})
    assert hidden_refusal.value.hidden is True


def test_renaming_to_a_taken_name_is_a_conflict_not_a_500(admin):
    region = f.region()
    a = f.department(region=region, name="甲")
    f.department(region=region, name="乙")
    head = f.member(a, Role.HEAD)
    with pytest.raises(Conflict):
        services.department_update(actor=head, department=a, data={"name": "乙"})
    assert Department.objects.get(pk=a.pk).name == "甲"


def test_heads_manage_members_of_their_own_department_only(admin):
    dept, other = f.department(region=f.region()), f.department(region=f.region())
    head = f.member(dept, Role.HEAD)
    newcomer = f.UserFactory()
    services.membership_add(actor=head, department=dept, user=newcomer, role=Role.STEWARD)
    assert newcomer.groups.filter(pk=dept.group_id).exists()
    with pytest.raises(Conflict):
        services.membership_add(actor=head, department=dept, user=newcomer, role=Role.STEWARD)
    with pytest.raises(AccessDenied):
        services.membership_add(actor=head, department=other, user=f.UserFactory(), role=Role.STAFF)


def test_agreement_needs_two_parties_and_follows_its_transition_map(admin):
    a, b = f.region(), f.region()
    with pytest.raises(ServiceError):
        services.agreement_create(actor=admin, title="x", parties=[a], valid_from=timezone.now())
    agreement = services.agreement_create(actor=admin, title="x", parties=[a, b], valid_from=timezone.now())
    services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.TERMINATED)
    with pytest.raises(ServiceError) as err:
        services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.ACTIVE)
    assert err.value.code == "invalid_transition"


def test_leading_group_has_one_information_office_and_one_big_data_center(admin):
    region = f.region()
    office, center, member = (f.department(region=region) for _ in range(3))
    group = services.leading_group_create(
        actor=admin,
        name="组",
        kind=LeadingGroupKind.STANDING,
        regions=[region],
        information_office=office,
        big_data_center=center,
        members=[member, office],
    )
    roles = {s.department_id: s.role for s in group.seats.all()}
    assert roles == {office.pk: "information_office", center.pk: "big_data_center", member.pk: "member"}
    with pytest.raises(ServiceError):
        services.leading_group_create(
            actor=admin,
            name="组2",
            kind=LeadingGroupKind.STANDING,
            regions=[region],
            information_office=office,
            big_data_center=office,
        )


def test_demo_scenario_is_idempotent(admin):
    from apps.ledger.models import AuditEvent
    from apps.organizations.demo import demo_load

    first = demo_load()
    events = AuditEvent.objects.count()
    second = demo_load()
    assert first.created > 50
    assert second.created == 0
    assert AuditEvent.objects.count() == events
