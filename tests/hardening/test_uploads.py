"""Hostile uploads (issue 8): too large, not what the name says, zip bombs, spreadsheet formulas.

Every upload path: data-pool files (API and portal), task attachments (API). What each refuses
it refuses with a 4xx and a message in the user's language, and nothing is stored: no row, no
file in storage, no job queued. What a file *is* comes from its bytes, never from its name or the
content type the client claims. Formula cells are stored as the text they are and leave through
every export quoted (tests/hardening/test_exports.py walks the exports).
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from apps.core.uploads import ZIP_MAX_ENTRIES, UnsafeZip, binary_signature, looks_like_markup, zip_inspect
from apps.datapool.demo import csv_bytes, resident_rows
from apps.datapool.models import IngestionJob, Record
from apps.ledger.models import AuditEvent
from apps.tasking.models import TaskAttachment
from tests.datapool.world import load_bytes, pool_world
from tests.matrix import registry

registry.load_all()  # the task world objects (`task`, `api_task_department_head`) come with the matrix modules

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + bytes(range(256)) * 8
HTML = b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n"
HTML_WITH_BOM = b"\xef\xbb\xbf  \r\n<html><head><title>x</title></head></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>'
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def stored_files(path: str = "") -> set[str]:
    """Every file in the default storage (in memory under the test settings)."""
    directories, files = default_storage.listdir(path)
    found = {f"{path}/{name}".lstrip("/") for name in files}
    for directory in directories:
        found |= stored_files(f"{path}/{directory}".lstrip("/"))
    return found


def error_of(response) -> dict:
    return response.json()["error"]


# --- building hostile files ---------------------------------------------------------------------


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def zip_bomb(member_mb: int) -> bytes:
    """A workbook-looking archive whose sheet XML inflates to `member_mb` MB from a few hundred KB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"<c>0</c>" * (1 << 17)  # 1 MB
            for _ in range(member_mb):
                member.write(block)
    return out.getvalue()


def many_parts(entries: int, first: str = "[Content_Types].xml", prefix: str = "xl/media/p") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(first, "<Types/>")
        for i in range(entries - 1):
            archive.writestr(f"{prefix}{i}.bin", b"")
    return out.getvalue()


def _central_entries(data: bytes):
    """(offset, name) of each central-directory header."""
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        yield at, data[at + 46 : at + 46 + name_length].decode()
        at = data.find(b"PK\x01\x02", at + 46)


def forge_declared_size(data: bytes, name: str, size: int) -> bytes:
    """The archive with `name`'s uncompressed size in the central directory replaced by `size`."""
    forged = bytearray(data)
    for at, member in _central_entries(data):
        if member == name:
            struct.pack_into("<L", forged, at + 24, size)
            return bytes(forged)
    raise AssertionError(f"{name} not in the archive")


def forge_entry_count(data: bytes, count: int) -> bytes:
    """The archive with its end-of-central-directory record claiming `count` entries."""
    forged = bytearray(data)
    at = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", forged, at + 8, count, count)
    return bytes(forged)


def with_zip64_claim(data: bytes, entries: int) -> bytes:
    """The archive with a ZIP64 end record claiming `entries` entries (and the classic record
    pointing to it, as ZIP64 writers do)."""
    at = data.rfind(b"PK\x05\x06")
    _sig, _d, _cd, _here, _total, cd_size, cd_offset, comment = struct.unpack_from("<4s4H2LH", data, at)
    record_at = at
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, record_at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, cd_size, cd_offset, 0)
    return data[:at] + record + locator + end


def billion_laughs_xlsx() -> bytes:
    """A real workbook whose sheet XML declares nested entities (the "billion laughs")."""
    good = xlsx_bytes([["身份证号", "姓名"], ["320106199001011234", "王芳"]])
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
        + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = laughs.encode() if info.filename == "xl/worksheets/sheet1.xml" else source.read(info)
            target.writestr(info.filename, body)
    return out.getvalue()


# --- the shared zip inspection ------------------------------------------------------------------


def test_zip_inspect_lists_a_workbook_without_unpacking_it():
    data = xlsx_bytes([["a"], [1]])
    summary = zip_inspect(io.BytesIO(data))
    assert "[Content_Types].xml" in summary.names and "xl/worksheets/sheet1.xml" in summary.names
    assert summary.unpacked > summary.packed > 0


def test_zip_inspect_reports_a_bombs_ratio():
    summary = zip_inspect(io.BytesIO(zip_bomb(16)))
    assert summary.unpacked >= 16 * 1024 * 1024 and summary.ratio > 200


@pytest.mark.parametrize(
    "data",
    [
        many_parts(ZIP_MAX_ENTRIES + 1),  # the record says so
        forge_entry_count(many_parts(ZIP_MAX_ENTRIES + 1), 2),  # the record undercounts: the listing says so
        forge_entry_count(many_parts(3), ZIP_MAX_ENTRIES + 1),  # the record alone: refused before listing
        with_zip64_claim(many_parts(3), 10**9),  # a ZIP64 record claiming a billion entries
    ],
    ids=["many", "record-undercounts", "record-overcounts", "zip64-claim"],
)
def test_zip_inspect_refuses_more_entries_than_any_document_has(data):
    with pytest.raises(UnsafeZip) as caught:
        zip_inspect(io.BytesIO(data))
    assert caught.value.reason == "too_many_entries"


@pytest.mark.parametrize("data", [b"PK\x03\x04" + b"not a zip" * 100, b"", EXE, b"PK\x05\x06" + b"\x00" * 10])
def test_zip_inspect_refuses_what_is_not_an_archive(data):
    with pytest.raises(UnsafeZip) as caught:
        zip_inspect(io.BytesIO(data))
    assert caught.value.reason == "not_zip"


@pytest.mark.parametrize(
    ("head", "markup"),
    [(HTML, True), (HTML_WITH_BOM, True), (SVG, True), (b'<?xml version="1.0"?><a/>', True), (b"<!-- x -->", True)]
    + [(b"id,name\n1,<b>\n", False), (b'{"a": "<html>"}\n', False), (b"1 < 2\n", False)],
)
def test_markup_is_recognised_by_its_first_bytes(head, markup):
    assert looks_like_markup(head) is markup


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (EXE, "Windows program"),
        (PNG, "PNG image"),
        (b"%PDF-1.7\n", "PDF document"),
        (b"\x1f\x8b\x08\x00", "gzip archive"),
    ]
    + [(b"BMI,height\n22,170\n", None), (b"MZ_code,name\n1,a\n", None), (b"RIFF,x\n", None), (HTML, None)],
)
def test_binary_formats_are_recognised_by_their_signature_and_text_is_not(head, kind):
    assert binary_signature(head) == kind


# --- data-pool uploads through the API ----------------------------------------------------------


@pytest.fixture
def w():
    return pool_world()


def api_upload(user, dataset, data: bytes, name: str, content_type: str = "text/csv", **headers):
    client = APIClient()
    client.force_login(user)
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(f"/api/v1/datasets/{dataset.pk}/uploads/", {"file": upload}, format="multipart", **headers)


def assert_refused_and_nothing_written(response, code: str, before_files: set, before_seq: int):
    assert response.status_code == 400, response.content[:300]
    error = error_of(response)
    assert error["code"] == code and list(error["fields"]) == ["file"], error
    assert not IngestionJob.objects.exists()
    assert stored_files() == before_files
    assert (
        not AuditEvent.objects.filter(seq__gt=before_seq).exclude(action__in=("access.denied", "auth.login")).exists()
    )


def _last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (EXE, "data.csv", "text/csv"),
        (EXE, "data.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (HTML, "data.csv", "text/csv"),
        (HTML_WITH_BOM, "data.jsonl", "application/json"),
        (SVG, "data.csv", "text/csv"),
        (PNG, "data.csv", "text/csv"),
        (b"PK\x03\x04" + b"not really a zip" * 100, "data.xlsx", "application/octet-stream"),
    ],
    ids=["exe-as-csv", "exe-as-xlsx", "html-as-csv", "html-with-bom-as-jsonl", "svg-as-csv", "png-as-csv", "fake-zip"],
)
def test_a_file_that_is_not_data_is_refused_by_its_content_and_nothing_is_stored(w, data, name, content_type):
    before_files, before_seq = stored_files(), _last_seq()
    response = api_upload(w.steward, w.dataset, data, name, content_type, **EN)
    assert_refused_and_nothing_written(response, "unsupported_file_type", before_files, before_seq)
    assert error_of(response)["message"] == "The file is not CSV, Excel (.xlsx) or JSON lines."


def test_the_refusal_speaks_the_users_language(w):
    response = api_upload(w.steward, w.dataset, HTML, "data.csv", **ZH)
    with translation.override("zh-hans"):
        expected = translation.gettext("The file is not CSV, Excel (.xlsx) or JSON lines.")
    assert expected != "The file is not CSV, Excel (.xlsx) or JSON lines."
    assert error_of(response)["message"] == expected


def test_a_real_csv_and_a_real_workbook_are_accepted(w):
    rows = resident_rows(2)
    assert api_upload(w.steward, w.dataset, csv_bytes(rows), "a.txt", "application/octet-stream").status_code == 202
    response = api_upload(w.steward, w.dataset, xlsx_bytes(rows), "b.bin", "text/plain")
    assert response.status_code == 202, response.content
    assert IngestionJob.objects.count() == 2


@pytest.mark.parametrize("extra_kb", [10, 200], ids=["within-the-request-slack", "refused-before-reading"])
def test_an_oversized_file_is_refused_in_the_users_language_and_nothing_is_stored(w, settings, extra_kb):
    settings.DATAPOOL_MAX_UPLOAD_MB = 1
    data = b"id\n" + b"1\n" * ((1024 * 1024 + extra_kb * 1024) // 2)
    before_files, before_seq = stored_files(), _last_seq()
    english = api_upload(w.steward, w.dataset, data, "big.csv", **EN)
    assert_refused_and_nothing_written(english, "file_too_large", before_files, before_seq)
    assert error_of(english)["message"] == "The file is larger than the limit of 1 MB."
    chinese = api_upload(w.steward, w.dataset, data, "big.csv", **ZH)
    with translation.override("zh-hans"):
        assert error_of(chinese)["message"] == translation.gettext(
            "The file is larger than the limit of %(limit)s MB."
        ) % {"limit": 1}


def test_a_zip_bomb_is_refused_by_its_ratio_before_anything_unpacks(w, monkeypatch):
    import openpyxl as openpyxl_module

    def opened(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(openpyxl_module, "load_workbook", opened)
    data = zip_bomb(64)
    assert len(data) < 1024 * 1024  # 64 MB of sheet XML in well under 1 MB
    before_files, before_seq = stored_files(), _last_seq()
    response = api_upload(w.steward, w.dataset, data, "report.xlsx", **EN)
    assert_refused_and_nothing_written(response, "file_too_large", before_files, before_seq)
    assert error_of(response)["message"] == "The file is larger than the limit of 1024 MB."


def test_a_workbook_with_more_parts_than_any_workbook_is_refused(w):
    data = many_parts(ZIP_MAX_ENTRIES + 1)
    before_files, before_seq = stored_files(), _last_seq()
    response = api_upload(w.steward, w.dataset, data, "parts.xlsx", **EN)
    assert_refused_and_nothing_written(response, "file_too_large", before_files, before_seq)
    assert str(ZIP_MAX_ENTRIES) in error_of(response)["message"]


def test_a_workbook_unpacking_beyond_the_limit_is_refused(w, settings):
    settings.DATAPOOL_MAX_XLSX_UNPACKED_MB = 1
    data = xlsx_bytes([["a", "b"], *[[f"value-{i}", i] for i in range(60_000)]])
    assert zip_inspect(io.BytesIO(data)).unpacked > 1024 * 1024
    before_files, before_seq = stored_files(), _last_seq()
    response = api_upload(w.steward, w.dataset, data, "big.xlsx", **EN)
    assert_refused_and_nothing_written(response, "file_too_large", before_files, before_seq)


# --- what only the load can see -----------------------------------------------------------------


def _peak_rss_reset() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset VmHWM (Linux)


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_sheet_that_inflates_beyond_its_declared_size_fails_the_load_in_bounded_memory(w):
    """The central directory says the sheet is 2 KB; its stream inflates to 256 MB. The archive
    passes the declared-size checks, and the load reads no more than was declared: the sheet is
    cut short, and the load fails as a damaged workbook (not a crash to retry), nothing loaded."""
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    out = io.BytesIO()
    good = xlsx_bytes([["a"], [1]])
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info.filename, source.read(info))
        with target.open("xl/worksheets/sheet1.xml", "w") as member:
            member.write(sheet)
            row = b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
            for _ in range(256 * 1024):
                member.write(row[:1024])
    data = forge_declared_size(out.getvalue(), "xl/worksheets/sheet1.xml", 2048)
    assert zip_inspect(io.BytesIO(data)).ratio < 200  # the declared sizes look like any workbook's

    _peak_rss_reset()
    start = _peak_rss_mb()
    job = load_bytes(w.steward, w.dataset, data, name="forged.xlsx")
    grown = _peak_rss_mb() - start
    assert job.status == "failed" and job.error_code == "excel", (job.status, job.error_code, job.error_args)
    assert not Record.objects.filter(job=job).exists()
    assert grown < 64, f"the load grew the process by {grown:.0f} MB"


def test_entity_expansion_in_a_sheet_fails_the_load_as_a_damaged_workbook(w):
    """The XML parser refuses the "billion laughs" (expat's amplification limit); the load says the
    workbook cannot be read instead of crashing (and being retried), and loads nothing."""
    job = load_bytes(w.steward, w.dataset, billion_laughs_xlsx(), name="laughs.xlsx")
    assert job.status == "failed" and job.error_code == "excel", (job.error_code, job.error_args)
    assert not Record.objects.filter(job=job).exists()


# --- data-pool uploads through the portal -------------------------------------------------------


def portal_upload(user, dataset, data: bytes, name: str, step: str = "load", **headers):
    client = Client()
    client.force_login(user)
    upload = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(reverse("portal:dataset-upload", args=[dataset.pk]), {"file": upload, "step": step}, **headers)


NOT_DATA = "The file is not CSV, Excel (.xlsx) or JSON lines."
PORTAL_REFUSALS = {
    "exe": (lambda: EXE, "data.csv", NOT_DATA),
    "html": (lambda: HTML, "data.csv", NOT_DATA),
    "zip-bomb": (lambda: zip_bomb(64), "data.xlsx", "The file is larger than the limit of 1024 MB."),
}


@pytest.mark.parametrize("step", ["load", "check"], ids=["load-now", "check-columns-first"])
@pytest.mark.parametrize("kind", sorted(PORTAL_REFUSALS))
def test_the_portal_refuses_on_the_first_step_and_keeps_nothing_aside(w, step, kind):
    make, name, message = PORTAL_REFUSALS[kind]
    data = make()
    before = stored_files()
    response = portal_upload(w.steward, w.dataset, data, name, step=step, **EN)
    assert response.status_code == 400
    assert message in str(response.context["form"].errors["file"])
    assert stored_files() == before  # not even kept aside for step two
    assert not IngestionJob.objects.exists()


def test_the_portal_refuses_an_oversized_file_in_the_users_language(w, settings):
    settings.DATAPOOL_MAX_UPLOAD_MB = 1
    before = stored_files()
    response = portal_upload(w.steward, w.dataset, b"id\n" + b"1\n" * 600_000, "big.csv", **ZH)
    assert response.status_code == 400
    with translation.override("zh-hans"):
        expected = translation.gettext("The file is larger than the limit of %(limit)s MB.") % {"limit": 1}
    assert expected in str(response.context["form"].errors["file"])
    assert stored_files() == before and not IngestionJob.objects.exists()


# --- formulas in, text out ----------------------------------------------------------------------

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=1+1", "\r=1+1"]
EVIL_COLUMN = '=HYPERLINK("http://evil.example","x")'


def _formula_file():
    """Resident rows whose address cells are formulas, each row rejected for its age, plus a column
    whose *name* is a formula (kept with each rejected row as read)."""
    rows = resident_rows(len(FORMULAS))
    header = [*rows[0], EVIL_COLUMN]
    body = []
    for i, row in enumerate(rows[1:]):
        row = list(row)
        row[3] = FORMULAS[i]
        row[5] = "abc"  # not an age: rejected
        body.append([*row, FORMULAS[i]])
    return csv_bytes([header, *body])


def test_formula_cells_are_stored_as_the_text_they_are(w):
    rows = resident_rows(len(FORMULAS))
    for i, row in enumerate(rows[1:]):
        row[3] = FORMULAS[i]
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    assert job.status == "succeeded" and job.rows_accepted == len(FORMULAS), job.error_message()
    stored = list(Record.objects.filter(job=job).order_by("line").values_list("payload__address", flat=True))
    assert [s.strip() for s in stored] == [f.strip() for f in FORMULAS]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _assert_no_formula(table: list[list[str]], where: str) -> None:
    for row in table:
        for cell in row:
            number = cell.lstrip("+-").replace(".", "", 1).isdigit()
            assert number or not cell.startswith(("=", "+", "-", "@", "\t", "\r")), f"{where}: would run: {cell!r}"


def test_the_rejected_rows_downloads_quote_formula_cells_and_column_names(w):
    job = load_bytes(w.steward, w.dataset, _formula_file())
    assert job.rows_rejected == len(FORMULAS), job.error_message()

    api = APIClient()
    api.force_login(w.steward)
    api_table = _cells(b"".join(api.get(f"/api/v1/jobs/{job.pk}/rejects.csv/").streaming_content).decode())
    portal = Client()
    portal.force_login(w.steward)
    response = portal.get(reverse("portal:ingestion-rejects-csv", args=[job.pk]), **EN)
    portal_table = _cells(b"".join(response.streaming_content).decode())

    for where, table in (("api", api_table), ("portal", portal_table)):
        _assert_no_formula(table, where)
        assert f"'{EVIL_COLUMN}" in table[0], f"{where}: the formula column name is not quoted: {table[0]}"
        column = table[0].index(f"'{EVIL_COLUMN}")
        assert sorted(row[column] for row in table[1:]) == sorted(f"'{f}" for f in FORMULAS)


# --- task attachments ---------------------------------------------------------------------------


def attach(world, name: str, content: bytes, **headers):
    client = APIClient()
    client.force_login(world.api_task_department_head)
    url = reverse("api:task-attachments", kwargs={"pk": world.task.pk})
    upload = SimpleUploadedFile(name, content, content_type="text/plain")
    return client.post(url, {"file": upload}, format="multipart", **headers)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", HTML),
        ("table.csv", HTML),
        ("page.html", HTML),
        ("notes.txt", HTML_WITH_BOM),
        ("drawing.txt", SVG),
        ("photo.png", SVG),
        ("notes.txt", EXE),
        ("sheet.xlsx", many_parts(ZIP_MAX_ENTRIES + 1)),
        ("letter.docx", many_parts(ZIP_MAX_ENTRIES + 1, prefix="word/media/p")),
    ],
    ids=["html-as-txt", "html-as-csv", "html", "html-bom", "svg-as-txt", "svg-as-png", "exe", "xlsx-parts", "docx"],
)
def test_an_attachment_that_is_a_page_a_program_or_a_huge_archive_is_refused(world, name, content):
    assert world.task and world.api_task_department_head
    before = stored_files()
    response = attach(world, name, content, **EN)
    assert response.status_code == 400, response.content[:300]
    assert error_of(response)["code"] == "unsupported_file_type"
    assert not TaskAttachment.objects.exists() and stored_files() == before


def test_plain_text_and_a_real_workbook_are_still_attached(world):
    assert attach(world, "notes.txt", b"id,name\n1,<b>bold</b>\n").status_code == 201
    assert attach(world, "sheet.xlsx", xlsx_bytes([["a"], [1]])).status_code == 201
    assert TaskAttachment.objects.count() == 2


def test_an_oversized_attachment_is_refused_in_the_users_language(world):
    from apps.tasking.attachments import MAX_ATTACHMENT_BYTES

    assert world.task and world.api_task_department_head
    before = stored_files()
    english = attach(world, "big.txt", b"a" * (MAX_ATTACHMENT_BYTES + 1), **EN)
    assert english.status_code == 400 and error_of(english)["code"] == "file_too_large"
    assert error_of(english)["message"] == "A file may hold at most 10 MB."
    chinese = attach(world, "big.txt", b"a" * (MAX_ATTACHMENT_BYTES + 1), **ZH)
    with translation.override("zh-hans"):
        assert error_of(chinese)["message"] == translation.gettext("A file may hold at most %(mb)d MB.") % {"mb": 10}
    assert not TaskAttachment.objects.exists() and stored_files() == before


# --- incident photos ----------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header and one tiny compressed row: the header claims `width` x `height`."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def scene():
    from tests.incidents.world import build_world, report_incident

    world_ = build_world()
    return world_, report_incident(world_)


@pytest.mark.parametrize(
    ("name", "content"),
    [("scene.jpg", HTML), ("scene.png", SVG), ("scene.jpg", EXE), ("bomb.png", _png_claiming(100_000, 100_000))],
    ids=["html-as-jpg", "svg-as-png", "exe-as-jpg", "decompression-bomb"],
)
def test_an_incident_photo_that_is_not_a_photo_is_refused_and_nothing_is_stored(scene, name, content):
    from apps.core.exceptions import ServiceError
    from apps.incidents import services as incident_services
    from apps.incidents.models import IncidentPhoto

    w, incident = scene
    before = stored_files()
    with translation.override("en"), pytest.raises(ServiceError) as refused:
        incident_services.incident_photo_add(
            actor=w.user(w.em_a1),
            incident=incident,
            department=w.em_a1,
            uploaded_file=SimpleUploadedFile(name, content, content_type="image/jpeg"),
        )
    assert refused.value.code == "unsupported_file_type" and refused.value.field == "photo"
    assert not IncidentPhoto.objects.exists() and stored_files() == before
