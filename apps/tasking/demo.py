"""Demo: the flood plan's tasks a few hours into the response. Nanjing's fire brigade accepted and
is at work; its transport bureau declined and the information office re-assigned the task to the
traffic police; its health commission handed its task over to the environment bureau; and a task
the information office gave Ma'anshan's community office went overdue and escalated step by step.

Everything goes through the task services (ledger, history, notifications as in production).
Idempotent: each step acts only on a task still in the state it starts from, and the overdue task
is dispatched once. Time is never faked: the overdue task is dispatched with `now=` three hours
ago, and the escalation job runs at the real present, after its deadline.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.incidents.demo import FLOOD_TITLE
from apps.incidents.models import Incident
from apps.organizations.choices import DepartmentType, LeadingGroupRole
from apps.organizations.models import Department, Region

from . import services
from .choices import Priority, TaskStatus
from .models import Task

OFFICE_HEAD = "js_xinxiban_head"  # head of the leading group's information office (江苏省应急管理厅)
OVERDUE_TITLE = "核查马鞍山段管涌点周边住户转移情况"


def _user(username: str):
    return get_user_model().objects.get(username=username)


def _department(region: Region, type_: str) -> Department:
    return Department.objects.get(region=region, type=type_)


def _untouched(incident: Incident, department: Department) -> Task | None:
    """The task the flood plan dispatched to `department`, if it is still issued to it (a task
    re-assigned back to `issued` has another department, so it is not taken twice)."""
    return Task.objects.filter(
        incident=incident, planned_dispatch__department=department, department=department, status=TaskStatus.ISSUED
    ).first()


@transaction.atomic
def demo_load_tasks() -> int:
    """Play the task scenario on the flood incident; return how many steps were taken."""
    flood = Incident.objects.filter(title=FLOOD_TITLE).first()
    if flood is None:
        return 0
    nj, mas = Region.objects.get(code="320100"), Region.objects.get(code="340500")
    office_head = _user(OFFICE_HEAD)
    done = 0

    # Fire accepts at once and starts work.
    fire = _untouched(flood, _department(nj, DepartmentType.FIRE))
    if fire is not None:
        services.task_accept(actor=_user("nj_xiaofang_head"), task=fire)
        services.task_start(actor=_user("nj_xiaofang_staff"), task=fire)
        services.task_progress(
            actor=_user("nj_xiaofang_staff"), task=fire, body="已在江北沿江堤段前置救援队伍3支、冲锋舟8艘，24小时备勤。"
        )
        done += 1

    # Transport declines with a reason; the information office re-assigns to the traffic police.
    transport = _untouched(flood, _department(nj, DepartmentType.TRANSPORT))
    if transport is not None:
        services.task_decline(
            actor=_user("nj_jiaotong_head"),
            task=transport,
            reason="抢险通道的交通管制与疏导属公安交管部门职责，我局无现场执法力量。",
        )
        services.task_reassign(
            actor=office_head,
            task=transport,
            department=_department(nj, DepartmentType.TRAFFIC_POLICE),
            note="改由南京市公安交通管理支队负责抢险通道交通管制，交通运输局保障抢险车辆调度。",
        )
        done += 1

    # Health asks the environment bureau to take over; it accepts (the deadline does not move).
    health = _untouched(flood, _department(nj, DepartmentType.HEALTH))
    if health is not None:
        services.task_request_transfer(
            actor=_user("nj_weijian_head"),
            task=health,
            to_department=_department(nj, DepartmentType.ENVIRONMENT),
            reason="当前防疫重点是饮用水源地消毒与水质监测，宜由生态环境局牵头，我委派员配合。",
        )
        services.task_transfer_accept(actor=_user("nj_huanjing_head"), task=health)
        done += 1

    # An urgent task nobody acknowledged: reminded, escalated to the head, then to the group.
    if not Task.objects.filter(incident=flood, title=OVERDUE_TITLE).exists():
        now = timezone.now()
        group = flood.leading_group
        office = group.seat_of(LeadingGroupRole.INFORMATION_OFFICE).department
        services.task_dispatch(
            actor=office_head,
            issuer_department=office,
            issuer_group=group,
            departments=[_department(mas, DepartmentType.COMMUNITY)],
            title=OVERDUE_TITLE,
            instructions="逐户核查管涌点周边500米内住户转移情况，2小时内报送名单。",
            priority=Priority.URGENT,
            incident=flood,
            now=now - timedelta(hours=3),
            deadline=now - timedelta(hours=1),
        )
        services.tasks_escalate(now=now)  # what the beat job does at the present moment
        done += 1
    return done
