"""The admin console reads through `restrict` and writes through services (so the ledger sees it)."""

import pytest
from django.urls import reverse

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.organizations.models import Department, DepartmentGroupObjectPermission, Membership, Region
from tests import factories as f
from tests.accounts.otp import verified_login

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "admin:organizations_region_changelist",
    "admin:organizations_department_changelist",
    "admin:organizations_membership_changelist",
    "admin:organizations_collaborationagreement_changelist",
    "admin:organizations_leadinggroup_changelist",
    "admin:organizations_departmentgroupobjectpermission_changelist",
    "admin:ledger_auditevent_changelist",
    "admin:accounts_user_changelist",
    "admin:accounts_integrationkey_changelist",
]


@pytest.mark.parametrize("name", CHANGELISTS)
def test_every_changelist_and_add_page_renders_for_an_administrator(client, admin, name):
    f.department(region=f.region())
    verified_login(client, admin)
    assert client.get(reverse(name)).status_code == 200
    add = reverse(name.replace("_changelist", "_add"))
    expected = (
        403 if name in {"admin:ledger_auditevent_changelist", "admin:accounts_integrationkey_changelist"} else 200
    )
    assert client.get(add).status_code == expected


def test_creating_a_region_and_department_in_the_console_goes_through_the_services(client, admin):
    verified_login(client, admin)
    before = AuditEvent.objects.count()  # after the login event
    response = client.post(
        reverse("admin:organizations_region_add"), {"code": "320000", "name": "江苏省", "level": "province"}
    )
    assert response.status_code == 302, response.content[:2000]
    region = Region.objects.get(code="320000")
    assert region.path == "320000/"
    response = client.post(
        reverse("admin:organizations_department_add"),
        {"region": region.pk, "name": "江苏省应急管理厅", "type": "emergency", "contact_phone": ""},
    )
    assert response.status_code == 302
    dept = Department.objects.get(name="江苏省应急管理厅")
    assert dept.group_id is not None
    actions = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq").values_list("action", flat=True))
    assert actions == ["region.create", "department.create"]


def test_membership_and_grant_admin_write_through_services(client, admin):
    dept, other = f.department(region=f.region()), f.department(region=f.region())
    user = f.UserFactory()
    verified_login(client, admin)
    response = client.post(
        reverse("admin:organizations_membership_add"), {"user": user.pk, "department": dept.pk, "role": Role.HEAD}
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user=user, department=dept, role=Role.HEAD).exists()
    assert user.groups.filter(pk=dept.group_id).exists()
    response = client.post(
        reverse("admin:organizations_departmentgroupobjectpermission_add"),
        {"content_object": dept.pk, "grantee": other.pk},
    )
    assert response.status_code == 302
    grant = DepartmentGroupObjectPermission.objects.get(content_object=dept)
    assert grant.group == other.group
    assert AuditEvent.objects.filter(action="department.grant", target_id=str(dept.pk)).count() == 1


def test_the_ledger_cannot_be_changed_from_the_console(client, admin):
    f.region()
    event = AuditEvent.objects.first()
    verified_login(client, admin)
    url = reverse("admin:ledger_auditevent_change", args=[event.pk])
    assert client.get(url).status_code == 200  # viewable
    client.post(url, {"action": "forged"})
    event.refresh_from_db()
    assert event.action != "forged"
    assert client.post(reverse("admin:ledger_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403


def test_a_staff_admin_user_sees_only_their_scope_in_the_console(client):
    region, other = f.region(), f.region()
    mine, theirs = f.department(region=region), f.department(region=other)
    user = f.member(mine, Role.HEAD)
    user.is_staff = True
    user.save()
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_department"))
    verified_login(client, user)
    page = client.get(reverse("admin:organizations_department_changelist")).content.decode()
    assert mine.name in page and theirs.name not in page


def test_a_service_refusal_in_the_console_shows_on_the_form_and_saves_nothing(client, admin):
    dept = f.department(region=f.region())
    verified_login(client, admin)
    before = AuditEvent.objects.count()
    # the grant service refuses a grant of a department on itself: a form error, not a server error
    response = client.post(
        reverse("admin:organizations_departmentgroupobjectpermission_add"),
        {"content_object": dept.pk, "grantee": dept.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "A department does not need a grant on itself." in page
    assert 'class="errorlist' in page
    assert f'<option value="{dept.pk}" selected>' in page  # what the administrator chose is kept
    assert not DepartmentGroupObjectPermission.objects.filter(content_object=dept).exists()
    assert AuditEvent.objects.count() == before


def test_a_service_refusal_on_a_named_field_is_shown_in_chinese_next_to_it(client, admin):
    dept = f.department(region=f.region())
    robot = f.UserFactory(is_service=True)
    verified_login(client, admin)
    data = {"user": robot.pk, "department": dept.pk, "role": Role.STAFF}
    # the membership service refuses a role for a service account: on the form, in the administrator's language
    response = client.post(reverse("admin:organizations_membership_add"), data, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    page = response.content.decode()
    message = "服务账号不能分配角色。"
    assert page.count(message) == 1
    assert page.index("field-user") < page.index(message) < page.index("field-department")  # on the user field
    assert not Membership.objects.filter(user=robot).exists()
