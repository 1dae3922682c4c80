"""The admin console reads through `restrict` and writes through services (so the ledger sees it)."""

import pytest
from django.urls import reverse

from apps.core.permissions import Role
from apps.incidents.choices import Category, Severity, Subtype
from apps.incidents.models import PlanTaskTemplate, ReportingRule, ResponsePlan
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType, LeadingGroupKind, LeadingGroupRole
from apps.organizations.models import (
    Department,
    DepartmentGroupObjectPermission,
    LeadingGroupSeat,
    Membership,
    Region,
)
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
    "admin:datapool_datasetgroupobjectpermission_changelist",
    "admin:ledger_auditevent_changelist",
    "admin:accounts_user_changelist",
    "admin:accounts_integrationkey_changelist",
    "admin:incidents_responseplan_changelist",
    "admin:incidents_reportingrule_changelist",
]
READ_ONLY = {
    "admin:ledger_auditevent_changelist",
    "admin:accounts_integrationkey_changelist",
    "admin:datapool_datasetgroupobjectpermission_changelist",  # written by the access services only
}


@pytest.mark.parametrize("name", CHANGELISTS)
def test_every_changelist_and_add_page_renders_for_an_administrator(client, admin, name):
    f.department(region=f.region())
    verified_login(client, admin)
    assert client.get(reverse(name)).status_code == 200
    add = reverse(name.replace("_changelist", "_add"))
    assert client.get(add).status_code == (403 if name in READ_ONLY else 200)


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


def _console_user(department, *codenames, role=Role.HEAD):
    """A staff user of `department` holding Django's model permissions `codenames`."""
    from django.contrib.auth.models import Permission

    user = f.member(department, role, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.parametrize("page", ["change", "history"])
def test_another_regions_department_is_a_404_in_the_console_and_a_recorded_denial(client, page):
    mine, theirs = f.department(region=f.region()), f.department(region=f.region())
    user = _console_user(mine, "view_department", "change_department")
    verified_login(client, user)
    seq = last_seq()
    response = client.get(reverse(f"admin:organizations_department_{page}", args=[theirs.pk]))
    assert response.status_code == 404
    assert theirs.name not in response.content.decode()
    denials = list(AuditEvent.objects.filter(seq__gt=seq))
    assert [(e.action, e.actor_id, e.target_type, e.target_id) for e in denials] == [
        ("access.denied", user.pk, "organizations.department", str(theirs.pk))
    ]
    assert denials[0].after == {"action": {"history": "view"}.get(page, page), "model": "organizations.department"}
    # the own department's page still opens
    assert client.get(reverse(f"admin:organizations_department_{page}", args=[mine.pk])).status_code == 200


def test_another_regions_membership_delete_page_is_a_404_and_a_recorded_denial(client):
    mine, theirs = f.department(region=f.region()), f.department(region=f.region())
    membership = Membership.objects.get(user=f.member(theirs, Role.STAFF))
    user = _console_user(mine, "view_membership", "delete_membership")
    verified_login(client, user)
    seq = last_seq()
    url = reverse("admin:organizations_membership_delete", args=[membership.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"post": "yes"}).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()
    denials = list(AuditEvent.objects.filter(seq__gt=seq))
    assert [(e.action, e.target_type, e.target_id, e.after["action"]) for e in denials] == [
        ("access.denied", "organizations.membership", str(membership.pk), "delete")
    ] * 2


def test_a_post_to_another_regions_department_is_a_404_and_changes_nothing(client):
    mine, theirs = f.department(region=f.region()), f.department(region=f.region(), name="外省应急管理厅")
    verified_login(client, _console_user(mine, "view_department", "change_department"))
    seq = last_seq()
    url = reverse("admin:organizations_department_change", args=[theirs.pk])
    response = client.post(url, {"name": "篡改名称", "contact_phone": ""})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "外省应急管理厅"
    assert list(AuditEvent.objects.filter(seq__gt=seq).values_list("action", flat=True)) == ["access.denied"]


def test_a_nonexistent_object_is_a_404_in_the_console_without_a_denial(client, admin):
    verified_login(client, admin)
    seq = last_seq()
    for url in (
        reverse("admin:organizations_department_change", args=[999999]),
        reverse("admin:organizations_department_change", args=["not-a-number"]),
        reverse("admin:organizations_region_history", args=[999999]),
    ):
        assert client.get(url).status_code == 404
    assert events_after(seq) == []


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


# --- configuration kept in the console: response plans and reporting rules --------------------


def events_after(seq: int) -> list[tuple[str, str]]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq").values_list("action", "target_type"))


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def plan_data(**overrides) -> dict:
    data = {
        "name": "防汛Ⅱ级应急响应预案",
        "category": Category.NATURAL_DISASTER,
        "subtype": Subtype.FLOOD,
        "severity": Severity.II,
        "lead_department_type": DepartmentType.EMERGENCY,
        "notify_department_types": '["media"]',
        "data_approval_depth": 2,
        "is_active": "on",
        "task_templates-TOTAL_FORMS": 1,
        "task_templates-INITIAL_FORMS": 0,
        "task_templates-0-title": "组织群众转移",
        "task_templates-0-target_department_type": DepartmentType.COMMUNITY,
        "task_templates-0-deadline_minutes": 120,
        "task_templates-0-instructions": "",
    }
    return data | overrides


def test_saving_a_response_plan_with_its_tasks_leaves_one_ledger_event(client, admin):
    verified_login(client, admin)
    seq = last_seq()

    # adding a plan with one task: one event, with the task in it
    response = client.post(reverse("admin:incidents_responseplan_add"), plan_data())
    assert response.status_code == 302, response.content[:3000]
    plan = ResponsePlan.objects.get()
    assert events_after(seq) == [("response_plan.create", "incidents.responseplan")]
    created = AuditEvent.objects.get(action="response_plan.create")
    assert created.after["task_templates"][0]["title"] == "组织群众转移" and created.target_id == str(plan.pk)

    # changing the plan and its task in one save: one more event, before and after
    template = plan.task_templates.get()
    seq = last_seq()
    data = plan_data(
        data_approval_depth=3,
        **{
            "task_templates-INITIAL_FORMS": 1,
            "task_templates-0-id": template.pk,
            "task_templates-0-plan": plan.pk,
            "task_templates-0-deadline_minutes": 90,
        },
    )
    response = client.post(reverse("admin:incidents_responseplan_change", args=[plan.pk]), data)
    assert response.status_code == 302, response.content[:3000]
    assert events_after(seq) == [("response_plan.update", "incidents.responseplan")]
    updated = AuditEvent.objects.get(action="response_plan.update")
    assert (updated.before["data_approval_depth"], updated.after["data_approval_depth"]) == (2, 3)
    assert updated.before["task_templates"][0]["deadline_minutes"] == 120
    assert updated.after["task_templates"][0]["deadline_minutes"] == 90


def test_a_plan_whose_sub_type_is_not_of_its_category_is_refused_on_the_form(client, admin):
    verified_login(client, admin)
    seq = last_seq()
    response = client.post(
        reverse("admin:incidents_responseplan_add"),
        plan_data(subtype=Subtype.CHEMICAL_SPILL, notify_department_types='["nobody"]'),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.errors) == {"subtype", "notify_department_types"}
    assert not ResponsePlan.objects.exists() and not PlanTaskTemplate.objects.exists()
    assert events_after(seq) == []


def rule_data(**overrides) -> dict:
    data = {
        "severity": Severity.II,
        "initial_minutes": 240,
        "county_to_city_minutes": 120,
        "city_to_province_minutes": 180,
        "follow_up_minutes": 240,
        "remind_before_minutes": 30,
        "escalate_region_after_minutes": 30,
        "escalate_group_after_minutes": 60,
    }
    return data | overrides


@pytest.fixture
def no_rule_ii(db):
    """The migrations seed a rule per severity: remove severity II's so that one can be added."""
    ReportingRule.objects.filter(severity=Severity.II).delete()


def test_each_save_and_deletion_of_a_reporting_rule_leaves_one_ledger_event(client, admin, no_rule_ii):
    verified_login(client, admin)
    seq = last_seq()
    assert client.post(reverse("admin:incidents_reportingrule_add"), rule_data()).status_code == 302
    rule = ReportingRule.objects.get(severity=Severity.II)
    url = reverse("admin:incidents_reportingrule_change", args=[rule.pk])
    assert client.post(url, rule_data(initial_minutes=180, daily_report="on")).status_code == 302
    delete = reverse("admin:incidents_reportingrule_delete", args=[rule.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302

    assert not ReportingRule.objects.filter(severity=Severity.II).exists()
    rows = list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))
    assert [(e.action, e.target_id) for e in rows] == [
        ("reporting_rule.create", str(rule.pk)),
        ("reporting_rule.update", str(rule.pk)),
        ("reporting_rule.delete", str(rule.pk)),
    ]
    assert (rows[1].before["initial_minutes"], rows[1].after["initial_minutes"]) == (240, 180)
    assert rows[1].after["daily_report"] is True and rows[2].before["initial_minutes"] == 180


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"remind_before_minutes": 240}, "remind_before_minutes"),  # reminded before it was even seen
        ({"escalate_group_after_minutes": 30}, "escalate_group_after_minutes"),  # the group before the region
        ({"follow_up_minutes": 0}, "follow_up_minutes"),  # a follow-up due the moment the last one came
    ],
)
def test_a_reporting_rule_that_contradicts_itself_is_refused_on_the_form(client, admin, no_rule_ii, overrides, field):
    verified_login(client, admin)
    seq = last_seq()
    response = client.post(
        reverse("admin:incidents_reportingrule_add"), rule_data(**overrides), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert not ReportingRule.objects.filter(severity=Severity.II).exists() and events_after(seq) == []


def test_only_platform_administrators_edit_plans_and_rules(client, no_rule_ii):
    # a staff user holding Django's model permissions, but no platform administrator
    from django.contrib.auth.models import Permission

    user = f.member(f.department(region=f.region()), Role.HEAD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="incidents"))
    verified_login(client, user)
    assert client.post(reverse("admin:incidents_reportingrule_add"), rule_data()).status_code == 403
    assert client.post(reverse("admin:incidents_responseplan_add"), plan_data()).status_code == 403
    assert not ReportingRule.objects.filter(severity=Severity.II).exists() and not ResponsePlan.objects.exists()


# --- leading-group seats and dataset grants --------------------------------------------------


def _group():
    province = f.region()
    office, center, member = (f.department(region=province) for _ in range(3))
    group = org_services.leading_group_create(
        actor=f.admin_user(),
        name="长江流域防汛信息化应急领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[province],
        information_office=office,
        big_data_center=center,
        members=[member],
    )
    return group, province


def _seats_data(group, delete=()) -> dict:
    seats = list(group.seats.order_by("pk"))
    data = {
        "seats-TOTAL_FORMS": len(seats),
        "seats-INITIAL_FORMS": len(seats),
        "seats-MIN_NUM_FORMS": 0,
        "seats-MAX_NUM_FORMS": 1000,
    }
    for i, seat in enumerate(seats):
        data |= {f"seats-{i}-id": seat.pk, f"seats-{i}-group": group.pk}
        if seat in delete:
            data[f"seats-{i}-DELETE"] = "on"
    return data


def test_adding_and_removing_a_seat_in_the_console_leaves_one_ledger_event_each(client, admin):
    group, province = _group()
    newcomer = f.department(region=province, name="市交通运输局")
    verified_login(client, admin)
    url = reverse("admin:organizations_leadinggroup_change", args=[group.pk])
    assert "add_member" in client.get(url).content.decode()

    seq = last_seq()
    response = client.post(url, {"add_member": newcomer.pk, **_seats_data(group)})
    assert response.status_code == 302, response.content[:3000]
    seat = LeadingGroupSeat.objects.get(group=group, department=newcomer)
    assert seat.role == LeadingGroupRole.MEMBER
    added = list(AuditEvent.objects.filter(seq__gt=seq))
    assert [(e.action, e.target_id) for e in added] == [("leading_group.seat_add", str(group.pk))]
    assert added[0].after == {"department": newcomer.pk, "role": LeadingGroupRole.MEMBER}

    seq = last_seq()
    response = client.post(url, {"add_member": "", **_seats_data(group, delete=[seat])})
    assert response.status_code == 302, response.content[:3000]
    assert not LeadingGroupSeat.objects.filter(pk=seat.pk).exists()
    removed = list(AuditEvent.objects.filter(seq__gt=seq))
    assert [(e.action, e.target_id) for e in removed] == [("leading_group.seat_remove", str(group.pk))]
    assert removed[0].before == {"department": newcomer.pk, "role": LeadingGroupRole.MEMBER}

    # saving with nothing chosen and nothing ticked changes nothing and records nothing
    seq = last_seq()
    assert client.post(url, {"add_member": "", **_seats_data(group)}).status_code == 302
    assert events_after(seq) == []


def test_removing_the_information_office_is_refused_on_the_form_and_saves_nothing(client, admin):
    group, province = _group()
    newcomer = f.department(region=province)
    office = group.seats.get(role=LeadingGroupRole.INFORMATION_OFFICE)
    verified_login(client, admin)
    seq = last_seq()
    url = reverse("admin:organizations_leadinggroup_change", args=[group.pk])
    # a seat added and the office removed in one save: the refusal rolls both back
    data = {"add_member": newcomer.pk, **_seats_data(group, delete=[office])}
    response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert "The information office and the big-data center cannot be removed, only replaced." in page
    assert LeadingGroupSeat.objects.filter(pk=office.pk).exists()
    assert not LeadingGroupSeat.objects.filter(group=group, department=newcomer).exists()
    assert events_after(seq) == []


def test_a_staff_user_outside_the_groups_office_cannot_add_a_seat(client):
    group, province = _group()
    outsider = _console_user(f.department(region=province), "view_leadinggroup", "change_leadinggroup")
    newcomer = f.department(region=province)
    verified_login(client, outsider)
    url = reverse("admin:organizations_leadinggroup_change", args=[group.pk])
    seq = last_seq()
    response = client.post(url, {"add_member": newcomer.pk, **_seats_data(group)})
    assert response.status_code == 404  # not a member: the group is outside their scope
    assert not LeadingGroupSeat.objects.filter(group=group, department=newcomer).exists()
    assert list(AuditEvent.objects.filter(seq__gt=seq).values_list("action", flat=True)) == ["access.denied"]


def test_dataset_grants_are_read_only_in_the_console_and_seen_by_the_owners_stewards(client, admin):
    from guardian.shortcuts import assign_perm

    from apps.datapool.models import DatasetGroupObjectPermission
    from tests.datapool.world import pool_world

    w = pool_world()
    row = assign_perm("datapool.read_dataset", w.other.group, w.dataset)
    verified_login(client, admin)
    changelist = client.get(reverse("admin:datapool_datasetgroupobjectpermission_changelist")).content.decode()
    assert w.dataset.title in changelist and w.other.name in changelist
    url = reverse("admin:datapool_datasetgroupobjectpermission_change", args=[row.pk])
    assert client.get(url).status_code == 200  # viewable
    client.post(url, {"group": w.owner.group_id, "content_object": w.dataset.pk})
    assert DatasetGroupObjectPermission.objects.get(pk=row.pk).group_id == w.other.group_id
    assert client.post(reverse("admin:datapool_datasetgroupobjectpermission_delete", args=[row.pk])).status_code == 403

    # the owner's steward sees it; the grantee's steward (who does not manage the dataset) does not
    perm = "view_datasetgroupobjectpermission"
    steward = _console_user(w.owner, perm, role=Role.STEWARD)
    verified_login(client, steward)
    assert client.get(url).status_code == 200
    stranger = _console_user(w.other, perm, role=Role.STEWARD)
    verified_login(client, stranger)
    assert client.get(url).status_code == 404
