"""Selectors: who sees which organisation objects (the scope rules behind `restrict`)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.permissions import Role
from apps.organizations import services
from apps.organizations.choices import AgreementStatus, LeadingGroupKind
from apps.organizations.models import CollaborationAgreement, Department, LeadingGroup, Membership, Region
from tests import factories as f

pytestmark = pytest.mark.django_db


def visible(model, user, action="view"):
    return set(model.objects.restrict(user, action).values_list("pk", flat=True))


@pytest.fixture
def world(admin):
    """Province A (city A1 with county A1a) and province B (city B1); no agreement yet."""
    a = f.region(name="省A")
    a1 = f.region(parent=a, name="市A1")
    a1a = f.region(parent=a1, name="县A1a")
    b = f.region(name="省B")
    b1 = f.region(parent=b, name="市B1")
    return {
        "a": a,
        "a1": a1,
        "a1a": a1a,
        "b": b,
        "b1": b1,
        "dept_a": f.department(region=a),
        "dept_a1": f.department(region=a1),
        "dept_a1_other": f.department(region=a1),
        "dept_a1a": f.department(region=a1a),
        "dept_b1": f.department(region=b1),
    }


def test_anonymous_and_roleless_users_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    roleless = f.UserFactory()
    for model in (Region, Department, Membership, CollaborationAgreement, LeadingGroup):
        assert visible(model, AnonymousUser()) == set()
        assert visible(model, roleless) == set()


def test_inactive_user_sees_nothing_even_with_a_role(world):
    user = f.member(world["dept_a1"])
    user.is_active = False
    user.save()
    assert visible(Department, user) == set()


def test_city_staff_see_their_city_and_below_but_not_the_province_departments(world):
    user = f.member(world["dept_a1"])
    seen = visible(Department, user)
    assert {world["dept_a1"].pk, world["dept_a1_other"].pk, world["dept_a1a"].pk} <= seen
    assert world["dept_a"].pk not in seen
    assert world["dept_b1"].pk not in seen


def test_province_staff_oversee_every_region_below(world):
    user = f.member(world["dept_a"])
    assert {world["dept_a"].pk, world["dept_a1"].pk, world["dept_a1a"].pk} <= visible(Department, user)
    assert world["dept_b1"].pk not in visible(Department, user)


def test_regions_visible_are_own_subtree_and_ancestors(world):
    user = f.member(world["dept_a1"])
    assert visible(Region, user) == {world["a"].pk, world["a1"].pk, world["a1a"].pk}


def test_members_are_visible_only_inside_the_department(world):
    colleague = f.member(world["dept_a1"], Role.STEWARD)
    user = f.member(world["dept_a1"])
    neighbour = f.member(world["dept_a1_other"])
    own = set(Membership.objects.filter(department=world["dept_a1"]).values_list("pk", flat=True))
    assert visible(Membership, user) == own
    assert Membership.objects.get(user=colleague).pk in visible(Membership, user)
    assert visible(Membership, neighbour).isdisjoint(own)


def _agreement(world, **kwargs):
    defaults = {"valid_from": timezone.now() - timedelta(days=1)}
    agreement = services.agreement_create(
        actor=f.admin_user(), title="协议", parties=[world["a"], world["b"]], **(defaults | kwargs)
    )
    return agreement


def test_a_draft_agreement_opens_nothing_an_active_one_opens_the_directory(world):
    user = f.member(world["dept_b1"])
    agreement = _agreement(world)
    assert world["dept_a1"].pk not in visible(Department, f.member(world["dept_b1"]))
    services.agreement_set_status(actor=f.admin_user(), agreement=agreement, status=AgreementStatus.ACTIVE)
    user = type(user).objects.get(pk=user.pk)  # a fresh principal
    assert {world["dept_a"].pk, world["dept_a1"].pk, world["dept_a1a"].pk} <= visible(Department, user)
    assert agreement.pk in visible(CollaborationAgreement, user)


def test_an_agreement_without_the_directory_flag_or_out_of_its_window_opens_nothing(world):
    user = f.member(world["dept_b1"])
    no_directory = _agreement(world, share_directory=False)
    services.agreement_set_status(actor=f.admin_user(), agreement=no_directory, status=AgreementStatus.ACTIVE)
    now = timezone.now()
    expired = _agreement(world, valid_from=now - timedelta(days=10), valid_until=now - timedelta(days=1))
    services.agreement_set_status(actor=f.admin_user(), agreement=expired, status=AgreementStatus.ACTIVE)
    assert world["dept_a1"].pk not in visible(Department, user)


def test_a_suspended_agreement_closes_the_door_again(world):
    agreement = _agreement(world)
    services.agreement_set_status(actor=f.admin_user(), agreement=agreement, status=AgreementStatus.ACTIVE)
    services.agreement_set_status(actor=f.admin_user(), agreement=agreement, status=AgreementStatus.SUSPENDED)
    assert world["dept_a1"].pk not in visible(Department, f.member(world["dept_b1"]))


def test_leading_group_members_see_the_group_and_its_member_departments_nothing_more(world):
    office, center = world["dept_a"], f.department(region=world["a"])
    group = services.leading_group_create(
        actor=f.admin_user(),
        name="领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[world["a"], world["b"]],
        information_office=office,
        big_data_center=center,
        members=[world["dept_b1"], world["dept_a1"]],
    )
    b_staff = f.member(world["dept_b1"])
    assert visible(LeadingGroup, b_staff) == {group.pk}
    seen = visible(Department, b_staff)
    assert {office.pk, center.pk, world["dept_a1"].pk} <= seen
    assert world["dept_a1_other"].pk not in seen  # not a member: stays hidden
    outsider = f.member(world["dept_a1_other"])
    assert visible(LeadingGroup, outsider) == set()


def test_only_the_information_office_head_may_change_the_group(world):
    office, center = world["dept_a"], f.department(region=world["a"])
    group = services.leading_group_create(
        actor=f.admin_user(),
        name="领导小组",
        kind=LeadingGroupKind.CONVENED,
        regions=[world["a"]],
        information_office=office,
        big_data_center=center,
        members=[world["dept_a1"]],
    )
    assert visible(LeadingGroup, f.member(office, Role.HEAD), "change") == {group.pk}
    assert visible(LeadingGroup, f.member(office, Role.STAFF), "change") == set()
    assert visible(LeadingGroup, f.member(world["dept_a1"], Role.HEAD), "change") == set()


def test_a_guardian_grant_to_a_department_group_opens_one_department_and_revoke_closes_it(world):
    head = f.member(world["dept_a1"], Role.HEAD)
    grantee_staff = f.member(world["dept_b1"])
    services.department_grant(actor=head, department=world["dept_a1"], grantee=world["dept_b1"])
    grantee_staff = type(grantee_staff).objects.get(pk=grantee_staff.pk)
    seen = visible(Department, grantee_staff)
    assert world["dept_a1"].pk in seen
    assert world["dept_a1_other"].pk not in seen
    services.department_grant_revoke(actor=head, department=world["dept_a1"], grantee=world["dept_b1"])
    assert world["dept_a1"].pk not in visible(Department, type(grantee_staff).objects.get(pk=grantee_staff.pk))


def test_grants_live_in_the_direct_fk_table_one_row_per_department_not_per_member(world):
    from apps.organizations.models import DepartmentGroupObjectPermission

    head = f.member(world["dept_a1"], Role.HEAD)
    for _ in range(5):
        f.member(world["dept_b1"])
    services.department_grant(actor=head, department=world["dept_a1"], grantee=world["dept_b1"])
    rows = DepartmentGroupObjectPermission.objects.filter(content_object=world["dept_a1"])
    assert rows.count() == 1
    assert rows.get().group == world["dept_b1"].group


def test_a_removed_member_loses_the_department_at_once(world):
    user = f.member(world["dept_a1"])
    membership = Membership.objects.get(user=user)
    services.membership_remove(actor=f.admin_user(), membership=membership)
    assert visible(Department, type(user).objects.get(pk=user.pk)) == set()
    assert not user.groups.filter(pk=world["dept_a1"].group_id).exists()
