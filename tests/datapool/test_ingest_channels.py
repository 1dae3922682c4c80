"""The upload channel on real files, through the real path (submit, then `ingestion_run`) on
PostgreSQL: encodings sniffed by content, Excel and JSON lines, every kind of bad row kept with
its line, field and reason, files that cannot be read failing cleanly with nothing loaded, and a
200 MB file loading completely in bounded memory."""

from __future__ import annotations

import codecs
import gzip
import io
import random
import resource
import time
import zipfile
from datetime import datetime

import openpyxl
import pytest
from django.core.files import File
from django.db import transaction

from apps.core.exceptions import ServiceError
from apps.datapool import services
from apps.datapool.models import IngestionJob, QualityCheck, Record, RejectedRow
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows

pytestmark = pytest.mark.django_db

HEADER = ["身份证号", "姓名", "联系电话", "住址", "行政区划代码", "年龄", "性别", "人员类别", "登记时间"]
GOOD = ["320106199001011234", "王芳", "13812345678", "南京市鼓楼区中山北路1号", "320106", "36", "女", "常住"]
GOOD += ["2026-11-01 08:30:00"]


def row(**changes) -> list[str]:
    """A valid resident row (by column label), with some values changed."""
    values = dict(zip(HEADER, GOOD, strict=True)) | changes
    return [values[h] for h in HEADER]


def rejects(job) -> set[tuple]:
    return set(RejectedRow.objects.filter(job=job).values_list("line", "field", "reason"))


def assert_nothing_loaded(job, code: str) -> None:
    job.refresh_from_db()
    assert job.status == "failed", job.status
    assert job.error_code == code, (job.error_code, job.error_args)
    assert job.rows_accepted == 0
    assert not Record.objects.filter(dataset=job.dataset).exists()
    assert not RejectedRow.objects.filter(job=job).exists()
    assert not QualityCheck.objects.filter(job=job).exists()
    assert job.error_message()  # a sentence for the submitter, never a bare code


# --- encodings ---


def test_gb18030_csv_with_chinese_headers_loads_good_rows_and_keeps_each_bad_one():
    w = pool_world()
    rows = resident_rows(20)
    rows += [
        row(年龄="abc"),  # line 22
        row(性别="未知"),  # 23
        row(身份证号="12345"),  # 24
        row(姓名=""),  # 25
        row()[:5],  # 26: too few columns
        row(年龄="200"),  # 27
    ]
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows, "gb18030"))
    assert job.status == "succeeded", job.error_message()
    assert (job.source_format, job.encoding) == ("csv", "gb18030")
    assert (job.rows_read, job.rows_accepted, job.rows_rejected) == (26, 20, 6)
    assert rejects(job) == {
        (22, "age", "type"),
        (23, "gender", "code_list"),
        (24, "id_number", "pattern"),
        (25, "name", "required"),
        (26, "", "columns"),
        (27, "age", "range"),
    }
    first = Record.objects.filter(job=job).order_by("line").first()
    assert first.line == 2 and first.payload["name"] == rows[1][1]  # decoded, not mojibake
    raw = RejectedRow.objects.get(job=job, line=23).raw
    assert raw["性别"] == "未知" and raw["姓名"] == GOOD[1]  # the row as read, under its Chinese labels


def test_a_gbk_file_is_read_as_gb18030():
    w = pool_world()
    # 镕 and 喆 are in GBK but not in GB2312: a GB2312 reader would fail on them
    rows = [HEADER, row(姓名="朱镕"), row(身份证号="320106199001014321", 姓名="张喆", 住址="南京市玄武区珠江路")]
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows, "gbk"))
    assert job.status == "succeeded", job.error_message()
    assert job.encoding == "gb18030"
    names = set(Record.objects.filter(job=job).values_list("payload__name", flat=True))
    assert names == {"朱镕", "张喆"}


def test_utf8_with_a_bom_maps_its_first_column():
    w = pool_world()
    data = csv_bytes([HEADER, row()], "utf-8-sig")
    assert data.startswith(codecs.BOM_UTF8)
    job = load_bytes(w.steward, w.dataset, data)
    assert job.status == "succeeded", job.error_message()
    assert job.encoding == "utf-8-sig"
    assert job.columns["id_number"] == "身份证号"  # not "\ufeff身份证号"
    assert Record.objects.get(job=job).payload["id_number"] == GOOD[0]


# --- Excel and JSON lines ---


def _xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_excel_with_native_numbers_and_dates():
    w = pool_world()
    registered = datetime(2026, 11, 1, 8, 30)
    data = _xlsx(
        [
            HEADER,
            [
                "320106199001011234",
                "王芳",
                13812345678,
                "南京市鼓楼区中山北路1号",
                320106,
                36,
                "女",
                "常住",
                registered,
            ],
            [
                "32010619900101432x",
                "李娜",
                13900000000,
                "南京市鼓楼区汉中路2号",
                "320106",
                71.0,
                "女",
                "流动",
                registered,
            ],
            ["320106199001015555", "赵军", None, None, None, 30.5, "男", "常住", registered],  # line 4: age 30.5
            [None, None, None, None, None, None, None, None, None],  # an empty row is skipped
            ["320106199001016666", "周杰", None, None, None, "abc", "男", "常住", "not a date"],
        ]
    )
    job = load_bytes(w.steward, w.dataset, data, name="residents.xlsx")
    assert job.status == "succeeded", job.error_message()
    assert (job.source_format, job.encoding) == ("xlsx", "")
    assert (job.rows_accepted, job.rows_rejected) == (2, 2)
    assert rejects(job) == {(4, "age", "type"), (6, "age", "type")}
    first = Record.objects.get(job=job, line=2)
    assert first.payload == {
        "id_number": "320106199001011234",
        "name": "王芳",
        "phone": "13812345678",  # a number cell in a text field, without ".0"
        "address": "南京市鼓楼区中山北路1号",
        "place_code": "320106",
        "age": 36,
        "gender": "女",
        "category": "常住",
        "observed_at": "2026-11-01T08:30:00+08:00",  # a date cell, in the platform's time zone
    }
    assert first.observed_at.isoformat() == "2026-11-01T00:30:00+00:00"
    second = Record.objects.get(job=job, line=3)
    assert second.payload["age"] == 71 and second.id_key == "32010619900101432X"
    assert second.tags == ["vulnerable"]
    raw = RejectedRow.objects.get(job=job, line=4).raw
    assert raw["年龄"] == 30.5 and raw["登记时间"].startswith("2026-11-01T08:30")  # cells kept as read


def test_excel_formulas_are_never_evaluated():
    w = pool_world()
    # openpyxl writes "=..." as a formula with no cached value: the reader sees the cached value
    # (none), so the formula itself is neither stored nor run
    data = _xlsx([HEADER, row(), row(身份证号="320106199001019999", 姓名="=1+1")])
    job = load_bytes(w.steward, w.dataset, data, name="formula.xlsx")
    assert job.status == "succeeded", job.error_message()
    assert rejects(job) == {(3, "name", "required")}


def test_json_lines_reject_lines_that_are_not_objects():
    w = pool_world()
    good = {"id_number": "320106199001011234", "name": "王芳", "age": 36, "observed_at": "2026-11-01T08:30:00"}
    lines = [
        '{"id_number": "320106199001011234", "name": "王芳", "age": 36, "observed_at": "2026-11-01T08:30:00"}',
        "[1, 2, 3]",  # 2
        '"just text"',  # 3
        '{"id_number": "3201061990010',  # 4: cut off
        "",  # 5: blank, skipped
        '{"id_number": "320106199001014321", "name": {"first": "娜"}}',  # 6: an object is not text
        '{"id_number": "320106199001015555", "name": "李娜", "age": "71", "unknown": true}',  # 7
        '{"id_number": "320106199001016666", "name": "赵军", "age": NaN}',  # 8: not JSON
        '{"id_number": "320106199001017777", "name": "\\ud800"}',  # 9: a lone surrogate
    ]
    job = load_bytes(w.steward, w.dataset, "\n".join(lines).encode(), name="batch.jsonl")
    assert job.status == "succeeded", job.error_message()
    assert job.source_format == "jsonl"
    assert rejects(job) == {(2, "", "json"), (3, "", "json"), (4, "", "json"), (6, "name", "type")} | {
        (8, "", "json"),
        (9, "", "json"),
    }
    assert RejectedRow.objects.get(job=job, line=2).raw == {"line": "[1, 2, 3]"}
    assert Record.objects.get(job=job, line=1).payload == good | {"observed_at": "2026-11-01T08:30:00+08:00"}
    assert Record.objects.get(job=job, line=7).payload["age"] == 71  # text converted; unknown keys ignored


# --- malformed rows ---


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (row() + ["extra"], "", "columns"),
        (row()[:-1], "", "columns"),
        (row(年龄="三十"), "age", "type"),
        (row(年龄="1e3"), "age", "type"),
        (row(登记时间="昨天"), "observed_at", "type"),
        (row(登记时间="2026-02-30 08:00"), "observed_at", "type"),
        (row(性别="M"), "gender", "code_list"),
        (row(人员类别="常駐"), "category", "code_list"),
        (row(身份证号="32010619900101123"), "id_number", "pattern"),
        (row(行政区划代码="32A106"), "place_code", "pattern"),
        (row(身份证号=""), "id_number", "required"),
        (row(姓名="   "), "name", "required"),
        (row(年龄="-1"), "age", "range"),
        (row(姓名="长" * 51), "name", "too_long"),
        (row(姓名="王\x00芳"), "name", "nul"),
    ],
    ids=[
        "too-many-columns",
        "too-few-columns",
        "integer-text",
        "integer-exponent",
        "datetime-text",
        "datetime-impossible",
        "code-list",
        "code-list-variant",
        "id-pattern",
        "place-pattern",
        "required-empty",
        "required-blank",
        "range",
        "too-long",
        "nul",
    ],
)
def test_each_malformed_row_is_rejected_with_its_line_field_and_reason(bad, field, reason):
    w = pool_world()
    other = row(身份证号="320106199001019999")
    job = load_bytes(w.steward, w.dataset, csv_bytes([HEADER, row(), bad, other]))
    assert job.status == "succeeded", job.error_message()
    assert rejects(job) == {(3, field, reason)}
    assert sorted(Record.objects.filter(job=job).values_list("line", flat=True)) == [2, 4]


def test_a_quoted_value_spanning_lines_keeps_the_line_numbers_of_the_rows():
    w = pool_world()
    data = csv_bytes([HEADER, row(住址="南京市\n鼓楼区"), row(身份证号="320106199001019999", 年龄="x")])
    job = load_bytes(w.steward, w.dataset, data)
    assert rejects(job) == {(4, "age", "type")}  # the physical line the row ends on
    assert Record.objects.get(job=job).payload["address"] == "南京市\n鼓楼区"


# --- files that cannot be loaded ---


def test_an_empty_file_is_refused_at_submission():
    w = pool_world()
    with pytest.raises(ServiceError) as caught:
        with transaction.atomic():
            services.ingestion_submit_file(actor=w.steward, dataset=w.dataset, upload=services.spool_upload(b""))
    assert caught.value.field == "file"
    assert not IngestionJob.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        csv_bytes([HEADER]),  # header only
        csv_bytes([HEADER], "utf-8-sig") + b"\r\n\r\n",  # header and blank lines
        codecs.BOM_UTF8,  # a BOM and nothing else
        b" \n\n\t\n",  # blank lines
    ],
    ids=["header-only", "header-and-blank-lines", "bom-only", "blank"],
)
def test_a_file_without_data_rows_fails_with_nothing_loaded(data):
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, data)
    assert_nothing_loaded(job, "empty")


def test_a_header_with_duplicate_columns_fails():
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, csv_bytes([HEADER + ["姓名"], row() + ["x"]]))
    assert_nothing_loaded(job, "header")


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (csv_bytes([HEADER, row()], "utf-16"), 1),  # with a BOM
        (csv_bytes([HEADER, row()], "utf-16-le"), 1),  # without one
        (csv_bytes([HEADER, row()], "utf-16-be"), 1),
        (csv_bytes([HEADER, row(), row(), row(姓名="王X芳")], "gb18030").replace(b"X", b"\xff"), 4),  # never GB18030
        # UTF-8 with one damaged byte on line 4: an encoding error there, not GB18030 mojibake
        (csv_bytes([HEADER, row(), row(), row(姓名="王X芳")]).replace(b"X", b"\xff"), 4),
    ],
    ids=["utf-16-bom", "utf-16-le", "utf-16-be", "gb18030-broken", "utf-8-damaged"],
)
def test_a_wrong_encoding_fails_with_its_line_and_nothing_loaded(data, line):
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, data)
    assert_nothing_loaded(job, "encoding")
    assert job.error_args == {"line": line}
    assert f"{line}" in job.error_message()


def test_random_bytes_fail_as_encoding_with_a_line():
    w = pool_world()
    rng = random.Random(5)  # noqa: S311 - repeatable test data
    data = bytes(rng.randrange(0x20, 0x100) for _ in range(20000))  # no control byte: text until decoded
    job = load_bytes(w.steward, w.dataset, data, name="data.csv")
    assert_nothing_loaded(job, "encoding")
    assert job.error_args["line"] >= 1


def test_a_binary_file_fails_as_not_csv_excel_or_json():
    w = pool_world()
    rng = random.Random(6)  # noqa: S311 - repeatable test data
    data = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(0, 8) for _ in range(5000))
    job = load_bytes(w.steward, w.dataset, data, name="data.csv")
    assert_nothing_loaded(job, "format")


def test_compressed_data_with_few_nul_bytes_fails_as_not_csv_excel_or_json():
    # a gzipped export named .csv: deflate output has about one NUL in 256 bytes, too few to call
    # it binary by NULs alone, and was refused as "neither UTF-8 nor GB18030 text (line 4)"
    w = pool_world()
    data = gzip.compress(csv_bytes(resident_rows(1500), "gb18030"), mtime=0)
    assert data[:4096].count(0) < 4096 // 100
    job = load_bytes(w.steward, w.dataset, data, name="data.csv")
    assert_nothing_loaded(job, "format")


def test_a_bad_byte_after_the_first_64_kb_fails_the_whole_load_with_its_line():
    w = pool_world()
    rows = resident_rows(1500)
    head = csv_bytes(rows[:1000])
    assert len(head) > 64 * 1024  # the sniffed sample is clean
    tail = csv_bytes(rows[1000:]).replace("常住".encode(), b"\xe5\xb8", 1)  # a cut-off character
    bad_line = 1000 + csv_bytes(rows[1000:]).split("常住".encode(), 1)[0].count(b"\n") + 1
    job = load_bytes(w.steward, w.dataset, head + tail)
    assert_nothing_loaded(job, "encoding")
    assert job.error_args == {"line": bad_line}


def _zip_bomb(member_mb: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"<c>0</c>" * (1 << 17)  # 1 MB
            for _ in range(member_mb):
                member.write(block)
    return out.getvalue()


def test_a_zip_bomb_named_xlsx_is_refused_before_unpacking(monkeypatch):
    import openpyxl as openpyxl_module

    def unpacked(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(openpyxl_module, "load_workbook", unpacked)
    w = pool_world()
    data = _zip_bomb(64)
    assert len(data) < 1024 * 1024  # 64 MB of XML in well under 1 MB
    job = load_bytes(w.steward, w.dataset, data, name="report.xlsx")
    assert_nothing_loaded(job, "too_large")


def test_an_xlsx_unpacking_beyond_the_limit_is_refused(settings):
    settings.DATAPOOL_MAX_XLSX_UNPACKED_MB = 1
    w = pool_world()
    rng = random.Random(3)  # noqa: S311 - repeatable test data
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:  # ratio 1: only the size is wrong
        archive.writestr("xl/worksheets/sheet1.xml", rng.randbytes(2 * 1024 * 1024))
    job = load_bytes(w.steward, w.dataset, out.getvalue(), name="big.xlsx")
    assert_nothing_loaded(job, "too_large")


def test_a_file_that_starts_like_a_zip_but_is_not_fails():
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, b"PK\x03\x04" + b"not really a zip" * 100, name="x.xlsx")
    assert_nothing_loaded(job, "format")


# --- data, never code ---


def test_formula_injection_cells_are_stored_as_text():
    w = pool_world()
    payloads = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", '=HYPERLINK("http://x")']
    rows = [HEADER] + [
        row(身份证号=f"32010619900101{1000 + i}", 姓名=text[:50], 住址=text) for i, text in enumerate(payloads)
    ]
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    assert job.status == "succeeded", job.error_message()
    assert job.rows_accepted == len(payloads)
    stored = list(Record.objects.filter(job=job).order_by("line").values_list("payload__address", flat=True))
    assert stored == payloads  # verbatim: escaping is the exporter's job


# --- a large file ---


def _peak_rss_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset VmHWM (Linux)
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for text in handle:
            if text.startswith("VmHWM:"):
                return int(text.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _write_big_csv(path, target_bytes: int) -> int:
    """Rows of about 420 bytes (long addresses, as in real registers) until `target_bytes`."""
    street = "南京市鼓楼区中山北路街道" + "幸福里社区第三网格" * 9
    size = 0
    rows = 0
    with open(path, "wb") as handle:
        handle.write((",".join(HEADER) + "\r\n").encode())
        while size < target_bytes:
            lines = []
            for i in range(rows, rows + 20000):
                lines.append(
                    f"32010619{i:010d},王芳{i % 97},138{i % 10**8:08d},{street}{i % 1000}号,320106,"
                    f"{i % 99},{'男' if i % 2 else '女'},{'常住' if i % 3 else '流动'},"
                    f"2026-11-01 {i % 24:02d}:{i % 60:02d}:00\r\n"
                )
            block = "".join(lines).encode()
            handle.write(block)
            size += len(block)
            rows += 20000
    return rows


@pytest.mark.timeout(600)
def test_a_200_mb_csv_loads_completely_in_bounded_memory(tmp_path, settings):
    settings.STORAGES = settings.STORAGES | {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        }
    }
    w = pool_world()
    path = tmp_path / "residents.csv"
    started = time.perf_counter()
    rows = _write_big_csv(path, 200 * 1024 * 1024)
    generated = time.perf_counter() - started
    exact_peak = _peak_rss_reset()
    before = _peak_rss_mb()
    started = time.perf_counter()
    with open(path, "rb") as handle, transaction.atomic():
        job = services.ingestion_submit_file(actor=w.steward, dataset=w.dataset, upload=File(handle, name=path.name))
    submitted = time.perf_counter() - started
    job = services.ingestion_run(job.pk)
    loaded = time.perf_counter() - started - submitted
    peak = _peak_rss_mb()
    assert job.status == "succeeded", job.error_message()
    assert (job.rows_read, job.rows_accepted, job.rows_rejected) == (rows, rows, 0)
    assert Record.objects.filter(job=job).count() == rows
    growth = peak - before
    print(
        f"\n200 MB CSV: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB; generated in {generated:.1f}s, "
        f"submitted in {submitted:.1f}s, loaded in {loaded:.1f}s ({rows / loaded:,.0f} rows/s); "
        f"peak RSS {peak:.0f} MB, +{growth:.0f} MB over the load ({'VmHWM' if exact_peak else 'ru_maxrss'})"
    )
    assert growth < 120, f"the load grew the process by {growth:.0f} MB for a 200 MB file"
