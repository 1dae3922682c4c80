"""Demo: a cross-province flood on the Yangtze (Nanjing and Ma'anshan, raised from III to II) with a
chemical-plant spill downstream in Zhenjiang (severity II), plans activated, two situation reports
(one late, with its reason), one warning published. Idempotent.

Time is never faked: every step happens at the present moment in the order it is told, so the
timeline reads in that order; only the first sighting lies in the past, which is what makes the
first report late.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.organizations.models import Department, LeadingGroup, Region

from . import services
from .choices import Category, IncidentStatus, ReportKind, Severity, Subtype, WarningLevel
from .models import Incident, PlanTaskTemplate, ReportingRule, ResponsePlan

FLOOD_TITLE = "长江南京—马鞍山段超警戒水位洪水"
SPILL_TITLE = "镇江新区化工园区危化品泄漏（洪水次生）"
# The demo's cities in the order the Yangtze flows through them: Wuhu → Ma'anshan → Nanjing → Zhenjiang.
YANGTZE_DOWNSTREAM = ("340200", "340500", "320100", "321100")


def _plans() -> int:
    created = 0
    rules = [(1, 240, False), (2, 240, False), (3, 480, False), (4, 1440, True)]
    for severity, minutes, daily in rules:
        _, made = ReportingRule.objects.get_or_create(
            severity=severity, defaults={"initial_minutes": minutes, "daily_report": daily}
        )
        created += made
    specs = [
        (
            "防汛Ⅱ级应急响应预案",
            Category.NATURAL_DISASTER,
            Subtype.FLOOD,
            Severity.II,
            "emergency",
            ["media", "community"],
            [
                ("组织沿江低洼地区群众转移", "community", 120),
                ("消防救援力量前置备勤", "fire", 60),
                ("开展灾区卫生防疫", "health", 240),
                ("保障抢险通道畅通", "transport", 180),
            ],
        ),
        (
            "危化品泄漏Ⅱ级应急响应预案",
            Category.ACCIDENT,
            Subtype.CHEMICAL_SPILL,
            Severity.II,
            "environment",
            ["health"],
            [
                ("划定警戒区并疏散下风向群众", "public_security", 60),
                ("开展水体与大气监测", "environment", 120),
                ("组织危化品堵漏与洗消", "fire", 90),
            ],
        ),
        (
            "防汛Ⅲ级应急响应预案",
            Category.NATURAL_DISASTER,
            Subtype.FLOOD,
            Severity.III,
            "emergency",
            [],
            [
                ("加强堤防巡查", "emergency", 240),
            ],
        ),
    ]
    for name, category, subtype, severity, lead, notify_types, tasks in specs:
        plan, made = ResponsePlan.objects.get_or_create(
            name=name,
            defaults={
                "category": category,
                "subtype": subtype,
                "severity": severity,
                "lead_department_type": lead,
                "notify_department_types": notify_types,
                "data_approval_depth": 2,
            },
        )
        if made:
            created += 1
            PlanTaskTemplate.objects.bulk_create(
                [
                    PlanTaskTemplate(plan=plan, title=t, target_department_type=d, deadline_minutes=m)
                    for t, d, m in tasks
                ]
            )
    return created


@transaction.atomic
def demo_load_incidents() -> int:
    created = _plans()
    if Incident.objects.filter(title=FLOOD_TITLE).exists():
        return created
    User = get_user_model()
    office_head = User.objects.get(username="js_xinxiban_head")
    nj, mas, zj = (Region.objects.get(code=code) for code in ("320100", "340500", "321100"))
    nj_em = Department.objects.get(region=nj, type="emergency")
    zj_em = Department.objects.get(region=zj, type="emergency")
    zj_env = Department.objects.get(region=zj, type="environment")
    group = LeadingGroup.objects.get(name="长江南京—马鞍山段信息化应急领导小组")
    now = timezone.now()

    flood = services.incident_report(
        actor=User.objects.get(username="nj_yingji_staff"),
        department=nj_em,
        title=FLOOD_TITLE,
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place="长江南京段至马鞍山段沿江堤防",
        latitude="31.9800",
        longitude="118.6000",
        first_seen_at=now - timedelta(hours=5),
        regions=[nj, mas],
        description="受上游持续强降雨影响，长江南京站水位超警戒线1.2米，马鞍山段出现管涌险情。",
    )
    services.incident_assign_leading_group(actor=office_head, incident=flood, group=group)
    services.incident_verify(actor=office_head, incident=flood)
    services.incident_set_severity(
        actor=office_head, incident=flood, severity=Severity.II, reason="水位持续上涨，险情扩大到两省"
    )
    services.incident_set_status(actor=office_head, incident=flood, status=IncidentStatus.RESPONDING)
    # Nanjing's initial report was due 3 hours after first sight and comes 5 hours after: late (迟报).
    services.report_submit(
        actor=User.objects.get(username="nj_yingji_staff"),
        incident=flood,
        department=nj_em,
        kind=ReportKind.INITIAL,
        text="南京段江堤出现渗水，已转移沿江群众1,200人。",
        affected_population=18000,
        evacuated=1200,
        resources_deployed="抢险队伍6支、冲锋舟12艘",
        late_reason="夜间通信中断，现场核实后补报",
    )
    # Its follow-up (续报) is due on the cadence its initial report started: on time.
    services.report_submit(
        actor=User.objects.get(username="nj_yingji_staff"),
        incident=flood,
        department=nj_em,
        kind=ReportKind.FOLLOW_UP,
        text="会同马鞍山市应急管理局通报：马鞍山段出现管涌2处，已组织封堵；两地累计转移群众1,800人。",
        affected_population=27000,
        evacuated=1800,
        injured=3,
        resources_deployed="抢险队伍11支、冲锋舟20艘",
    )

    # Downstream of the flooded reach: the flood crest passing Nanjing reaches Zhenjiang's riverside
    # chemical park. The pollution travels with the river, away from the cities upstream.
    spill = services.incident_report(
        actor=User.objects.get(username="zj_yingji_staff"),
        department=zj_em,
        title=SPILL_TITLE,
        category=Category.ACCIDENT,
        subtype=Subtype.CHEMICAL_SPILL,
        severity=Severity.II,
        place="镇江新区化工园区沿江排口",
        latitude="32.1900",
        longitude="119.6900",
        first_seen_at=now - timedelta(hours=2),
        regions=[zj],
        description="南京段洪峰过境后江水漫入镇江新区化工园区，储罐区发生苯乙烯泄漏，随江水向下游扩散。",
    )
    services.incident_assign_leading_group(actor=office_head, incident=spill, group=group)
    services.incident_verify(actor=office_head, incident=spill)

    warning = services.warning_draft(
        actor=User.objects.get(username="zj_huanjing_head"),
        issuer=zj_env,
        region=zj,
        level=WarningLevel.ORANGE,
        title="长江镇江段及下游水体苯乙烯污染橙色预警",
        area="镇江市沿江取水口及下游沿江地区",
        starts_at=now,
        expected_hours=48,
        incident=spill,
        measures="沿江水厂暂停取水；居民避免接触江水；下风向群众关闭门窗。",
    )
    services.warning_review(actor=office_head, warning=warning)
    services.warning_publish(actor=office_head, warning=warning)
    return created + 3
