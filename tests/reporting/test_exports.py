"""The three renderers: Chinese text survives PDF (font embedded, text extractable), Excel and
CSV; formula-like cells stay text; long tables paginate; progress reaches the end."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from pypdf import PdfReader

from apps.reporting.exports import RENDERERS, Document, Section, Table, render_csv, render_pdf, render_xlsx

INJECTION = "=cmd|' /C calc'!A0"
UTC_0800 = datetime(2026, 11, 24, 8, tzinfo=ZoneInfo("UTC"))  # 16:00 in Asia/Shanghai
LONG_PLACE = "南京市鼓楼区江东北路与草场门大街交叉口东北侧堤段（长江大堤 K12+300 至 K13+050），需要持续巡查"


def document(rows: int = 3) -> Document:
    return Document(
        title="长江流域暴雨洪涝综合报告 No. 7",
        meta=[("事件", "长江南京段洪水"), ("生成时间", "2026-11-24 16:00")],
        sections=[
            Section(
                heading="关键数据",
                paragraphs=["南京市鼓楼区：死亡 3 人，转移 1200 人。<紧急> & 注意", "第一行\n第二行"],
                figures=[("死亡", "3"), ("转移", "1200")],
                tables=[
                    Table(
                        title="任务清单",
                        columns=["编号", "任务", "部门", "期限", "地点"],
                        rows=[
                            [
                                i,
                                f"巡堤查险第{i}段",
                                "南京市消防救援支队",
                                UTC_0800,
                                LONG_PLACE if i % 10 == 0 else "鼓楼区",
                            ]
                            for i in range(1, rows + 1)
                        ]
                        + [[-5, INJECTION, "+86 138", None, "@SUM(A1)"]],
                    )
                ],
            ),
            Section(
                heading="物资 [库存]",
                tables=[
                    Table(
                        title="任务清单",
                        columns=["物资", "数量", "日期"],
                        rows=[["沙袋", Decimal("2.5"), date(2026, 11, 24)]],
                    )
                ],
            ),
        ],
        footer="应急协同平台",
        page_label="第 %(page)d 页",
    )


def render(renderer, doc: Document, progress=None) -> bytes:
    out = io.BytesIO()
    renderer(doc, out, progress=progress)
    assert not out.closed  # the caller (a FileField save, a response) still owns the stream
    return out.getvalue()


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def embedded_fonts(data: bytes) -> dict[str, set[str]]:
    """Font name -> the FontFile* keys of its descriptor, for every font any page uses."""
    fonts: dict[str, set[str]] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in page["/Resources"].get("/Font", {}).values():
            font = ref.get_object()
            for f in [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]:
                descriptor = f.get("/FontDescriptor")
                files = {k for k in descriptor.get_object() if k.startswith("/FontFile")} if descriptor else set()
                fonts.setdefault(str(f["/BaseFont"]), set()).update(files)
    return fonts


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_embeds_its_cjk_font_and_gives_the_chinese_text_back():
    data = render(render_pdf, document())
    assert data.startswith(b"%PDF")
    text = "".join(pdf_pages(data))
    for expected in (
        "长江流域暴雨洪涝综合报告 No. 7",
        "事件：长江南京段洪水",
        "关键数据",
        "南京市鼓楼区：死亡 3 人",
        "<紧急> & 注意",  # escaped on the way in, not taken as markup
        "巡堤查险第2段",
        "南京市消防救援支队",
        "2026-11-24 16:00",  # 08:00 UTC shown in Asia/Shanghai
        "物资 [库存]",
        "第 1 页",
        "应急协同平台",
    ):
        assert expected in text, expected
    assert "第一行\n第二行" in text  # a line break in the text stays one
    # The CJK font is in the file (TrueType outlines, subsets), not merely named, and no other
    # font is named that a machine without it would substitute.
    fonts = embedded_fonts(data)
    assert fonts and all("WenQuanYiMicroHei" in name for name in fonts)
    assert all(files == {"/FontFile2"} for files in fonts.values())


def test_a_cell_too_long_for_its_column_wraps_inside_the_page():
    text = "".join(pdf_pages(render(render_pdf, document(rows=10))))
    # Wrapped over lines (a space at a line end goes), every character still there and in order.
    assert LONG_PLACE.replace(" ", "") in text.replace("\n", "").replace(" ", "")
    assert LONG_PLACE not in text


def test_a_long_table_runs_over_pages_with_every_row_and_progress_reaches_the_end():
    calls = []
    data = render(render_pdf, document(rows=2000), progress=lambda done, total: calls.append((done, total)))
    pages = pdf_pages(data)
    assert len(pages) > 10
    text = "".join(pages)
    assert "巡堤查险第1段" in text and "巡堤查险第2000段" in text
    assert text.count("巡堤查险第") == 2000
    assert all(f"第 {n} 页" in page for n, page in enumerate(pages, 1))
    # Progress follows the layout: several steps, never backwards, ends on (total, total) once.
    total = 2002
    assert len(calls) > 2 and calls[-1] == (total, total) and calls.count((total, total)) == 1
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert {t for _, t in calls} == {total}


def test_each_renderer_reports_progress_to_the_end():
    for name, (renderer, content_type, ext) in RENDERERS.items():
        calls = []
        render(renderer, document(rows=1200), progress=lambda done, total, calls=calls: calls.append((done, total)))
        assert calls[-1] == (1202, 1202), name
        assert len(calls) >= 3, name  # every 500 rows, then the end
        assert ext == f".{name}" and content_type


def test_an_empty_table_and_an_empty_document_still_render():
    doc = Document(title="空报告", sections=[Section(heading="无数据", tables=[Table(columns=["编号"], rows=[])])])
    for renderer, _type, _ext in RENDERERS.values():
        assert render(renderer, doc)
        assert render(renderer, Document(title=""))


# --- Excel --------------------------------------------------------------------------------------


def test_excel_keeps_chinese_and_types_and_writes_formulas_as_text():
    workbook = load_workbook(io.BytesIO(render(render_xlsx, document())))
    assert workbook.sheetnames[0] == "Summary"
    summary = [c.value for row in workbook["Summary"].iter_rows() for c in row if c.value is not None]
    assert "长江流域暴雨洪涝综合报告 No. 7" in summary and "死亡" in summary and "第一行\n第二行" in summary

    tasks = workbook.worksheets[1]
    rows = list(tasks.iter_rows(values_only=True))
    assert rows[0] == ("编号", "任务", "部门", "期限", "地点")
    assert rows[2][:4] == (2, "巡堤查险第2段", "南京市消防救援支队", datetime(2026, 11, 24, 16, 0))  # naive, local
    injected = next(c for row in tasks.iter_rows() for c in row if INJECTION in str(c.value))
    assert injected.data_type == "s" and injected.value == f"'{INJECTION}"
    assert rows[-1][0] == -5  # a negative number stays a number
    assert rows[-1][2] == "'+86 138" and rows[-1][4] == "'@SUM(A1)"
    assert not any(c.data_type == "f" for ws in workbook.worksheets for row in ws.iter_rows() for c in row)

    stock = list(workbook.worksheets[2].iter_rows(values_only=True))
    assert stock[1] == ("沙袋", 2.5, datetime(2026, 11, 24))


def test_excel_sheet_names_are_unique_short_and_legal():
    long_name = "超长的表格标题：包含[非法]字符*?/\\以及更多的文字内容用于测试截断规则"
    doc = Document(
        title="t",
        sections=[Section(heading="h", tables=[Table(columns=["a"], rows=[[1]], title=long_name) for _ in range(3)])],
    )
    names = load_workbook(io.BytesIO(render(render_xlsx, doc))).sheetnames
    assert len(names) == 4 and len({n.lower() for n in names}) == 4
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_control_characters_do_not_break_excel_or_pdf():
    doc = Document(
        title="报告\x07", sections=[Section(heading="h\x00", tables=[Table(columns=["a"], rows=[["坏\x0b字符"]])])]
    )
    workbook = load_workbook(io.BytesIO(render(render_xlsx, doc)))
    assert list(workbook.worksheets[1].iter_rows(values_only=True))[1] == ("坏字符",)
    assert "坏字符" in "".join(pdf_pages(render(render_pdf, doc)))


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_has_a_bom_escapes_formulas_and_keeps_chinese():
    data = render(render_csv, document())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["长江流域暴雨洪涝综合报告 No. 7"]
    assert ["事件", "长江南京段洪水"] in rows
    assert ["1", "巡堤查险第1段", "南京市消防救援支队", "2026-11-24 16:00", "鼓楼区"] in rows
    assert ["-5", f"'{INJECTION}", "'+86 138", "", "'@SUM(A1)"] in rows  # numbers stay numbers
    assert ["沙袋", "2.5", "2026-11-24"] in rows


def test_csv_writes_blocks_in_order_with_a_blank_row_between():
    rows = list(csv.reader(io.StringIO(render(render_csv, document(rows=1)).decode("utf-8-sig"), newline="")))
    first_cells = [r[0] if r else "" for r in rows]
    assert first_cells == [
        "长江流域暴雨洪涝综合报告 No. 7",
        "事件",
        "生成时间",
        "",
        "关键数据",
        "南京市鼓楼区：死亡 3 人，转移 1200 人。<紧急> & 注意",
        "第一行\n第二行",
        "死亡",
        "转移",
        "",
        "任务清单",
        "编号",
        "1",
        "-5",
        "",
        "物资 [库存]",
        "",
        "任务清单",
        "物资",
        "沙袋",
    ]
