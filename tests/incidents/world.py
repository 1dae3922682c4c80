"""The incidents test world: two provinces, their cities and a county, typed departments, one
cross-region leading group, and helpers that drive the incident services.

    province A ── city A1 ── county A1a          province B ── city B1
              └── city A2

Leading group 长江联防 covers A1 and B1. Its information office (信息办) sits in province B, so the
office sees A1's incidents only through the group's coverage; its big-data center and one member
department (fire, B1) sit in B1, which is otherwise blind to A1. No agreement exists until a test
calls `open_agreement` (needed before A1 may name B1 as an affected region).

Everything is built through the services (like production), so ledger and department groups are
real. Plain functions rather than fixtures so the race and worker tests, which run on committed
rows, can build the same world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Max
from django.utils import timezone

from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import Category, ClockKind, IncidentStatus, Severity, Subtype
from apps.incidents.models import Incident, PlanTaskTemplate, ReportingClock, ReportingRule, ResponsePlan
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import AgreementStatus, LeadingGroupKind, RegionLevel
from apps.organizations.choices import DepartmentType as T
from apps.organizations.models import Department, LeadingGroup, Region
from tests import factories as f

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A fixed moment for everything that takes `now=`: 2026-03-10 09:00 Beijing time.
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)


@dataclass
class World:
    a: Region
    a1: Region
    a1a: Region
    a2: Region
    b: Region
    b1: Region
    em_a: Department
    em_a1: Department
    health_a1: Department
    fire_a1: Department
    em_a1a: Department
    fire_a1a: Department
    em_a2: Department
    fire_a2: Department
    em_b: Department
    office_b: Department
    em_b1: Department
    fire_b1: Department
    bdc_b1: Department
    group: LeadingGroup
    _users: dict = field(default_factory=dict)

    def user(self, dept: Department | str, role: str = Role.STAFF):
        """One user per (department, role), seated through the membership service; always a
        fresh instance so no cached Principal survives a change of memberships."""
        dept = getattr(self, dept) if isinstance(dept, str) else dept
        key = (dept.pk, role)
        if key not in self._users:
            self._users[key] = f.member(dept, role).pk
        return get_user_model().objects.get(pk=self._users[key])


def build_world() -> World:
    admin = f.admin_user()
    a = f.region(name="省A", level=RegionLevel.PROVINCE)
    a1 = f.region(parent=a, name="市A1", level=RegionLevel.CITY)
    a1a = f.region(parent=a1, name="县A1a", level=RegionLevel.COUNTY)
    a2 = f.region(parent=a, name="市A2", level=RegionLevel.CITY)
    b = f.region(name="省B", level=RegionLevel.PROVINCE)
    b1 = f.region(parent=b, name="市B1", level=RegionLevel.CITY)
    d = f.department
    depts = {
        "em_a": d(region=a, type=T.EMERGENCY, name="A省应急管理厅"),
        "em_a1": d(region=a1, type=T.EMERGENCY, name="A1市应急管理局"),
        "health_a1": d(region=a1, type=T.HEALTH, name="A1市卫健委"),
        "fire_a1": d(region=a1, type=T.FIRE, name="A1市消防救援支队"),
        "em_a1a": d(region=a1a, type=T.EMERGENCY, name="A1a县应急管理局"),
        "fire_a1a": d(region=a1a, type=T.FIRE, name="A1a县消防救援大队"),
        "em_a2": d(region=a2, type=T.EMERGENCY, name="A2市应急管理局"),
        "fire_a2": d(region=a2, type=T.FIRE, name="A2市消防救援支队"),
        "em_b": d(region=b, type=T.EMERGENCY, name="B省应急管理厅"),
        "office_b": d(region=b, type=T.RESEARCH, name="B省信息办"),
        "em_b1": d(region=b1, type=T.EMERGENCY, name="B1市应急管理局"),
        "fire_b1": d(region=b1, type=T.FIRE, name="B1市消防救援支队"),
        "bdc_b1": d(region=b1, type=T.BIG_DATA_COMPANY, name="B1市大数据管理中心"),
    }
    group = org_services.leading_group_create(
        actor=admin,
        name="长江联防信息化应急领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[a1, b1],
        information_office=depts["office_b"],
        big_data_center=depts["bdc_b1"],
        members=[depts["fire_b1"]],
    )
    return World(a=a, a1=a1, a1a=a1a, a2=a2, b=b, b1=b1, group=group, **depts)


def open_agreement(w: World, **flags):
    """An active cross-province agreement between A and B (all scopes shared unless `flags` say
    otherwise): the door through which A's departments may name B1 as an affected region."""
    admin = f.admin_user()
    agreement = org_services.agreement_create(
        actor=admin,
        title="A-B 跨域协同协议",
        parties=[w.a, w.b],
        valid_from=timezone.now() - timedelta(days=1),
        **flags,
    )
    return org_services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.ACTIVE)


def rule(severity=Severity.III, **kwargs) -> ReportingRule:
    values = {
        "initial_minutes": 240,
        "county_to_city_minutes": 60,
        "city_to_province_minutes": 120,
        "follow_up_minutes": 240,
        "daily_report": False,
        "remind_before_minutes": 30,
        "escalate_region_after_minutes": 30,
        "escalate_group_after_minutes": 60,
    } | kwargs
    obj, _ = ReportingRule.objects.update_or_create(severity=severity, defaults=values)
    return obj


def plan(
    *,
    category=Category.NATURAL_DISASTER,
    subtype=Subtype.FLOOD,
    severity=Severity.III,
    templates=(("消防力量前置", T.FIRE, 60),),
    is_active=True,
    name=None,
) -> ResponsePlan:
    obj = ResponsePlan.objects.create(
        name=name or f"{category}/{subtype or '*'}/{severity}",
        category=category,
        subtype=subtype,
        severity=severity,
        lead_department_type=T.EMERGENCY,
        is_active=is_active,
    )
    PlanTaskTemplate.objects.bulk_create(
        [PlanTaskTemplate(plan=obj, title=t, target_department_type=k, deadline_minutes=m) for t, k, m in templates]
    )
    return obj


def report_incident(
    w: World,
    *,
    department: Department | None = None,
    regions=None,
    severity=Severity.III,
    category=Category.NATURAL_DISASTER,
    subtype=Subtype.FLOOD,
    first_seen_at: datetime = T0,
    now: datetime | None = None,
    title="长江A1段洪水",
) -> Incident:
    department = department or w.em_a1
    return services.incident_report(
        actor=w.user(department),
        department=department,
        title=title,
        category=category,
        subtype=subtype,
        severity=severity,
        place="江堤",
        first_seen_at=first_seen_at,
        regions=regions,
        now=now or first_seen_at,
    )


def commander(w: World):
    """The emergency-management head of province A: commands every incident reported in A."""
    return w.user(w.em_a, Role.HEAD)


def advance(w: World, incident: Incident, status: str) -> Incident:
    """Walk the incident along the happy path to `status`."""
    path = [IncidentStatus.VERIFIED, IncidentStatus.RESPONDING, IncidentStatus.RECOVERING, IncidentStatus.CLOSED]
    if status == IncidentStatus.REPORTED:
        return incident
    for step in path[: path.index(status) + 1]:
        incident = services.incident_set_status(actor=commander(w), incident=incident, status=step)
    return incident


def initial_clock(incident: Incident, department: Department) -> ReportingClock:
    return ReportingClock.objects.get(incident=incident, department=department, kind=ClockKind.INITIAL)


def ledger_seq() -> int:
    return AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0


def events_since(seq: int):
    return AuditEvent.objects.filter(seq__gt=seq).order_by("seq")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
