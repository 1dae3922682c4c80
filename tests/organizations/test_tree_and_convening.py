"""Services and scope: the region tree (levels and division codes), leading groups convened for an
incident, and which agreement flags open a partner region."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.incidents import services as incidents
from apps.incidents.choices import Category, IncidentStatus, Severity, Subtype, TimelineKind
from apps.incidents.models import Incident, TimelineEntry
from apps.ledger.models import AuditEvent
from apps.organizations import services
from apps.organizations.choices import AgreementStatus, DepartmentType, LeadingGroupKind, RegionLevel
from apps.organizations.models import LeadingGroup, Region
from tests import factories as f

pytestmark = pytest.mark.django_db

P, C, K = RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY


@pytest.fixture
def jiangsu(admin):
    province = services.region_create(actor=admin, code="320000", name="江苏省", level=P)
    city = services.region_create(actor=admin, code="320100", name="南京市", level=C, parent=province)
    return province, city


# --- the region tree ----------------------------------------------------------------------------


def test_a_full_branch_that_follows_the_division_code_is_accepted(admin, jiangsu):
    province, city = jiangsu
    county = services.region_create(actor=admin, code="320106", name="鼓楼区", level=K, parent=city)
    assert county.path == "320000/320100/320106/"


@pytest.mark.parametrize(
    ("code", "level", "parent", "field"),
    [
        ("320106", K, None, "parent"),  # a county with no parent
        ("320200", C, None, "parent"),  # a city with no parent
        ("330000", P, "320100", "parent"),  # a province under a city
        ("320200", C, "320100", "parent"),  # a city under a city
        ("320107", K, "320000", "parent"),  # a county straight under a province
        ("330100", C, "320000", "code"),  # a city coded for another province
        ("320201", K, "320100", "code"),  # a county coded for another city
        ("330100", P, None, "code"),  # a province's code ends in 0000
        ("320099", C, "320000", "code"),  # a city's middle digits are not 00 ...
        ("320101", C, "320000", "code"),  # ... and it ends in 00
        ("320200", K, "320100", "code"),  # a county's code does not end in 00
    ],
)
def test_the_tree_refuses_a_wrong_level_parent_or_code(admin, jiangsu, code, level, parent, field):
    parent = Region.objects.get(code=parent) if parent else None
    events = AuditEvent.objects.count()
    with pytest.raises(ServiceError) as refused:
        services.region_create(actor=admin, code=code, name="x", level=level, parent=parent)
    assert refused.value.field == field
    assert str(refused.value.message)  # a sentence, not a code
    assert AuditEvent.objects.count() == events  # a rejected write leaves no event
    assert not Region.objects.filter(code=code).exists()


def test_the_model_clean_keeps_the_same_rule_for_forms(jiangsu):
    province, city = jiangsu
    with pytest.raises(ValidationError) as invalid:
        Region(code="330101", name="x", level=K, parent=province, path="x").full_clean()
    assert set(invalid.value.message_dict) == {"parent"}
    with pytest.raises(ValidationError) as invalid:
        Region(code="330101", name="x", level=K, parent=city, path="x").full_clean()
    assert "320100" not in str(invalid.value.message_dict["code"])  # names the prefix, 3201
    assert "3201" in str(invalid.value.message_dict["code"])
    Region(code="320102", name="玄武区", level=K, parent=city, path="x").full_clean()


def test_the_admin_form_shows_the_tree_error(client, jiangsu):
    from tests.accounts.otp import verified_login

    verified_login(client, f.admin_user())
    page = client.post(
        reverse("admin:organizations_region_add"), {"code": "330101", "name": "x", "level": K, "parent": jiangsu[1].pk}
    )
    assert page.status_code == 200  # the form again, with the error
    assert "3201" in page.content.decode()
    assert not Region.objects.filter(code="330101").exists()


def test_the_factories_follow_the_tree():
    province = f.region()
    city = f.region(parent=province)
    county = f.region(parent=city)
    assert (province.level, city.level, county.level) == (P, C, K)
    assert province.code.endswith("0000")
    assert city.code.startswith(province.code[:2]) and city.code.endswith("00")
    assert county.code.startswith(city.code[:4]) and not county.code.endswith("00")


# --- leading groups convened for an incident ----------------------------------------------------


@pytest.fixture
def scene(admin, jiangsu):
    province, city = jiangsu
    em = f.department(region=city, type=DepartmentType.EMERGENCY, name="南京市应急管理局")
    env = f.department(region=city, type=DepartmentType.ENVIRONMENT, name="南京市生态环境局")
    office = f.department(region=province, type=DepartmentType.EMERGENCY, name="江苏省应急管理厅")
    center = f.department(region=province, type=DepartmentType.BIG_DATA_COMPANY, name="江苏省大数据中心")
    incident = incidents.incident_report(
        actor=f.member(em),
        department=em,
        title="化工园区泄漏",
        category=Category.ACCIDENT,
        subtype=Subtype.CHEMICAL_SPILL,
        severity=Severity.II,
        place="江北化工园区",
        first_seen_at=timezone.now() - timedelta(minutes=5),
    )
    return {"city": city, "em": em, "env": env, "office": office, "center": center, "incident": incident}


def convene(scene, actor, **kwargs):
    values = {
        "actor": actor,
        "incident": scene["incident"],
        "name": "泄漏专项处置领导小组",
        "information_office": scene["office"],
        "big_data_center": scene["center"],
        "members": [scene["env"]],
    }
    return services.leading_group_convene(**(values | kwargs))


def test_convening_creates_a_convened_group_for_the_incident_and_puts_it_in_charge(admin, scene):
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    group = convene(scene, admin)

    assert (group.kind, group.convened_for) == (LeadingGroupKind.CONVENED, scene["incident"])
    assert set(group.regions.all()) == {scene["city"]}  # the incident's affected regions
    incident = Incident.objects.get(pk=scene["incident"].pk)
    assert incident.leading_group == group
    assert TimelineEntry.objects.filter(incident=incident, kind=TimelineKind.LEADING_GROUP).exists()
    actions = list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq").values_list("action", flat=True))
    # the group's own event, then the incidents service's hand-over of the charge
    assert actions == ["leading_group.convene", "incident.leading_group"]
    event = AuditEvent.objects.get(action="leading_group.convene")
    assert event.after["convened_for"] == incident.pk and event.target_id == str(group.pk)
    # its members now see the incident through the group
    member = f.member(scene["env"])
    assert Incident.objects.restrict(member, "view").filter(pk=incident.pk).exists()


def test_only_platform_administrators_convene(scene):
    head = f.member(scene["office"], Role.HEAD)
    events = AuditEvent.objects.count()
    with pytest.raises(AccessDenied):
        convene(scene, head)
    assert AuditEvent.objects.count() == events
    assert not LeadingGroup.objects.filter(convened_for=scene["incident"]).exists()


def test_a_closed_incident_cannot_have_a_group_convened(admin, scene):
    Incident.objects.filter(pk=scene["incident"].pk).update(status=IncidentStatus.CLOSED)
    events = AuditEvent.objects.count()
    with pytest.raises(ServiceError) as refused:
        convene(scene, admin)
    assert refused.value.field == "incident"
    assert AuditEvent.objects.count() == events


def test_a_refused_convening_leaves_nothing(admin, scene):
    events = AuditEvent.objects.count()
    with pytest.raises(ServiceError):
        convene(scene, admin, big_data_center=scene["office"])  # the office cannot be its own center
    assert AuditEvent.objects.count() == events
    assert not LeadingGroup.objects.exists()
    assert Incident.objects.get(pk=scene["incident"].pk).leading_group is None


def test_only_a_convened_group_names_an_incident(admin, scene):
    group = services.leading_group_create(
        actor=admin,
        name="常设小组",
        kind=LeadingGroupKind.STANDING,
        regions=[scene["city"]],
        information_office=scene["office"],
        big_data_center=scene["center"],
    )
    group.convened_for = scene["incident"]
    with pytest.raises(ValidationError):
        group.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        group.save(update_fields=["convened_for"])


def test_the_api_shows_the_incident_a_group_was_convened_for(admin, scene, api_client):
    group = convene(scene, admin)
    member = f.member(scene["env"])
    api_client.force_authenticate(member)
    body = api_client.get(f"/api/v1/leading-groups/{group.pk}/").json()
    assert body["kind"] == "convened" and body["convened_for"] == scene["incident"].pk


def test_the_demo_convenes_a_group_for_the_chemical_spill_once(admin):
    from apps.incidents.demo import SPILL_TITLE, demo_load_incidents
    from apps.organizations.demo import SPILL_GROUP, demo_load, demo_load_convened

    demo_load()
    demo_load_incidents()
    assert demo_load_convened() == 1
    spill = Incident.objects.get(title=SPILL_TITLE)
    group = LeadingGroup.objects.get(name=SPILL_GROUP)
    assert (group.kind, group.convened_for, spill.leading_group) == (LeadingGroupKind.CONVENED, spill, group)
    events = AuditEvent.objects.count()
    assert demo_load_convened() == 0
    assert AuditEvent.objects.count() == events


# --- which agreement flags open a partner region ------------------------------------------------


@pytest.mark.parametrize("flag", ["share_directory", "share_incidents", "share_tasks", "share_catalog"])
def test_any_one_flag_opens_the_partner_region_itself(admin, flag):
    a, b = f.region(), f.region()
    b1 = f.region(parent=b)
    flags = dict.fromkeys(("share_directory", "share_incidents", "share_tasks", "share_catalog"), False)
    agreement = services.agreement_create(
        actor=admin,
        title="协议",
        parties=[a, b],
        valid_from=timezone.now() - timedelta(days=1),
        **(flags | {flag: True}),
    )
    services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.ACTIVE)
    staff = f.member(f.department(region=a))
    assert {b.pk, b1.pk} <= set(Region.objects.restrict(staff, "view").values_list("pk", flat=True))


def test_an_agreement_sharing_nothing_opens_no_region(admin):
    a, b = f.region(), f.region()
    agreement = services.agreement_create(
        actor=admin,
        title="协议",
        parties=[a, b],
        valid_from=timezone.now() - timedelta(days=1),
        **dict.fromkeys(("share_directory", "share_incidents", "share_tasks", "share_catalog"), False),
    )
    services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.ACTIVE)
    staff = f.member(f.department(region=a))
    assert b.pk not in set(Region.objects.restrict(staff, "view").values_list("pk", flat=True))
