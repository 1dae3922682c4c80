"""Data sharing (数据共享): a derived subset of one dataset loaded into another through the same
loader, into the department's own dataset or into a leading group's pool."""

from dataclasses import dataclass

import pytest
from django.utils import translation

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.core.scoping import forget_principal
from apps.datapool import services
from apps.datapool.choices import Classification
from apps.datapool.demo import RESIDENT_FIELDS
from apps.datapool.models import DataStandard, IngestionJob, Record
from apps.datapool.sharing import dataset_share, share_run
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType, LeadingGroupKind
from apps.organizations.models import Membership
from tests.datapool.world import csv_bytes, load_bytes, pool_world
from tests.factories import admin_user, department, member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The assertions read the services' English messages; the platform's default is Chinese."""
    with translation.override("en"):
        yield


HEADER = [f["label"] for f in RESIDENT_FIELDS]
PEOPLE = [
    # id number, name, age, category
    ("320106194001010011", "赵一", "86", "重点关爱"),
    ("320106195001010021", "钱二", "74", "常住"),
    ("320106198001010031", "孙三", "46", "重点关爱"),
    ("320106199001010041", "李四", "36", "流动"),
    ("320106200001010051", "周五", "26", "常住"),
]


def row(id_number, name, age, category):
    return [
        id_number,
        name,
        "13900000000",
        "南京市鼓楼区中山北路1号",
        "320106",
        age,
        "男",
        category,
        "2026-11-01 08:00",
    ]


@dataclass
class ShareWorld:
    w: object
    pool: object  # the leading group's pool, owned by its big-data center
    group: object
    center_steward: object


@pytest.fixture
def sw():
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, csv_bytes([HEADER, *[row(*p) for p in PEOPLE]]))
    assert job.rows_accepted == len(PEOPLE), job.error_message()
    admin = admin_user()
    office = department(region=w.province, type=DepartmentType.RESEARCH)
    center = department(region=w.province, type=DepartmentType.BIG_DATA_COMPANY)
    group = org_services.leading_group_create(
        actor=admin,
        name="防汛信息化应急领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[w.city],
        information_office=office,
        big_data_center=center,
        members=[w.owner],
    )
    forget_principal(w.steward)  # its department joined a group after its principal was loaded
    center_steward = member(center, Role.STEWARD)
    pool = services.dataset_create(
        actor=center_steward,
        owner=center,
        standard=w.standard,
        title="领导小组数据池",
        classification=Classification.SECRET,
        leading_group=group,
    )
    return ShareWorld(w, pool, group, center_steward)


def own_target(w, title="重点关爱人员", classification=Classification.SENSITIVE, standard=None):
    return services.dataset_create(
        actor=w.steward, owner=w.owner, standard=standard or w.standard, title=title, classification=classification
    )


def test_share_a_filtered_subset_into_the_departments_own_dataset(sw):
    # Given: the residents, and another dataset of the same department
    w = sw.w
    target = own_target(w)

    # When: the steward shares ID number, name, age and category of the vulnerable residents
    job = dataset_share(
        actor=w.steward,
        source=w.dataset,
        target=target,
        fields=["id_number", "name", "age", "category"],
        filters={"category": "重点关爱"},
    )
    assert (job.status, job.channel, job.options["rows_expected"]) == ("queued", "share", 2)
    job = share_run(job_id=job.pk)

    # Then: exactly those records, with only those fields, went through the loader
    assert (job.status, job.rows_read, job.rows_accepted, job.rows_rejected) == ("succeeded", 2, 2, 0)
    payloads = {p["id_number"]: p for p in Record.objects.filter(dataset=target).values_list("payload", flat=True)}
    assert payloads == {
        "320106194001010011": {"id_number": "320106194001010011", "name": "赵一", "age": 86, "category": "重点关爱"},
        "320106198001010031": {"id_number": "320106198001010031", "name": "孙三", "age": 46, "category": "重点关爱"},
    }
    assert set(Record.objects.get(dataset=target, payload__name="赵一").tags) == {"vulnerable"}  # the target's rules
    # … with its provenance on the job and the share in the ledger
    assert job.options["share"] == {
        "source": w.dataset.pk,
        "source_title": w.dataset.title,
        "source_owner": w.owner.pk,
        "source_standard": w.standard.pk,
        "fields": ["id_number", "name", "age", "category"],
        "filters": {"category": ["重点关爱"]},
    }
    [event] = AuditEvent.objects.filter(action="dataset.share")
    assert (event.actor_id, event.target_id) == (w.steward.pk, str(w.dataset.pk))
    assert event.after["target"] == target.pk and event.after["records"] == 2
    target.refresh_from_db()
    assert target.record_count == 2 and target.quality_score is not None


def test_share_into_the_leading_groups_pool(sw, django_capture_on_commit_callbacks):
    w = sw.w
    with django_capture_on_commit_callbacks(execute=True):  # the task runs (eagerly) after commit
        job = dataset_share(
            actor=w.steward,
            source=w.dataset,
            target=sw.pool,
            fields=["id_number", "name", "age"],
            filters={"age": ["86", 74]},  # typed like a load: "86" is the integer 86
        )

    job.refresh_from_db()
    assert (job.status, job.rows_accepted, job.department_id) == ("succeeded", 2, w.owner.pk)
    names = set(Record.objects.filter(dataset=sw.pool).values_list("payload__name", flat=True))
    assert names == {"赵一", "钱二"}
    # the pool's records are its owner's; the contributor sees its job, not the pool's records
    assert IngestionJob.objects.restrict(w.steward, "view").filter(pk=job.pk).exists()
    assert not Record.objects.restrict(w.steward, "view").filter(dataset=sw.pool).exists()
    assert Record.objects.restrict(sw.center_steward, "view").filter(dataset=sw.pool).count() == 2


def test_running_a_share_again_adds_nothing(sw):
    w = sw.w
    job = dataset_share(actor=w.steward, source=w.dataset, target=own_target(w), fields=["id_number", "name"])
    share_run(job_id=job.pk)

    again = share_run(job_id=job.pk)

    assert again.status == "succeeded"
    assert Record.objects.filter(job=job).count() == len(PEOPLE)


def test_a_department_outside_the_pool_cannot_share_into_it(sw):
    # Given: another department's steward with a dataset of its own, not in the leading group
    w = sw.w
    theirs = services.dataset_create(actor=w.outsider, owner=w.other, standard=w.standard, title="他部门人口")

    with pytest.raises(AccessDenied) as denied:
        dataset_share(actor=w.outsider, source=theirs, target=sw.pool, fields=["id_number", "name"])

    assert denied.value.hidden  # a secret pool of a group it is not in: 404
    assert not IngestionJob.objects.filter(channel="share").exists()
    assert not AuditEvent.objects.filter(action="dataset.share").exists()


def test_sharing_needs_a_steward_of_the_source(sw):
    w = sw.w
    with pytest.raises(AccessDenied):
        dataset_share(actor=w.staff, source=w.dataset, target=own_target(w), fields=["id_number", "name"])
    with pytest.raises(AccessDenied):  # the pool's own steward may not take the department's records
        dataset_share(actor=sw.center_steward, source=w.dataset, target=sw.pool, fields=["id_number", "name"])


@pytest.mark.parametrize(
    ("fields", "filters", "field", "words"),
    [
        (["id_number", "name", "age"], {}, "fields", "target"),  # the fever standard has no age
        (["id_number", "name"], {}, "fields", "requires"),  # … and requires clinic and visit time
        (["id_number", "shoe_size"], {}, "fields", "source"),
        ([], {}, "fields", "Choose"),
    ],
)
def test_fields_must_exist_in_both_standards(sw, fields, filters, field, words):
    w = sw.w
    fever = own_target(w, title="发热门诊", standard=DataStandard.objects.get(code="fever-clinic"))

    with pytest.raises(ServiceError) as refused:
        dataset_share(actor=w.steward, source=w.dataset, target=fever, fields=fields, filters=filters)

    assert refused.value.field == field and words in str(refused.value.message)


@pytest.mark.parametrize(
    "filters",
    [{"shoe_size": "42"}, {"age": "old"}, {"age": []}, {"age": {"gte": 70}}, "category=常住"],
)
def test_filters_are_simple_matches_on_standard_fields(sw, filters):
    w = sw.w
    with pytest.raises(ServiceError) as refused:
        dataset_share(
            actor=w.steward, source=w.dataset, target=own_target(w), fields=["id_number", "name"], filters=filters
        )
    assert refused.value.field == "filters"


def test_a_share_never_lowers_protection(sw):
    w = sw.w
    internal = own_target(w, title="内部名单", classification=Classification.INTERNAL)
    with pytest.raises(ServiceError) as refused:
        dataset_share(actor=w.steward, source=w.dataset, target=internal, fields=["id_number", "name"])
    assert refused.value.field == "target"
    # a standard where the ID number is not sensitive cannot receive it from one where it is
    open_fields = [{**f, "sensitive": False} for f in RESIDENT_FIELDS]
    lax = DataStandard.objects.create(
        code="resident-lax", name="宽松人口", fields=open_fields, key_fields=["id_number"]
    )
    with pytest.raises(ServiceError) as exposed:
        dataset_share(
            actor=w.steward,
            source=w.dataset,
            target=own_target(w, title="宽松", standard=lax),
            fields=["id_number", "name"],
        )
    assert "sensitive" in str(exposed.value.message)


def test_a_share_whose_sharer_lost_the_role_fails_when_it_runs(sw):
    w = sw.w
    job = dataset_share(actor=w.steward, source=w.dataset, target=own_target(w), fields=["id_number", "name"])
    membership = Membership.objects.get(user=w.steward, department=w.owner)
    org_services.membership_remove(actor=admin_user(), membership=membership)

    job = share_run(job_id=job.pk)

    assert (job.status, job.error_code) == ("failed", "share")
    assert "no longer" in job.error_message()
    assert not Record.objects.filter(job=job).exists()
