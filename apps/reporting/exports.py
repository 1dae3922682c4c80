"""One neutral document model, three renderers: PDF (with an embedded CJK font), Excel and CSV.

Reports build a `Document` (title, meta lines, sections of paragraphs, key figures and tables);
each renderer writes it to a binary stream and calls `progress(done, total)` every few hundred
table rows so a Celery job can report how far it is. Cells that a spreadsheet would run as a
formula are written as text in every format.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from django.utils import timezone

from apps.core.csv import csv_cell

FONT_NAME = "WenQuanYiMicroHei"
FONT_FILE = Path(__file__).resolve().parent / "fonts" / "wqy-microhei.ttc"
CHUNK = 300  # table rows per PDF table flowable (long tables lay out in linear time this way)
PROGRESS_EVERY = 500

Progress = Callable[[int, int], None] | None


@dataclass
class Table:
    columns: list[str]
    rows: list[list]
    title: str = ""


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class Document:
    title: str
    meta: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    footer: str = ""
    page_label: str = "%(page)d"


def cell_text(value) -> str:
    """A cell as text: local time for datetimes, plain numbers, '' for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _total_rows(doc: Document) -> int:
    return sum(len(t.rows) for s in doc.sections for t in s.tables)


class _Counter:
    def __init__(self, doc: Document, progress: Progress):
        self.total = _total_rows(doc)
        self.done = 0
        self.progress = progress

    def add(self, n: int) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += n
        if self.progress and self.done // PROGRESS_EVERY != before:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        if self.progress:
            self.progress(self.total, self.total)


# --- PDF ----------------------------------------------------------------------------------------

_font_lock = threading.Lock()
_font_ready = False


def _register_font() -> None:
    global _font_ready
    if _font_ready:
        return
    with _font_lock:
        if not _font_ready:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_FILE), subfontIndex=0))
            _font_ready = True


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=FONT_NAME, fontSize=9.5, leading=13, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=8),
        "meta": ParagraphStyle("meta", parent=base, fontSize=9, leading=12, textColor=colors.HexColor("#444444")),
        "heading": ParagraphStyle("heading", parent=base, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=4),
        "caption": ParagraphStyle("caption", parent=base, fontSize=10, leading=14, spaceBefore=4, spaceAfter=2),
        "body": ParagraphStyle("body", parent=base, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
    }


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pdf_table(columns, rows, styles, width):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, TableStyle
    from reportlab.platypus import Table as PdfTable

    cell = styles["cell"]
    data = [[Paragraph(_escape(c), cell) for c in columns]]
    for row in rows:
        data.append([Paragraph(_escape(cell_text(v)), cell) for v in row])
    table = PdfTable(data, colWidths=[width / max(len(columns), 1)] * len(columns), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def render_pdf(doc: Document, out: BinaryIO, progress: Progress = None) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    _register_font()
    styles = _styles()
    counter = _Counter(doc, progress)
    margin = 15 * mm
    width = A4[0] - 2 * margin
    story = [Paragraph(_escape(doc.title), styles["title"])]
    for label, value in doc.meta:
        story.append(Paragraph(f"{_escape(label)}：{_escape(value)}", styles["meta"]))
    for section in doc.sections:
        story.append(Paragraph(_escape(section.heading), styles["heading"]))
        for text in section.paragraphs:
            story.append(Paragraph(_escape(text), styles["body"]))
        if section.figures:
            story.append(
                _pdf_table([label for label, _v in section.figures], [[v for _l, v in section.figures]], styles, width)
            )
            story.append(Spacer(1, 4))
        for table in section.tables:
            if table.title:
                story.append(Paragraph(_escape(table.title), styles["caption"]))
            for start in range(0, max(len(table.rows), 1), CHUNK):
                chunk = table.rows[start : start + CHUNK]
                story.append(_pdf_table(table.columns, chunk, styles, width))
                counter.add(len(chunk))
            story.append(Spacer(1, 6))

    def decorate(canvas, template):
        canvas.saveState()
        canvas.setFont(FONT_NAME, 7.5)
        canvas.drawString(margin, 8 * mm, doc.footer)
        canvas.drawRightString(A4[0] - margin, 8 * mm, doc.page_label % {"page": canvas.getPageNumber()})
        canvas.restoreState()

    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 4 * mm,
        title=doc.title,
        creator="emergency collaboration platform",
    )
    pdf.build(story, onFirstPage=decorate, onLaterPages=decorate)
    counter.finish()


# --- Excel --------------------------------------------------------------------------------------


def _xlsx_value(value):
    """Numbers stay numbers; text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.replace(tzinfo=None)
    return csv_cell(cell_text(value))


def _sheet_title(title: str, used: set[str]) -> str:
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip() or "Sheet"
    clean = clean[:28]
    name, n = clean, 2
    while name.lower() in used:
        name = f"{clean[:26]}~{n}"
        n += 1
    used.add(name.lower())
    return name


def render_xlsx(doc: Document, out: BinaryIO, progress: Progress = None) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    counter = _Counter(doc, progress)
    wb = Workbook(write_only=True)
    used: set[str] = set()
    summary = wb.create_sheet(_sheet_title("Summary", used))
    bold = Font(bold=True)

    def strong(ws, text):
        c = WriteOnlyCell(ws, value=csv_cell(text))
        c.font = bold
        return c

    summary.append([strong(summary, doc.title)])
    for label, value in doc.meta:
        summary.append([csv_cell(label), csv_cell(value)])
    for section in doc.sections:
        summary.append([])
        summary.append([strong(summary, section.heading)])
        for text in section.paragraphs:
            summary.append([csv_cell(text)])
        for label, value in section.figures:
            summary.append([csv_cell(label), _xlsx_value(value)])
    for section in doc.sections:
        for table in section.tables:
            ws = wb.create_sheet(_sheet_title(table.title or section.heading, used))
            ws.append([strong(ws, c) for c in table.columns])
            for i, row in enumerate(table.rows, 1):
                ws.append([_xlsx_value(v) for v in row])
                if i % PROGRESS_EVERY == 0:
                    counter.add(PROGRESS_EVERY)
            counter.add(len(table.rows) % PROGRESS_EVERY)
    wb.save(out)
    counter.finish()


# --- CSV ----------------------------------------------------------------------------------------


def render_csv(doc: Document, out: BinaryIO, progress: Progress = None) -> None:
    """UTF-8 with a byte-order mark (Excel on Chinese Windows then reads it right), blocks in order."""
    counter = _Counter(doc, progress)
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([csv_cell(doc.title)])
    for label, value in doc.meta:
        writer.writerow([csv_cell(label), csv_cell(value)])
    for section in doc.sections:
        writer.writerow([])
        writer.writerow([csv_cell(section.heading)])
        for paragraph in section.paragraphs:
            writer.writerow([csv_cell(paragraph)])
        for label, value in section.figures:
            writer.writerow([csv_cell(label), csv_cell(value)])
        for table in section.tables:
            writer.writerow([])
            if table.title:
                writer.writerow([csv_cell(table.title)])
            writer.writerow([csv_cell(c) for c in table.columns])
            for start in range(0, len(table.rows), PROGRESS_EVERY):
                chunk = table.rows[start : start + PROGRESS_EVERY]
                writer.writerows([[csv_cell(cell_text(v)) for v in row] for row in chunk])
                counter.add(len(chunk))
    text.flush()
    text.detach()  # leave `out` open for the caller
    counter.finish()


RENDERERS = {
    "pdf": (render_pdf, "application/pdf", ".pdf"),
    "xlsx": (render_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "csv": (render_csv, "text/csv; charset=utf-8", ".csv"),
}
