"""The data pool of the demo scenario: four standards, tags and rules, and datasets loaded through
the real ingestion path (one of them from a GB18030 file, as Chinese spreadsheets are saved)."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.organizations.models import Department, LeadingGroup

from .choices import Classification, SourceKind, UpdateFrequency
from .models import Dataset, DataStandard, QualityRule, Tag, TagRule

RESIDENT_FIELDS = [
    {
        "name": "id_number",
        "label": "身份证号",
        "label_en": "ID number",
        "type": "string",
        "required": True,
        "pattern": r"^\d{17}[\dXx]$",
        "sensitive": True,
        "link": "id_number",
    },
    {
        "name": "name",
        "label": "姓名",
        "label_en": "Name",
        "type": "string",
        "required": True,
        "max_length": 50,
        "sensitive": True,
    },
    {"name": "phone", "label": "联系电话", "label_en": "Phone", "type": "string", "sensitive": True, "link": "phone"},
    {"name": "address", "label": "住址", "label_en": "Address", "type": "string", "link": "address"},
    {
        "name": "place_code",
        "label": "行政区划代码",
        "label_en": "Division code",
        "type": "string",
        "pattern": r"^\d{6,12}$",
        "link": "place_code",
    },
    {"name": "age", "label": "年龄", "label_en": "Age", "type": "integer", "min": 0, "max": 150},
    {"name": "gender", "label": "性别", "label_en": "Gender", "type": "string", "codes": ["男", "女"]},
    {
        "name": "category",
        "label": "人员类别",
        "label_en": "Category",
        "type": "string",
        "codes": ["常住", "流动", "重点关爱"],
    },
    {"name": "observed_at", "label": "登记时间", "label_en": "Registered at", "type": "datetime"},
]
FEVER_FIELDS = [
    {
        "name": "id_number",
        "label": "身份证号",
        "label_en": "ID number",
        "type": "string",
        "required": True,
        "pattern": r"^\d{17}[\dXx]$",
        "sensitive": True,
        "link": "id_number",
    },
    {"name": "name", "label": "姓名", "label_en": "Name", "type": "string", "required": True, "sensitive": True},
    {"name": "phone", "label": "联系电话", "label_en": "Phone", "type": "string", "sensitive": True, "link": "phone"},
    {"name": "clinic", "label": "就诊机构", "label_en": "Clinic", "type": "string", "required": True},
    {
        "name": "place_code",
        "label": "行政区划代码",
        "label_en": "Division code",
        "type": "string",
        "link": "place_code",
    },
    {"name": "temperature", "label": "体温", "label_en": "Temperature", "type": "number", "min": 34, "max": 43},
    {"name": "visited_at", "label": "就诊时间", "label_en": "Visited at", "type": "datetime", "required": True},
]
RIVER_FIELDS = [
    {"name": "station", "label": "测站", "label_en": "Station", "type": "string", "required": True},
    {
        "name": "place_code",
        "label": "行政区划代码",
        "label_en": "Division code",
        "type": "string",
        "link": "place_code",
    },
    {
        "name": "level_m",
        "label": "水位(米)",
        "label_en": "Level (m)",
        "type": "number",
        "required": True,
        "min": -10,
        "max": 100,
    },
    {"name": "warning_m", "label": "警戒水位(米)", "label_en": "Warning level (m)", "type": "number"},
    {"name": "measured_at", "label": "观测时间", "label_en": "Measured at", "type": "datetime", "required": True},
]
HAZMAT_FIELDS = [
    {
        "name": "credit_code",
        "label": "统一社会信用代码",
        "label_en": "Credit code",
        "type": "string",
        "required": True,
        "pattern": r"^[0-9A-Z]{18}$",
    },
    {"name": "enterprise", "label": "企业名称", "label_en": "Enterprise", "type": "string", "required": True},
    {"name": "address", "label": "地址", "label_en": "Address", "type": "string", "link": "address"},
    {
        "name": "place_code",
        "label": "行政区划代码",
        "label_en": "Division code",
        "type": "string",
        "link": "place_code",
    },
    {"name": "chemical", "label": "危化品名称", "label_en": "Chemical", "type": "string", "required": True},
    {
        "name": "hazard_class",
        "label": "危险类别",
        "label_en": "Hazard class",
        "type": "string",
        "codes": ["易燃", "有毒", "腐蚀", "爆炸", "氧化"],
    },
    {"name": "stock_t", "label": "储量(吨)", "label_en": "Stock (t)", "type": "number", "min": 0},
    {"name": "phone", "label": "值班电话", "label_en": "Duty phone", "type": "string", "link": "phone"},
]

STANDARDS = [
    # code, name, fields, identity fields, observed, region
    ("resident", "常住人口基础信息", RESIDENT_FIELDS, ["id_number"], "observed_at", "place_code"),
    ("fever-clinic", "发热门诊就诊记录", FEVER_FIELDS, ["id_number", "visited_at"], "visited_at", "place_code"),
    ("river-level", "河道水位监测", RIVER_FIELDS, ["station", "measured_at"], "measured_at", "place_code"),
    ("hazmat", "危险化学品企业", HAZMAT_FIELDS, ["credit_code", "chemical"], "", "place_code"),
]
TAGS = [
    ("vulnerable", "重点关爱人员", "Vulnerable person"),
    ("hazardous", "危险化学品", "Hazardous material"),
    ("flood", "防汛", "Flood control"),
    ("epidemic", "疫情防控", "Epidemic control"),
    ("fever", "发热", "Fever"),
]


def standards_ensure() -> dict[str, DataStandard]:
    """The demo standards (version 1), their quality and tagging rules, and the tag vocabulary."""
    tags = {}
    for code, name, name_en in TAGS:
        tags[code], _ = Tag.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
    out = {}
    for code, name, fields, keys, observed, region in STANDARDS:
        standard, created = DataStandard.objects.get_or_create(
            code=code,
            version=1,
            defaults={
                "name": name,
                "fields": fields,
                "key_fields": keys,
                "observed_field": observed,
                "region_field": region,
            },
        )
        out[code] = standard
        if not created:
            continue
        QualityRule.objects.create(standard=standard, kind="uniqueness", weight=2)
        QualityRule.objects.create(standard=standard, kind="freshness", weight=1)
        if code == "resident":
            QualityRule.objects.create(standard=standard, kind="required", field="phone", weight=1)
            QualityRule.objects.create(standard=standard, kind="required", field="address", weight=1)
            TagRule.objects.create(standard=standard, tag=tags["vulnerable"], field="age", op="gte", value=70)
            TagRule.objects.create(
                standard=standard, tag=tags["vulnerable"], field="category", op="eq", value="重点关爱"
            )
        if code == "fever-clinic":
            QualityRule.objects.create(
                standard=standard, kind="range", field="temperature", params={"min": 35, "max": 42}
            )
            TagRule.objects.create(standard=standard, tag=tags["fever"], field="temperature", op="gte", value=37.3)
        if code == "hazmat":
            TagRule.objects.create(
                standard=standard, tag=tags["hazardous"], field="hazard_class", op="in", value=["易燃", "有毒", "爆炸"]
            )
        if code == "river-level":
            QualityRule.objects.create(standard=standard, kind="required", field="warning_m", weight=1)
    return out


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "涛", "明", "超", "霞", "平"]


STREETS = {"32": "南京市鼓楼区中山北路", "34": "马鞍山市雨山区湖东中路"}


def _id_number(rng: random.Random, place: str, i: int) -> str:
    body = f"{place}{1940 + rng.randrange(80)}{1 + rng.randrange(12):02d}{1 + rng.randrange(28):02d}{i % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def resident_rows(n: int, *, place: str = "320106", seed: int = 7, bad: int = 0) -> list[list[str]]:
    """`n` resident rows (header first) with `bad` malformed ones among them."""
    rng = random.Random(seed)  # noqa: S311 - repeatable demo data, not secrets
    rows = [[f["label"] for f in RESIDENT_FIELDS]]
    start = datetime(2026, 11, 1, 8, 0)
    for i in range(n):
        row = [
            _id_number(rng, place, i),
            rng.choice(SURNAMES) + rng.choice(GIVEN),
            f"13{rng.randrange(10)}{rng.randrange(10**8):08d}",
            f"{STREETS.get(place[:2], '南京市鼓楼区中山北路')}{rng.randrange(1, 400)}号{rng.randrange(1, 30)}栋",
            place,
            str(rng.randrange(1, 99)),
            rng.choice(["男", "女"]),
            rng.choice(["常住", "常住", "流动", "重点关爱"]),
            (start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S"),
        ]
        rows.append(row)
    for j in range(bad):
        broken = list(rows[1 + j * 3 % max(n, 1)])
        broken[5] = ["abc", "200", "-1"][j % 3]
        rows.append(broken)
    return rows


def fever_rows(residents: list[list[str]], n: int, *, seed: int = 11) -> list[list[str]]:
    """Fever-clinic visits of `n` of the residents, their ID numbers and phones written the way
    another department's system writes them (lower-case x, spaces, +86), so linking has work."""
    rng = random.Random(seed)  # noqa: S311 - repeatable demo data, not secrets
    rows = [[f["label"] for f in FEVER_FIELDS]]
    start = datetime(2026, 11, 20, 9, 0)
    for i, person in enumerate(rng.sample(residents[1:], min(n, len(residents) - 1))):
        rows.append(
            [
                person[0].lower(),
                person[1],
                f"+86 {person[2][:3]} {person[2][3:7]} {person[2][7:]}",
                rng.choice(["鼓楼医院发热门诊", "江苏省人民医院发热门诊", "南京市第二医院发热门诊"]),
                person[4],
                f"{36.2 + rng.random() * 3:.1f}",
                (start + timedelta(minutes=17 * i)).strftime("%Y-%m-%d %H:%M"),
            ]
        )
    return rows


def hazmat_rows() -> list[list[str]]:
    rows = [[f["label"] for f in HAZMAT_FIELDS]]
    data = [
        (
            "91320100MA1XXXXX1A",
            "南京扬子石化储运有限公司",
            "南京市江北新区化工园区方水路1号",
            "320117",
            "液氯",
            "有毒",
            "120",
        ),
        ("91320100MA1XXXXX2B", "南京长江化工仓储有限公司", "南京市栖霞区龙潭港路8号", "320113", "甲醇", "易燃", "800"),
        (
            "91320100MA1XXXXX3C",
            "金陵新材料有限公司",
            "南京市六合区长芦街道新华路66号",
            "320116",
            "硝酸铵",
            "爆炸",
            "35",
        ),
        ("91320100MA1XXXXX4D", "南京滨江氧化剂厂", "南京市浦口区桥林街道滨江路2号", "320111", "过氧化氢", "氧化", "60"),
    ]
    for credit, name, address, place, chemical, hazard, stock in data:
        rows.append([credit, name, address, place, chemical, hazard, stock, "025-5888 0101"])
    return rows


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def demo_load_datapool() -> int:
    """Datasets of the demo departments, loaded through the real channels; idempotent."""
    from . import services

    created = 0
    User = get_user_model()
    standards = standards_ensure()
    tags = {t.code: t for t in Tag.objects.all()}
    group = LeadingGroup.objects.filter(name="长江南京—马鞍山段信息化应急领导小组").first()

    def dept(name: str) -> Department | None:
        return Department.objects.filter(name=name).first()

    nj_residents = resident_rows(400, place="320106", bad=6)
    plans = [
        # owner, steward, title, standard, source, classification, frequency, tags, pool?, rows, encoding
        ("南京市公安局", "nj_gongan_steward", "南京市鼓楼区常住人口信息", "resident", SourceKind.BASE,
         Classification.SENSITIVE, UpdateFrequency.DAILY, ["vulnerable", "flood"], False, nj_residents, "gb18030"),
        ("马鞍山市公安局", "mas_gongan_steward", "马鞍山市雨山区常住人口信息", "resident", SourceKind.BASE,
         Classification.SENSITIVE, UpdateFrequency.DAILY, ["vulnerable"], False,
         resident_rows(200, place="340504", seed=13), "utf-8"),
        ("南京市卫生健康委员会", "nj_weijian_steward", "南京市发热门诊就诊记录", "fever-clinic",
         SourceKind.DEPARTMENT, Classification.SENSITIVE, UpdateFrequency.HOURLY, ["epidemic", "fever"], False,
         fever_rows(nj_residents, 40), "utf-8"),
        ("长江流域应急大数据管理中心", "center_steward", "长江南京—马鞍山段应急数据池", "resident", SourceKind.BASE,
         Classification.SECRET, UpdateFrequency.DAILY, ["flood"], True, None, ""),
        ("南京市应急管理局", "nj_yingji_steward", "南京市危险化学品企业名录", "hazmat", SourceKind.DEPARTMENT,
         Classification.INTERNAL, UpdateFrequency.MONTHLY, ["hazardous"], False, hazmat_rows(), "utf-8"),
    ]  # fmt: skip
    for owner_name, username, title, std, kind, cls, freq, tag_codes, in_pool, rows, encoding in plans:
        owner = dept(owner_name)
        actor = User.objects.filter(username=username).first()
        if owner is None or actor is None or Dataset.objects.filter(owner=owner, title=title).exists():
            continue
        pool = group if in_pool and group is not None and group.seats.filter(department=owner).exists() else None
        dataset = services.dataset_create(
            actor=actor,
            owner=owner,
            standard=standards[std],
            title=title,
            description=f"{title}（演示数据）",
            source_kind=kind,
            classification=cls,
            update_frequency=freq,
            tags=[tags[c] for c in tag_codes],
            leading_group=pool,
        )
        created += 1
        if rows:
            data = csv_bytes(rows, encoding)
            with transaction.atomic():
                job = services.ingestion_submit_file(
                    actor=actor, dataset=dataset, upload=services.spool_upload(data, f"{title}.csv")
                )
            services.ingestion_run(job.pk)  # in-process, whether or not a broker is configured
            created += 1
    return created
