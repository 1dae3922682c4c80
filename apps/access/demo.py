"""Data access in the demo scenario: the health department's masked 72-hour grant on the public
security resident list for the flood zone (owner head and information office approve), one
rejected request, one break-glass access by the fire brigade, a demand and a subscription."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.datapool.models import Dataset, Tag
from apps.incidents.demo import SPILL_TITLE
from apps.incidents.models import Incident
from apps.organizations.models import Department

from . import services
from .models import DataDemand, DataGrant, DataRequest

RESIDENTS = "南京市鼓楼区常住人口信息"
HAZMAT = "南京市危险化学品企业名录"
FLOOD = "长江南京—马鞍山段超警戒水位洪水"


def demo_load_access() -> int:
    User = get_user_model()
    users = {
        u.username: u
        for u in User.objects.filter(
            username__in=[
                "nj_weijian_steward",
                "nj_gongan_head",
                "js_xinxiban_head",
                "mas_weijian_steward",
                "nj_yingji_head",
                "nj_xiaofang_head",
                "zj_yingji_steward",
            ]
        )
    }
    residents = Dataset.objects.filter(title=RESIDENTS).select_related("owner", "standard").first()
    hazmat = Dataset.objects.filter(title=HAZMAT).select_related("owner", "standard").first()
    flood = Incident.objects.filter(title=FLOOD).first()
    if len(users) < 7 or residents is None or hazmat is None or flood is None:
        return 0
    if DataRequest.objects.filter(dataset=residents).exists():
        return 0
    dept = {
        d.name: d
        for d in Department.objects.filter(
            name__in=["南京市卫生健康委员会", "马鞍山市卫生健康委员会", "南京市消防救援支队", "镇江市应急管理局"]
        )
    }
    created = 0
    with transaction.atomic():
        request = services.request_create(
            actor=users["nj_weijian_steward"],
            department=dept["南京市卫生健康委员会"],
            dataset=residents,
            fields=["name", "age", "gender", "address", "category"],
            masked_fields=["id_number", "phone"],
            row_filter=[{"field": "_region", "op": "within", "value": "320106"}],
            purpose="洪水淹没区重点关爱人员健康随访与转移安置医疗保障",
            legal_basis="《中华人民共和国突发事件应对法》第五十四条；《江苏省防汛防旱应急预案》",
            duration_hours=72,
            incident=flood,
        )
        for approver in ("nj_gongan_head", "js_xinxiban_head"):
            if request.status == "submitted":
                # seeded as if each head had verified their session with an authenticator code
                request = services.request_decide(
                    actor=users[approver],
                    request=request,
                    decision="approve",
                    reason="同意，限用于本次洪水应急",
                    second_factor=True,
                )
        created += 1
        rejected = services.request_create(
            actor=users["mas_weijian_steward"],
            department=dept["马鞍山市卫生健康委员会"],
            dataset=hazmat,
            fields=["enterprise", "chemical", "stock_t"],
            purpose="了解南京危化品企业分布",
            legal_basis="工作需要",
            duration_hours=168,
        )
        services.request_decide(
            actor=users["nj_yingji_head"],
            request=rejected,
            decision="reject",
            reason="用途与当前应急处置无关，法律依据不足；请关联具体事件并说明法定依据后重新申请。",
        )
        created += 1
        if not DataGrant.objects.filter(dataset=residents, is_emergency=True).exists():
            services.emergency_access_open(
                actor=users["nj_xiaofang_head"],
                department=dept["南京市消防救援支队"],
                dataset=residents,
                incident=flood,
                justification="鼓楼区江堤管涌，需立即核实被困独居老人住址与联系电话组织转移",
                hours=6,
            )
            created += 1
        if not DataDemand.objects.exists():
            services.demand_post(
                actor=users["zj_yingji_steward"],
                department=dept["镇江市应急管理局"],
                title="长江沿岸危化品企业储量与值班电话",
                description="洪水次生危化品泄漏风险研判需要上游沿江危化品企业的品名、储量与值班电话。",
                standard_code="hazmat",
                tags=list(Tag.objects.filter(code="hazardous")),
                incident=Incident.objects.filter(title=SPILL_TITLE).first(),
            )
            created += 1
        if request.status == "granted":
            services.subscribe(
                actor=users["nj_weijian_steward"], department=dept["南京市卫生健康委员会"], dataset=residents
            )
            created += 1
    return created
