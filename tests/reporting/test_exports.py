"""The three renderers: Chinese text survives PDF (font embedded, text extractable), Excel and
CSV; formula-like cells stay text; long tables paginate; progress reaches the end."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from pypdf import PdfReader

from apps.reporting.exports import Document, Section, Table, render_csv, render_pdf, render_xlsx

INJECTION = "=cmd|' /C calc'!A0"
UTC8 = datetime(2026, 11, 24, 8, tzinfo=ZoneInfo("UTC"))


def document(rows: int = 3) -> Document:
    return Document(
        title="长江流域暴雨洪涝综合报告 No. 7",
        meta=[("事件", "长江南京段洪水"), ("生成时间", "2026-11-24 08:00")],
        sections=[
            Section(
                heading="关键数据",
                paragraphs=["南京市鼓楼区：死亡 3 人，转移 1200 人。<紧急> & 注意"],
                figures=[("死亡", "3"), ("转移", "1200")],
                tables=[
                    Table(
                        title="任务清单",
                        columns=["编号", "任务", "部门", "期限"],
                        rows=[
                            [
                                i,
                                f"巡堤查险第{i}段",
                                "南京市消防救援支队",
                                datetime(2026, 11, 24, 8, tzinfo=ZoneInfo("UTC")),
                            ]
                            for i in range(1, rows + 1)
                        ]
                        + [[0, INJECTION, "+86 138", None]],
                    )
                ],
            )
        ],
        footer="应急协同平台",
        page_label="第 %(page)d 页",
    )


def pdf_text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return "".join(p.extract_text() for p in reader.pages), len(reader.pages)


def test_pdf_embeds_its_cjk_font_and_gives_the_chinese_text_back():
    out = io.BytesIO()
    render_pdf(document(), out)
    data = out.getvalue()
    assert data.startswith(b"%PDF")
    text, _pages = pdf_text(data)
    for expected in (
        "长江流域暴雨洪涝综合报告 No. 7",
        "南京市鼓楼区：死亡 3 人",
        "<紧急> & 注意",
        "巡堤查险第2段",
        "第 1 页",
    ):
        assert expected in text
    assert "2026-11-24 16:00" in text  # 08:00 UTC shown in Asia/Shanghai
    assert b"/FontFile2" in data  # TrueType outlines embedded, not referenced


def test_a_long_table_runs_over_pages_and_progress_reaches_the_end():
    calls = []
    out = io.BytesIO()
    render_pdf(document(rows=2000), out, progress=lambda done, total: calls.append((done, total)))
    text, pages = pdf_text(out.getvalue())
    assert pages > 10
    assert "巡堤查险第1段" in text and "巡堤查险第2000段" in text
    assert calls[-1] == (2001, 2001) and len(calls) > 2


def test_excel_keeps_chinese_and_writes_formulas_as_text():
    out = io.BytesIO()
    render_xlsx(document(), out)
    workbook = load_workbook(io.BytesIO(out.getvalue()))
    assert workbook.sheetnames[0] == "Summary"
    cells = [c for ws in workbook.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    values = {str(c.value) for c in cells}
    assert "长江流域暴雨洪涝综合报告 No. 7" in values and "巡堤查险第3段" in values
    injected = next(c for c in cells if INJECTION in str(c.value))
    assert injected.data_type == "s" and str(injected.value).startswith("'")


def test_csv_has_a_bom_escapes_formulas_and_keeps_chinese():
    out = io.BytesIO()
    render_csv(document(), out)
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "巡堤查险第3段" in text and "南京市消防救援支队" in text
    assert f"'{INJECTION}" in text.replace('""', '"') and "'+86 138" in text
    assert not out.closed
