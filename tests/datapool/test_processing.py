"""Processing (数据处理): linking, comparison, fusion and identification over loaded records."""

import pytest

from apps.core.exceptions import AccessDenied, ServiceError
from apps.datapool import services
from apps.datapool.choices import Classification
from apps.datapool.demo import FEVER_FIELDS, RESIDENT_FIELDS
from apps.datapool.models import DataStandard, Record, RecordLink, Tag, TagRule
from apps.datapool.processing import (
    MAX_LINK_FANOUT,
    dataset_diff,
    duplicates,
    fused_view,
    links_build,
    record_label,
    records_retag,
    records_with_tag,
    tag_codes,
)
from apps.ledger.models import AuditEvent
from tests.datapool.world import csv_bytes, load_bytes, pool_world

pytestmark = pytest.mark.django_db

RESIDENT_HEADER = [f["label"] for f in RESIDENT_FIELDS]
FEVER_HEADER = [f["label"] for f in FEVER_FIELDS]
ID = "32010619800101001X"
ID_FULLWIDTH_LOWER = "３２０１０６１９８００１０１００１x"  # the same number as typed on a phone
PHONE = "13800138000"
PHONE_FORMATTED = "+86 138 0013 8000"


def resident(
    id_number, name="王伟", phone=PHONE, address="南京市鼓楼区中山北路1号", age="40", observed="2026-01-01 08:00"
):
    return [id_number, name, phone, address, "320106", age, "男", "常住", observed]


def fever(id_number, name="王伟", phone=PHONE, temperature="38.2", visited="2026-11-05 09:30"):
    return [id_number, name, phone, "鼓楼医院", "320106", temperature, visited]


def load(actor, dataset, header, rows, name="data.csv"):
    job = load_bytes(actor, dataset, csv_bytes([header, *rows]), name)
    assert job.status == "succeeded", job.error_message()
    assert job.rows_rejected == 0, list(job.rejects.values_list("line", "field", "reason"))
    return job


def id_number(i: int) -> str:
    return f"320106199001{i:05d}1"[:17] + "1"


@pytest.fixture
def w():
    return pool_world()


@pytest.fixture
def fever_standard(w):
    return DataStandard.objects.get(code="fever-clinic", version=1)


def fever_dataset(w, owner, standard, title="发热门诊", classification=Classification.INTERNAL, actor=None):
    from apps.core.permissions import Role
    from tests.factories import member

    actor = actor or member(owner, Role.STEWARD)
    dataset = services.dataset_create(
        actor=actor, owner=owner, standard=standard, title=title, classification=classification
    )
    return dataset, actor


# --- linking (关联) ---


def test_links_the_same_person_across_datasets_despite_formatting(w, fever_standard):
    # Given: a resident, and the same person in another department's fever-clinic records with
    # the ID number in full-width digits and a lowercase x, and the phone with +86 and spaces
    resident_job = load(
        w.steward, w.dataset, RESIDENT_HEADER, [resident(ID), resident(id_number(2), phone="13900000002")]
    )
    assert links_build(job_id=resident_job.pk) == 0  # nothing to link to yet
    clinic, clinic_steward = fever_dataset(w, w.other, fever_standard)
    fever_job = load(clinic_steward, clinic, FEVER_HEADER, [fever(ID_FULLWIDTH_LOWER, phone=PHONE_FORMATTED)])

    # When: the fever load is linked
    made = links_build(job_id=fever_job.pk)

    # Then: one link by ID number and one by phone, each with its rule and version
    person = Record.objects.get(dataset=w.dataset, id_key=ID)
    visit = Record.objects.get(dataset=clinic)
    assert visit.id_key == ID and visit.phone_key == PHONE
    links = {(link.key_kind, link.rule): (link.left_id, link.right_id) for link in RecordLink.objects.all()}
    pair = (min(person.pk, visit.pk), max(person.pk, visit.pk))
    assert links == {("id_number", "id_number@1"): pair, ("phone", "phone@1"): pair}
    assert made == 2


def test_relinking_adds_nothing(w, fever_standard):
    resident_job = load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID)])
    clinic, clinic_steward = fever_dataset(w, w.other, fever_standard)
    fever_job = load(clinic_steward, clinic, FEVER_HEADER, [fever(ID_FULLWIDTH_LOWER, phone=PHONE_FORMATTED)])
    assert links_build(job_id=fever_job.pk) == 2

    assert links_build(job_id=fever_job.pk) == 0
    assert links_build(job_id=resident_job.pk) == 0
    assert RecordLink.objects.count() == 2


def test_a_placeholder_shared_by_too_many_records_links_nothing(w, fever_standard):
    # Given: a hotline number typed into more than MAX_LINK_FANOUT records of two datasets
    hotline = "4000000000"
    half = MAX_LINK_FANOUT // 2 + 1
    residents = [resident(id_number(i), phone=hotline) for i in range(half)]
    visits = [fever(id_number(1000 + i), phone=hotline) for i in range(half)]
    load(w.steward, w.dataset, RESIDENT_HEADER, residents)
    clinic, clinic_steward = fever_dataset(w, w.other, fever_standard)
    fever_job = load(clinic_steward, clinic, FEVER_HEADER, visits)
    assert Record.objects.filter(phone_key=hotline).count() > MAX_LINK_FANOUT

    # When / Then: no phone link is made (and their ID numbers differ, so no link at all)
    assert links_build(job_id=fever_job.pk) == 0
    assert not RecordLink.objects.exists()


def test_records_within_one_dataset_are_not_linked(w):
    first = load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID)], "a.csv")
    second = load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID, name="王 伟")], "b.csv")
    assert links_build(job_id=first.pk) + links_build(job_id=second.pk) == 0


# --- comparison (对比) ---


def test_duplicates_finds_exact_and_near_groups(w):
    rows = [
        resident(id_number(1)),
        resident(id_number(1)),  # exact copy
        resident(id_number(1)),  # exact copy
        resident(id_number(2), address="南京市鼓楼区中山北路2号"),
        resident(id_number(2), address="南京市鼓楼区 中山北路 2 号"),  # same but for spaces
        resident(id_number(3)),
    ]
    load(w.steward, w.dataset, RESIDENT_HEADER, rows)
    ids = list(Record.objects.filter(dataset=w.dataset).order_by("line").values_list("id", flat=True))

    groups = duplicates(user=w.staff, dataset=w.dataset)

    exact = [g for g in groups if g["kind"] == "exact"]
    near = [g for g in groups if g["kind"] == "near"]
    assert [(g["group"], g["count"], g["record_ids"]) for g in exact] == [(f"exact-{ids[0]}", 3, ids[0:3])]
    assert [(g["count"], g["variants"], g["record_ids"]) for g in near] == [(2, 2, ids[3:5])]
    assert all(set(g) <= {"kind", "group", "count", "variants", "record_ids"} for g in groups)  # no hashes


def test_duplicates_and_diff_are_for_record_readers_only(w):
    job = load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID)])
    with pytest.raises(AccessDenied) as denied:
        duplicates(user=w.outsider, dataset=w.dataset)
    assert denied.value.hidden  # the catalog shows the dataset, but its records are not there for them
    with pytest.raises(AccessDenied):
        dataset_diff(user=w.outsider, dataset=w.dataset, old_job=job, new_job=job)


def test_diff_between_two_loads_by_identity_key(w):
    # Given: version 1 with A, B, C and version 2 with B unchanged, C changed and D new
    a, b, c, d = (id_number(i) for i in range(1, 5))
    v1 = load(w.steward, w.dataset, RESIDENT_HEADER, [resident(a), resident(b), resident(c)], "v1.csv")
    v2 = load(w.steward, w.dataset, RESIDENT_HEADER, [resident(b), resident(c, age="41"), resident(d)], "v2.csv")

    # When
    diff = dataset_diff(user=w.steward, dataset=w.dataset, old_job=v1, new_job=v2)

    # Then
    def key_of(pk):
        return Record.objects.get(pk=pk).payload["id_number"]

    assert (diff["old_records"], diff["new_records"]) == (3, 3)
    assert "record_key" not in str(diff)  # hashes of ID numbers stay inside
    assert diff["added"]["count"] == 1 and [key_of(s["record_id"]) for s in diff["added"]["samples"]] == [d]
    assert diff["removed"]["count"] == 1 and [key_of(s["record_id"]) for s in diff["removed"]["samples"]] == [a]
    assert diff["changed"]["count"] == 1
    [changed] = diff["changed"]["samples"]
    assert key_of(changed["record_id"]) == c and key_of(changed["old_record_id"]) == c
    assert Record.objects.get(pk=changed["record_id"]).job_id == v2.pk
    assert Record.objects.get(pk=changed["old_record_id"]).job_id == v1.pk


def test_diff_refuses_a_load_of_another_dataset(w, fever_standard):
    job = load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID)])
    own_fever, _steward = fever_dataset(w, w.owner, fever_standard, actor=w.steward)
    other_job = load(w.steward, own_fever, FEVER_HEADER, [fever(ID)])
    with pytest.raises(ServiceError):
        dataset_diff(user=w.steward, dataset=w.dataset, old_job=job, new_job=other_job)


# --- fusion (融合) ---


@pytest.fixture
def notes_standard():
    """A standard of the test's own with a sensitive field the others lack."""
    return DataStandard.objects.create(
        code="clinic-notes",
        name="诊疗备注",
        fields=[
            {"name": "id_number", "label": "身份证号", "type": "string", "required": True, "link": "id_number"},
            {"name": "diagnosis", "label": "诊断", "type": "string", "sensitive": True},
            {"name": "noted_at", "label": "记录时间", "type": "datetime"},
        ],
        key_fields=["id_number"],
        observed_field="noted_at",
    )


def test_fused_view_takes_the_newest_value_and_the_strictest_classification(w, fever_standard, notes_standard):
    # Given: the owner's resident (sensitive, observed in January), its fever-clinic records
    # (internal, November) and notes (open, no time), and another department's fever record
    load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID, name="王伟", observed="2026-01-01 08:00")])
    own_fever, _ = fever_dataset(w, w.owner, fever_standard, actor=w.steward, classification=Classification.INTERNAL)
    load(w.steward, own_fever, FEVER_HEADER, [fever(ID_FULLWIDTH_LOWER, name="王  伟", phone=PHONE_FORMATTED)])
    notes, _ = fever_dataset(w, w.owner, notes_standard, title="备注", actor=w.steward, classification="open")
    load(w.steward, notes, ["身份证号", "诊断"], [[ID.lower(), "流感"]])
    foreign, foreign_steward = fever_dataset(w, w.other, fever_standard, title="他部门发热门诊")
    load(foreign_steward, foreign, FEVER_HEADER, [fever(ID, name="外部门记录", visited="2026-12-01 10:00")])

    # When: the owner's staff look the person up by ID number (as typed anywhere)
    [row] = fused_view(user=w.staff, key_kind="id_number", value=ID_FULLWIDTH_LOWER)

    # Then: one row from the three readable datasets only, the newest observation per field
    readable = set(Record.objects.filter(dataset__owner=w.owner).values_list("id", flat=True))
    assert set(row["records"]) == readable and len(readable) == 3
    assert row["datasets"] == sorted([w.dataset.pk, own_fever.pk, notes.pk])
    fields = row["fields"]
    assert (fields["name"]["value"], fields["name"]["dataset"]) == ("王  伟", own_fever.pk)  # November wins
    assert (fields["phone"]["value"], fields["phone"]["dataset"]) == (PHONE_FORMATTED, own_fever.pk)
    assert (fields["address"]["value"], fields["address"]["dataset"]) == ("南京市鼓楼区中山北路1号", w.dataset.pk)
    assert (fields["diagnosis"]["value"], fields["diagnosis"]["dataset"]) == ("流感", notes.pk)
    assert fields["name"]["record"] in readable
    # … never less restricted than its most restricted source
    assert row["classification"] == Classification.SENSITIVE
    assert set(row["sensitive_fields"]) == {"id_number", "name", "phone", "diagnosis"}
    assert row["rule"] == "id_number@1" and row["key"] == ID


def test_fused_view_of_another_department_sees_only_its_own_records(w, fever_standard):
    load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID)])
    foreign, foreign_steward = fever_dataset(w, w.other, fever_standard, title="他部门发热门诊")
    load(foreign_steward, foreign, FEVER_HEADER, [fever(ID)])

    [row] = fused_view(user=foreign_steward, key_kind="id_number", value=ID)

    assert row["datasets"] == [foreign.pk]
    assert "address" not in row["fields"]
    assert row["classification"] == Classification.INTERNAL
    assert fused_view(user=w.outsider, key_kind="id_number", value=id_number(7)) == []


def test_fused_view_lists_entities_in_most_datasets_first_and_skips_placeholders(w, fever_standard):
    hotline = "4000000000"
    residents = [resident(id_number(i), phone=hotline) for i in range(MAX_LINK_FANOUT + 1)]
    load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID, phone="13911112222"), *residents])
    own_fever, _ = fever_dataset(w, w.owner, fever_standard, actor=w.steward)
    load(w.steward, own_fever, FEVER_HEADER, [fever(ID, phone="13911112222")])

    by_id = fused_view(user=w.steward, key_kind="id_number", limit=3)
    by_phone = fused_view(user=w.steward, key_kind="phone")

    assert by_id[0]["key"] == ID and len(by_id[0]["datasets"]) == 2
    assert len(by_id) == 3
    assert [r["key"] for r in by_phone] == ["13911112222"]  # the hotline is no entity
    assert fused_view(user=w.steward, key_kind="id_number", dataset_ids=[own_fever.pk])[0]["datasets"] == [own_fever.pk]
    with pytest.raises(ServiceError):
        fused_view(user=w.steward, key_kind="place_code")


# --- identification (标识) ---


def test_retag_applies_changed_rules_and_keeps_manual_labels(w):
    # Given: residents aged 80, 30 and 20 (the rule tags 70 and over as vulnerable)
    load(
        w.steward,
        w.dataset,
        RESIDENT_HEADER,
        [resident(id_number(1), age="80"), resident(id_number(2), age="30"), resident(id_number(3), age="20")],
    )
    old, middle, young = Record.objects.filter(dataset=w.dataset).order_by("line")
    assert (tag_codes(old.tags), middle.tags, young.tags) == (["vulnerable"], [], [])
    fever_tag = Tag.objects.get(code="fever")
    vulnerable = Tag.objects.get(code="vulnerable")
    # … a steward labels the 20-year-old by hand and takes the label off the 80-year-old
    record_label(actor=w.steward, record=young, tag=fever_tag)
    record_label(actor=w.steward, record=old, tag=vulnerable, add=False)

    # When: the age rule changes to 25 and the dataset is re-tagged
    TagRule.objects.filter(standard=w.standard, field="age").update(value=25)
    changed = records_retag(actor=w.steward, dataset=w.dataset)

    # Then: the 30-year-old is tagged now; the manual label and the manual removal stand
    old.refresh_from_db()
    middle.refresh_from_db()
    young.refresh_from_db()
    assert tag_codes(middle.tags) == ["vulnerable"]
    assert tag_codes(old.tags) == []
    assert tag_codes(young.tags) == ["fever"]
    assert changed == 1
    assert records_retag(actor=w.steward, dataset=w.dataset) == 0  # idempotent
    records = Record.objects.filter(dataset=w.dataset)
    assert list(records_with_tag(records, "vulnerable")) == [middle]
    assert list(records_with_tag(records, "fever")) == [young]
    actions = list(
        AuditEvent.objects.filter(action__in=["dataset.retag", "record.label", "record.unlabel"]).values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["dataset.retag", "dataset.retag", "record.label", "record.unlabel"]


def test_labelling_and_retagging_need_a_steward_of_the_owner(w):
    load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID)])
    record = Record.objects.get(dataset=w.dataset)
    tag = Tag.objects.get(code="fever")
    with pytest.raises(AccessDenied) as staff_denied:
        record_label(actor=w.staff, record=record, tag=tag)
    assert not staff_denied.value.hidden  # they see the dataset but may not change it
    with pytest.raises(AccessDenied):
        records_retag(actor=w.staff, dataset=w.dataset)
    with pytest.raises(AccessDenied):
        records_retag(actor=w.outsider, dataset=w.dataset)
    record.refresh_from_db()
    assert tag_codes(record.tags) == []


def grant(w, dataset, department, fields, masked=()):
    """A valid data-access grant (as the approval workflow leaves it): the grant row and the
    guardian permission of the department's group that backs it."""
    from datetime import timedelta

    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from apps.access.models import DataGrant

    now = timezone.now()
    assign_perm("datapool.read_dataset", department.group, dataset)
    return DataGrant.objects.create(
        department=department,
        dataset=dataset,
        fields=list(fields),
        masked_fields=list(masked),
        purpose="核查洪涝转移人员",
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(hours=72),
        created_by=w.head,
    )


def test_fused_view_through_a_grant_shows_only_what_the_grant_shows(w, fever_standard):
    # Given: health holds a grant on public security's residents: name and age in clear, the ID
    # number and phone masked, nothing else
    load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID, name="王伟"), resident(id_number(2))])
    person = Record.objects.get(dataset=w.dataset, id_key=ID)
    grant(w, w.dataset, w.other, ["name", "age"], ["id_number", "phone"])

    # When: health looks the person up
    [row] = fused_view(user=w.outsider, key_kind="id_number", value=ID)

    # Then: the grant's view of the record, the key masked too
    assert row["key_masked"] is True and row["key"] != ID and (row["key"][0], row["key"][-1]) == (ID[0], ID[-1])
    assert set(row["fields"]) == {"name", "age", "id_number", "phone"}
    assert row["fields"]["name"] == row["fields"]["name"] | {"value": "王伟", "masked": False}
    assert row["fields"]["id_number"]["masked"] is True and "*" in row["fields"]["id_number"]["value"]
    assert ID not in str(row)
    assert row["records"] == [person.pk] and row["classification"] == Classification.SENSITIVE

    # When: health's own, older fever-clinic record of the same person joins in
    clinic, clinic_steward = fever_dataset(w, w.other, fever_standard, actor=w.outsider)
    load(clinic_steward, clinic, FEVER_HEADER, [fever(ID, visited="2020-01-01 08:00")])
    [row] = fused_view(user=w.outsider, key_kind="id_number", value=ID)

    # Then: the key and the ID number show in clear (a clear value beats a newer masked one)
    assert row["key"] == ID and "key_masked" not in row
    assert row["fields"]["id_number"] == row["fields"]["id_number"] | {
        "value": ID,
        "masked": False,
        "dataset": clinic.pk,
    }
    assert row["fields"]["name"]["dataset"] == w.dataset.pk  # the newer observation
    assert row["datasets"] == sorted([w.dataset.pk, clinic.pk])


def test_a_grant_that_withholds_the_key_field_links_nothing(w):
    load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID)])
    grant(w, w.dataset, w.other, ["name", "age"])
    assert Record.objects.restrict(w.outsider, "view").filter(dataset=w.dataset).exists()

    assert fused_view(user=w.outsider, key_kind="id_number", value=ID) == []
    assert fused_view(user=w.outsider, key_kind="id_number") == []
    assert fused_view(user=w.outsider, key_kind="phone", value=PHONE) == []


def test_a_fused_view_records_one_read_per_dataset_it_shows(w, fever_standard):
    # Given: public security's residents, read by its owner and through health's grant
    load(w.steward, w.dataset, RESIDENT_HEADER, [resident(ID, name="王伟"), resident(id_number(2))])
    the_grant = grant(w, w.dataset, w.other, ["name", "age"], ["id_number", "phone"])
    reads = AuditEvent.objects.filter(action="data.read")
    before = reads.count()

    # When: health looks the person up through its grant
    fused_view(user=w.outsider, key_kind="id_number", value=ID)

    # Then: one read of the dataset, naming the grant and the one record shown
    [event] = reads.order_by("-seq")[: reads.count() - before]
    assert event.after["dataset"] == w.dataset.pk and event.after["grant"] == the_grant.pk
    assert event.after["rows"] == 1 and event.after["query"]["fused_by"] == "id_number"

    # When: the owner's steward fuses the whole dataset: one read, through no grant, of both records
    fused_view(user=w.steward, key_kind="id_number")
    event = reads.order_by("-seq").first()
    assert (event.after["grant"], event.after["rows"]) == (None, 2) and reads.count() == before + 2

    # When: a department with no grant and no records of its own looks: nothing shown, nothing read
    from tests.factories import department, member

    nobody = member(department(region=w.city, type="transport"), "steward")
    assert fused_view(user=nobody, key_kind="id_number", value=ID) == []
    assert reads.count() == before + 2
