"""Data standards: the definition checks, the converters (Chinese spreadsheets' yes/no, dates and
times), the normalised linking keys, tagging at load, and the compiled processor's cache."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from apps.datapool import standards
from apps.datapool.demo import RESIDENT_FIELDS
from apps.datapool.models import DataStandard, QualityRule, Record, Tag, TagRule
from apps.datapool.standards import (
    RowError,
    compile_standard,
    compiled,
    near_text,
    norm_address,
    norm_id_number,
    norm_phone,
    norm_place_code,
    standard_spec_errors,
)
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows


@pytest.fixture(autouse=True)
def _english():
    """The assertions read the English messages; which language is active otherwise depends on
    the tests that ran before (the platform's default is Chinese)."""
    with translation.override("en"):
        yield


def spec(fields, **kwargs) -> DataStandard:
    return DataStandard(code="t", name="t", fields=fields, **kwargs)


# --- the definition ---


@pytest.mark.parametrize(
    ("fields", "kwargs", "fragment"),
    [
        ([], {}, "invalid"),
        ([{"name": "a"}], {}, "invalid"),  # no type
        ([{"name": "a", "type": "text"}], {}, "invalid"),  # unknown type
        ([{"name": "Name", "type": "string"}], {}, "invalid"),  # not a lower-case identifier
        ([{"name": "a", "type": "string", "colour": "red"}], {}, "invalid"),  # unknown key
        ([{"name": "a", "type": "string", "codes": []}], {}, "invalid"),  # an empty code list
        ([{"name": "a", "type": "string"}, {"name": "a", "type": "integer"}], {}, "unique"),
        ([{"name": "a", "type": "string", "pattern": "(["}], {}, "pattern"),
        ([{"name": "a", "type": "string"}], {"key_fields": ["b"]}, "b is not a field"),
        ([{"name": "a", "type": "string"}], {"observed_field": "when"}, "when is not a field"),
        ([{"name": "a", "type": "string"}], {"region_field": "where"}, "where is not a field"),
        ([{"name": "a", "type": "string"}], {"observed_field": "a"}, "observation time"),
    ],
    ids=[
        "no-fields",
        "no-type",
        "unknown-type",
        "bad-name",
        "unknown-key",
        "empty-codes",
        "duplicate",
        "bad-pattern",
        "unknown-key-field",
        "unknown-observed",
        "unknown-region",
        "observed-not-a-time",
    ],
)
def test_a_bad_definition_is_refused_with_a_reason(fields, kwargs, fragment):
    errors = standard_spec_errors(spec(fields, **kwargs))
    assert errors and any(fragment in str(e) for e in errors), errors
    with pytest.raises(ValidationError):
        spec(fields, **kwargs).clean()


def test_the_demo_standards_are_valid():
    assert standard_spec_errors(spec(RESIDENT_FIELDS, key_fields=["id_number"], observed_field="observed_at")) == []


# --- converters ---


@pytest.mark.parametrize(
    ("raw", "value"),
    [("是", True), ("否", False), ("对", True), ("错", False), (" Yes ", True), ("N", False), ("1", True)]
    + [("0", False), (True, True), ("TRUE", True)],
)
def test_booleans_in_chinese_and_english(raw, value):
    assert standards._boolean(raw) is value


@pytest.mark.parametrize("raw", ["也许", "2", "", "真"])
def test_other_booleans_are_type_errors(raw):
    with pytest.raises(ValueError):
        standards._boolean(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2026-11-05", "2026-11-05"),
        ("2026/11/05", "2026-11-05"),
        ("2026/1/5", "2026-01-05"),
        ("2026.1.5", "2026-01-05"),
        ("2026年1月5日", "2026-01-05"),
        (" 2026/11/05 ", "2026-11-05"),
        (datetime(2026, 11, 5, 8, 30), "2026-11-05"),  # an Excel date cell
        (date(2026, 11, 5), "2026-11-05"),
    ],
)
def test_dates_with_slashes_and_chinese_separators(raw, value):
    assert standards._date(raw) == value


@pytest.mark.parametrize("raw", ["2026/13/01", "2026/02/30", "05/11/2026", "昨天", "2026/1/5 08:30"])
def test_impossible_or_ambiguous_dates_are_type_errors(raw):
    with pytest.raises(ValueError):
        standards._date(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2026-11-05 08:30:00", "2026-11-05T08:30:00+08:00"),  # naive: Asia/Shanghai
        ("2026/11/05 08:30", "2026-11-05T08:30:00+08:00"),
        ("2026/1/5 8:30", "2026-01-05T08:30:00+08:00"),
        ("2026年1月5日 08:30:15", "2026-01-05T08:30:15+08:00"),
        ("2026-11-05", "2026-11-05T00:00:00+08:00"),
        ("2026-11-05T08:30:00Z", "2026-11-05T08:30:00+00:00"),  # an explicit zone is kept
        ("2026-11-05T08:30:00+09:00", "2026-11-05T08:30:00+09:00"),
        (datetime(2026, 11, 5, 8, 30), "2026-11-05T08:30:00+08:00"),  # an Excel cell
        (datetime(2026, 11, 5, 0, 30, tzinfo=UTC), "2026-11-05T00:30:00+00:00"),
    ],
)
def test_naive_datetimes_get_asia_shanghai(raw, value):
    assert standards._datetime(raw) == value


@pytest.mark.parametrize(
    ("converter", "raw", "value"),
    [
        (standards._integer, "1,234", 1234),
        (standards._integer, " 42 ", 42),
        (standards._integer, 12.0, 12),
        (standards._number, "1,234.5", 1234.5),
        (standards._number, 7, 7.0),
        (standards._text, "  王芳 ", "王芳"),
        (standards._text, 13812345678, "13812345678"),
        (standards._text, 320106.0, "320106"),  # an Excel number in a text field
        (standards._text, "   ", None),
    ],
)
def test_numbers_and_text(converter, raw, value):
    assert converter(raw) == value


@pytest.mark.parametrize(
    ("converter", "raw"),
    [
        (standards._integer, "12.5"),
        (standards._integer, 12.5),
        (standards._integer, True),
        (standards._integer, 2**63),  # beyond what JSON consumers read as an integer
        (standards._integer, "-9223372036854775809"),
        (standards._number, "nan"),
        (standards._number, "inf"),
        (standards._number, False),
        (standards._text, "a\x00b"),
        (standards._text, {"a": 1}),
    ],
)
def test_values_that_do_not_convert(converter, raw):
    with pytest.raises(ValueError):
        converter(raw)


def _resident():
    return compile_standard(
        spec(RESIDENT_FIELDS, key_fields=["id_number"], observed_field="observed_at", region_field="place_code")
    )


def test_a_processed_row_carries_payload_keys_and_hashes():
    p = _resident().process(
        {
            "id_number": "32010619900101123x",
            "name": " 王芳 ",
            "phone": "+86 138-1234-5678",
            "address": "南京市 鼓楼区，中山北路１号",
            "place_code": "320106",
            "age": "36",
            "observed_at": "2026/11/05 08:30",
        }
    )
    assert p.payload == {
        "id_number": "32010619900101123x",
        "name": "王芳",
        "phone": "+86 138-1234-5678",
        "address": "南京市 鼓楼区，中山北路１号",
        "place_code": "320106",
        "age": 36,
        "observed_at": "2026-11-05T08:30:00+08:00",
    }
    assert p.keys == {
        "id_key": "32010619900101123X",
        "phone_key": "13812345678",
        "address_key": "南京市鼓楼区中山北路1号",
        "place_key": "320106",
    }
    assert (p.observed_at, p.region_code) == ("2026-11-05T08:30:00+08:00", "320106")
    assert p.body == orjson.dumps(p.payload)  # what is hashed is what is stored, keys in field order
    assert list(orjson.loads(p.body)) == ["id_number", "name", "phone", "address", "place_code", "age", "observed_at"]
    assert len(p.record_key) == len(p.content_hash) == len(p.near_hash) == 32


def test_the_same_values_in_another_column_order_hash_the_same():
    processor = _resident()
    values = {"id_number": "320106199001011234", "name": "王芳", "age": "36", "gender": "女"}
    a = processor.process(values)
    b = processor.process(dict(reversed(list(values.items()))))
    assert (a.body, a.content_hash, a.near_hash) == (b.body, b.content_hash, b.near_hash)


def test_near_duplicates_differ_only_in_spacing_case_width_and_punctuation():
    processor = _resident()
    a = processor.process(
        {"id_number": "320106199001011234", "name": "王芳", "address": "中山北路1号 A栋", "age": "36"}
    )
    b = processor.process(
        {"id_number": "320106199001011234", "name": "王 芳", "address": "中山北路１号a栋", "age": "36"}
    )
    c = processor.process(
        {"id_number": "320106199001011234", "name": "王芳", "address": "中山北路1号 A栋", "age": "37"}
    )
    assert a.content_hash != b.content_hash and a.near_hash == b.near_hash
    assert a.near_hash != c.near_hash
    assert a.record_key == b.record_key == c.record_key  # the identity field alone


def test_near_text_normalises_text_like_the_per_value_rule():
    texts = ["南京市 鼓楼区，中山北路１号", "Wang_Fang", "A-1 / B", "ＡＢＣ"]
    assert near_text(texts) == "\x1f".join(standards._near(t) for t in texts)
    assert near_text(["a"], [36, 1.5, True]) == "a\x1e36\x1f1.5\x1fTrue"


@pytest.mark.parametrize(
    ("source", "field", "reason"),
    [
        ({"name": "王芳"}, "id_number", "required"),
        ({"id_number": "320106199001011234"}, "name", "required"),
        ({"id_number": "320106199001011234", "name": "王芳", "gender": "F"}, "gender", "code_list"),
        ({"id_number": "32010619900101123", "name": "王芳"}, "id_number", "pattern"),
        ({"id_number": "320106199001011234", "name": "王芳", "age": "151"}, "age", "range"),
        ({"id_number": "320106199001011234", "name": "王芳", "age": "x"}, "age", "type"),
        ({"id_number": "320106199001011234", "name": "王" * 51}, "name", "too_long"),
    ],
)
def test_row_errors_name_the_field_and_reason(source, field, reason):
    with pytest.raises(RowError) as caught:
        _resident().process(source)
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_a_date_observation_field_is_midnight_in_shanghai():
    processor = compile_standard(
        spec([{"name": "day", "type": "date"}, {"name": "v", "type": "number"}], observed_field="day")
    )
    assert processor.process({"day": "2026/11/5", "v": "1"}).observed_at == "2026-11-05T00:00:00+08:00"
    assert processor.process({"v": "1"}).observed_at is None


# --- linking keys ---


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("32010619900101123x", "32010619900101123X"),  # lower-case x
        ("３２０１０６１９９００１０１１２３Ｘ", "32010619900101123X"),  # full-width
        (" 320106 19900101 1234 ", "320106199001011234"),  # spaces
        ("320106900101123", "320106900101123"),  # the old 15-digit number
        ("32010619900101123", None),
        ("32010619900101123Y", None),
        ("", None),
    ],
)
def test_id_numbers_are_normalised(raw, key):
    assert norm_id_number(raw) == key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("+86 138 1234 5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width
        ("(025) 8888-6666", "02588886666"),
        (13812345678, "13812345678"),
        ("12345", None),  # too short to be a number
    ],
)
def test_phones_are_normalised(raw, key):
    assert norm_phone(raw) == key


def test_addresses_are_normalised():
    same = [
        "南京市鼓楼区中山北路1号A栋",
        "南京市 鼓楼区，中山北路１号ａ栋",
        "南京市鼓楼区中山北路1号-A栋 ",
        "南京市鼓楼区_中山北路1号a栋",
    ]
    assert {norm_address(a) for a in same} == {"南京市鼓楼区中山北路1号a栋"}
    assert norm_address(" ，。 ") is None
    assert len(norm_address("长" * 300)) == 200


def test_place_codes_are_normalised():
    assert norm_place_code("320106") == "320106"
    assert norm_place_code("３２０１０６") == "320106"
    assert norm_place_code("320106001001") == "320106001001"
    assert norm_place_code(320106) == "320106"
    assert norm_place_code("3201") is None


# --- tagging at load, and the cache ---


@pytest.mark.django_db
def test_tag_rules_are_applied_when_records_are_loaded():
    w = pool_world()
    rows = resident_rows(3)
    rows[1][5], rows[1][7] = "75", "常住"  # age >= 70
    rows[2][5], rows[2][7] = "30", "重点关爱"  # category
    rows[3][5], rows[3][7] = "30", "流动"
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    tags = dict(Record.objects.filter(job=job).values_list("line", "tags"))
    assert tags == {2: ["vulnerable"], 3: ["vulnerable"], 4: []}


@pytest.mark.django_db
def test_every_tag_operator_and_a_rule_added_later():
    w = pool_world()
    flood = Tag.objects.get(code="flood")
    TagRule.objects.create(standard=w.standard, tag=flood, field="address", op="contains", value="江边")
    young = Tag.objects.create(code="young", name="青年")
    TagRule.objects.create(standard=w.standard, tag=young, field="age", op="lte", value=30)
    epidemic = Tag.objects.get(code="epidemic")
    TagRule.objects.create(standard=w.standard, tag=epidemic, field="place_code", op="in", value=["320106", "320102"])
    processor = compiled(w.standard)
    p = processor.process(
        {"id_number": "320106199001011234", "name": "王芳", "address": "南京市江边路1号", "age": "30"}
    )
    assert p.tags == ["flood", "young"]
    p = processor.process({"id_number": "320106199001011234", "name": "王芳", "age": "80", "place_code": "320106"})
    assert p.tags == ["vulnerable", "epidemic"]
    p = processor.process({"id_number": "320106199001011234", "name": "王芳", "age": "80", "category": "重点关爱"})
    assert p.tags == ["vulnerable"]  # two rules, one tag: once


@pytest.mark.django_db
def test_compiled_is_built_once_and_rebuilt_after_a_rule_or_definition_changes():
    w = pool_world()
    first = compiled(w.standard)
    assert compiled(w.standard) is first
    assert compiled(DataStandard.objects.get(pk=w.standard.pk)) is first  # another instance, same version

    rule = TagRule.objects.create(
        standard=w.standard, tag=Tag.objects.get(code="flood"), field="age", op="gte", value=1
    )
    with_tag = compiled(w.standard)
    assert with_tag is not first
    assert with_tag.process({"id_number": "320106199001011234", "name": "王芳", "age": "5"}).tags == ["flood"]
    assert compiled(w.standard) is with_tag

    rule.value = 10
    rule.save()
    changed = compiled(w.standard)
    assert changed is not with_tag
    assert changed.process({"id_number": "320106199001011234", "name": "王芳", "age": "5"}).tags == []

    QualityRule.objects.create(standard=w.standard, kind="range", field="age", params={"min": 18})
    scored = compiled(w.standard)
    assert scored is not changed and scored.scoring[-1][1] == "range"

    fields = [dict(f) for f in w.standard.fields]
    fields[1]["max_length"] = 2
    DataStandard.objects.filter(pk=w.standard.pk).update(fields=fields)
    redefined = compiled(w.standard)
    assert redefined is not scored
    with pytest.raises(RowError) as caught:
        redefined.process({"id_number": "320106199001011234", "name": "欧阳娜娜"})
    assert (caught.value.field, caught.value.reason) == ("name", "too_long")


@pytest.mark.django_db
def test_values_beyond_64_bits_and_old_dates_load_without_breaking_copy():
    w = pool_world()
    rows = resident_rows(2)
    rows[1][5] = "9" * 30  # an integer no JSON consumer can read: rejected
    rows[2][8] = "1890-06-01 12:00:00"  # Shanghai's local mean time then: +08:05:43
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    assert job.status == "succeeded", job.error_message()
    assert set(job.rejects.values_list("line", "field", "reason")) == {(2, "age", "type")}
    record = Record.objects.get(job=job)
    assert record.observed_at.year == 1890
