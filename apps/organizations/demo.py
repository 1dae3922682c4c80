"""The demo scenario: two provinces along the Yangtze, their cities, every department type, a
cross-province leading group and users for every role. Idempotent: re-running adds nothing.

Later issues extend it (incidents, tasks, datasets) by adding steps to `DEMO_STEPS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from apps.core.permissions import Role
from apps.ledger.services import audit_record

from . import services
from .choices import AgreementStatus, DepartmentType, LeadingGroupKind, RegionLevel
from .models import CollaborationAgreement, Department, LeadingGroup, Membership, Region

DEMO_PASSWORD = "Changjiang-Demo-2026"  # noqa: S105 - demo only, printed by load_demo for the README

REGIONS = [
    # code, name, level, parent code
    ("320000", "江苏省", RegionLevel.PROVINCE, None),
    ("320100", "南京市", RegionLevel.CITY, "320000"),
    ("320106", "鼓楼区", RegionLevel.COUNTY, "320100"),
    ("321100", "镇江市", RegionLevel.CITY, "320000"),
    ("340000", "安徽省", RegionLevel.PROVINCE, None),
    ("340500", "马鞍山市", RegionLevel.CITY, "340000"),
    ("340503", "花山区", RegionLevel.COUNTY, "340500"),
    ("340200", "芜湖市", RegionLevel.CITY, "340000"),
]

TYPE_NAMES = {
    DepartmentType.PUBLIC_SECURITY: "公安局",
    DepartmentType.FIRE: "消防救援支队",
    DepartmentType.HEALTH: "卫生健康委员会",
    DepartmentType.ENVIRONMENT: "生态环境局",
    DepartmentType.TRAFFIC_POLICE: "公安交通管理支队",
    DepartmentType.EMERGENCY: "应急管理局",
    DepartmentType.TRANSPORT: "交通运输局",
    DepartmentType.MEDIA: "融媒体中心",
    DepartmentType.COMMUNITY: "社区工作办公室",
    DepartmentType.NGO: "红十字会志愿服务队",
    DepartmentType.TELECOM: "电信分公司",
    DepartmentType.RESEARCH: "水文水资源研究所",
    DepartmentType.BIG_DATA_COMPANY: "数据科技有限公司",
}
CITY_SLUGS = {"320100": "nj", "321100": "zj", "340500": "mas", "340200": "wh"}
TYPE_SLUGS = {
    DepartmentType.PUBLIC_SECURITY: "gongan",
    DepartmentType.FIRE: "xiaofang",
    DepartmentType.HEALTH: "weijian",
    DepartmentType.ENVIRONMENT: "huanjing",
    DepartmentType.TRAFFIC_POLICE: "jiaojing",
    DepartmentType.EMERGENCY: "yingji",
    DepartmentType.TRANSPORT: "jiaotong",
    DepartmentType.MEDIA: "meiti",
    DepartmentType.COMMUNITY: "shequ",
    DepartmentType.NGO: "ngo",
    DepartmentType.TELECOM: "dianxin",
    DepartmentType.RESEARCH: "yanjiu",
    DepartmentType.BIG_DATA_COMPANY: "shuju",
}
# Departments whose staff get all three roles in the demo; the others get a head only.
STAFFED = {
    DepartmentType.EMERGENCY,
    DepartmentType.HEALTH,
    DepartmentType.PUBLIC_SECURITY,
    DepartmentType.FIRE,
    DepartmentType.TRANSPORT,
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "涛", "明", "超", "霞", "平", "刚", "桂英"]
ROLE_SLUGS = {Role.HEAD: "head", Role.STAFF: "staff", Role.STEWARD: "steward"}


@dataclass
class DemoReport:
    created: int = 0
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, display name, what


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)]


@transaction.atomic
def demo_load() -> DemoReport:
    report = DemoReport()
    User = get_user_model()
    hashed = make_password(DEMO_PASSWORD)  # hash once: every demo account shares the printed password
    admin = User.objects.filter(username="admin").first()
    if admin is None:
        admin = User(username="admin", display_name="平台管理员", is_staff=True, is_superuser=True)
        admin.password = hashed
        admin.save()
        audit_record(actor=None, action="user.create", target=admin, after={"username": "admin", "demo": True})
        report.created += 1
    report.logins.append(("admin", admin.display_name, "platform administrator (admin console)"))

    regions: dict[str, Region] = {}
    for code, name, level, parent in REGIONS:
        region = Region.objects.filter(code=code).first()
        if region is None:
            region = services.region_create(actor=admin, code=code, name=name, level=level, parent=regions.get(parent))
            report.created += 1
        regions[code] = region

    departments: dict[tuple[str, str], Department] = {}
    for city_code in CITY_SLUGS:
        city = regions[city_code]
        for dtype, suffix in TYPE_NAMES.items():
            name = f"{city.name}{suffix}"
            dept = Department.objects.filter(region=city, name=name).first()
            if dept is None:
                dept = services.department_create(actor=admin, region=city, name=name, type=dtype)
                report.created += 1
            departments[(city_code, dtype)] = dept
    provincial = {}
    for code, name in (("320000", "江苏省应急管理厅"), ("340000", "安徽省应急管理厅")):
        dept = Department.objects.filter(region=regions[code], name=name).first()
        if dept is None:
            dept = services.department_create(
                actor=admin, region=regions[code], name=name, type=DepartmentType.EMERGENCY
            )
            report.created += 1
        provincial[code] = dept
    center = Department.objects.filter(region=regions["320000"], name="长江流域应急大数据管理中心").first()
    if center is None:
        center = services.department_create(
            actor=admin,
            region=regions["320000"],
            name="长江流域应急大数据管理中心",
            type=DepartmentType.BIG_DATA_COMPANY,
        )
        report.created += 1

    counter = 0

    def seat(username: str, dept: Department, role: str, what: str) -> None:
        nonlocal counter
        counter += 1
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, display_name=_name(counter))
            user.password = hashed
            user.save()
            audit_record(actor=admin, action="user.create", target=user, after={"username": username, "demo": True})
            report.created += 1
        if not Membership.objects.filter(user=user, department=dept, role=role).exists():
            services.membership_add(actor=admin, department=dept, user=user, role=role)
            report.created += 1
        report.logins.append((username, user.display_name, what))

    for (city_code, dtype), dept in departments.items():
        roles = [Role.HEAD, Role.STAFF, Role.STEWARD] if dtype in STAFFED else [Role.HEAD]
        for role in roles:
            seat(
                f"{CITY_SLUGS[city_code]}_{TYPE_SLUGS[dtype]}_{ROLE_SLUGS[role]}",
                dept,
                role,
                f"{dept.name} · {Role(role).label}",
            )
    seat("js_xinxiban_head", provincial["320000"], Role.HEAD, "江苏省应急管理厅 (information office) · head")
    seat("js_xinxiban_staff", provincial["320000"], Role.STAFF, "江苏省应急管理厅 (information office) · staff")
    seat("ah_yingji_head", provincial["340000"], Role.HEAD, "安徽省应急管理厅 · head")
    seat("center_steward", center, Role.STEWARD, "长江流域应急大数据管理中心 · data steward")

    if not CollaborationAgreement.objects.filter(title="苏皖长江跨域应急协同协议").exists():
        agreement = services.agreement_create(
            actor=admin,
            title="苏皖长江跨域应急协同协议",
            parties=[regions["320000"], regions["340000"]],
            valid_from=timezone.make_aware(datetime(2026, 1, 1)),
        )
        services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.ACTIVE)
        report.created += 1

    if not LeadingGroup.objects.filter(name="长江南京—马鞍山段信息化应急领导小组").exists():
        members = [d for (code, dtype), d in departments.items() if dtype in STAFFED]
        services.leading_group_create(
            actor=admin,
            name="长江南京—马鞍山段信息化应急领导小组",
            kind=LeadingGroupKind.STANDING,
            regions=[regions["320000"], regions["340000"]],
            information_office=provincial["320000"],
            big_data_center=center,
            members=[*members, provincial["340000"]],
        )
        report.created += 1
    return report


SPILL_GROUP = "危化品泄漏事件专项处置领导小组"


@transaction.atomic
def demo_load_convened() -> int:
    """After the incidents step: a leading group convened for the chemical spill takes charge of it.
    Its information office is the emergency department of the spill's province; its members the
    responders of the reporting city and the environment bureaus of the other affected regions.
    Idempotent."""
    from apps.incidents.demo import SPILL_TITLE
    from apps.incidents.models import Incident

    spill = Incident.objects.filter(title=SPILL_TITLE).select_related("region").first()
    if spill is None or LeadingGroup.objects.filter(name=SPILL_GROUP).exists():
        return 0
    home = spill.region
    province = home.path.split("/")[0]
    by_type = {d.type: d for d in Department.objects.filter(region=home).order_by("-pk")}
    office = Department.objects.filter(region__code=province, type=DepartmentType.EMERGENCY).order_by("pk").first()
    responders = [DepartmentType.ENVIRONMENT, DepartmentType.FIRE, DepartmentType.PUBLIC_SECURITY]
    responders += [DepartmentType.HEALTH, DepartmentType.EMERGENCY]
    downstream = Department.objects.filter(
        region__in=spill.regions.exclude(pk=home.pk), type=DepartmentType.ENVIRONMENT
    )
    services.leading_group_convene(
        actor=get_user_model().objects.get(username="admin"),
        incident=spill,
        name=SPILL_GROUP,
        information_office=office,
        big_data_center=by_type[DepartmentType.BIG_DATA_COMPANY],
        members=[*(by_type[t] for t in responders if t in by_type), *downstream],
    )
    return 1
