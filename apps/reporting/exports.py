"""One neutral document model, three renderers: PDF (with an embedded CJK font), Excel and CSV.

Reports build a `Document` (title, meta lines, sections of paragraphs, key figures and tables);
each renderer writes it to a binary stream and calls `progress(done, total)` every few hundred
table rows so a Celery job can report how far it is. Cells that a spreadsheet would run as a
formula are written as text in every format.
"""

from __future__ import annotations

import io
import math
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import BinaryIO

from django.utils import timezone

from apps.core.csv import csv_cell, csv_writer

FONT_NAME = "WenQuanYiMicroHei"
FONT_FILE = Path(__file__).resolve().parent / "fonts" / "wqy-microhei.ttc"
# Rows per PDF table flowable: at most CHUNK rows or about CHUNK_HEIGHT points (some seven pages).
# reportlab re-measures every remaining row each time a table splits over a page, so one long table
# lays out in quadratic time (10,000 rows: twice as slow); chunks keep it linear. A chunk starts
# with the header row, so now and then a page shows it twice.
CHUNK = 1000
CHUNK_HEIGHT = 5000
PROGRESS_EVERY = 500

Progress = Callable[[int, int], None] | None


@dataclass
class Table:
    columns: list[str]  # header labels (already translated)
    rows: list[list]  # cells: str, int, float, Decimal, datetime, date or None
    title: str = ""


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (label, value): key figures block
    tables: list[Table] = field(default_factory=list)


@dataclass
class Document:
    title: str
    meta: list[tuple[str, str]] = field(default_factory=list)  # (label, value) lines under the title
    sections: list[Section] = field(default_factory=list)
    footer: str = ""  # left of every PDF page's foot; the page number goes on the right
    page_label: str = "%(page)d"  # e.g. "第 %(page)d 页" / "Page %(page)d"


def _local(value: datetime) -> datetime:
    """Aware datetimes in the platform's zone (Asia/Shanghai), naive; naive ones are taken as local."""
    return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value


def _is_number(value) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def cell_text(value) -> str:
    """A cell as text: local time for datetimes, plain numbers, '' for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, float):
        return format(value, ".15g")  # 1234567.0 -> "1234567", 0.1 + 0.2 -> "0.3"
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
        self.reported = -1

    def add(self, n: int) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += n
        if self.done // PROGRESS_EVERY != before:
            self._report(self.done)

    def finish(self) -> None:
        self._report(self.total)  # always ends on (total, total), once

    def _report(self, done: int) -> None:
        if self.progress and done != self.reported:
            self.reported = done
            self.progress(done, self.total)


# --- PDF ----------------------------------------------------------------------------------------

_font_lock = threading.Lock()
_font_ready = False

CELL_SIZE, CELL_LEADING, CELL_PAD = 8, 10, 3
# Control characters other than tab and newline: not text, and not allowed in XML (Excel) either.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _register_font() -> None:
    global _font_ready
    if _font_ready:
        return
    with _font_lock:
        if not _font_ready:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            # Index 0 of the collection is the proportional face (1 is the monospaced one).
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_FILE), subfontIndex=0))
            _font_ready = True


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    # wordWrap="CJK": Chinese has no spaces, so lines may break between any two characters.
    base = ParagraphStyle("base", fontName=FONT_NAME, fontSize=9.5, leading=13, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=8),
        "meta": ParagraphStyle("meta", parent=base, fontSize=9, leading=12, textColor=colors.HexColor("#444444")),
        "heading": ParagraphStyle("heading", parent=base, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=4),
        "caption": ParagraphStyle("caption", parent=base, fontSize=10, leading=14, spaceBefore=4, spaceAfter=2),
        "body": ParagraphStyle("body", parent=base, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=CELL_SIZE, leading=CELL_LEADING),
    }


def _clean(text) -> str:
    return _CONTROL.sub("", str(text)).replace("\r\n", "\n").replace("\r", "\n")


def _markup(text) -> str:
    """Plain text as Paragraph markup: XML specials escaped, line breaks kept."""
    escaped = _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\n", "<br/>")


def _width(text: str) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return max((stringWidth(line, FONT_NAME, CELL_SIZE) for line in text.split("\n")), default=0)


def _column_widths(columns: list[str], text_widths: list[list[float]], avail: float, stretch: bool) -> list[float]:
    """Widths from the content (header and every row): narrow columns (numbers, times) keep their
    natural width, wide ones share what is left in proportion, so long text wraps there."""
    n = max(len(columns), 1)
    pad = 2 * CELL_PAD + 1
    floor = min(3 * CELL_SIZE + pad, avail / n)  # room for three characters, if there is room
    natural = []
    for i in range(n):
        head = _width(columns[i]) if i < len(columns) else 0
        body = max((r[i] for r in text_widths), default=0)
        natural.append(max(floor, min(max(head, body), avail) + pad))
    if sum(natural) <= avail:
        if not stretch:
            return natural
        extra = (avail - sum(natural)) / n
        return [w + extra for w in natural]
    fixed: dict[int, float] = {}
    while True:  # fix every column narrower than its fair share of what the wide ones leave
        wide = [i for i in range(n) if i not in fixed]
        share = (avail - sum(fixed.values())) / len(wide)
        narrow = {i: natural[i] for i in wide if natural[i] <= share}
        if not narrow or len(narrow) == len(wide):
            break
        fixed.update(narrow)
    rest = avail - sum(fixed.values())
    wide_total = sum(natural[i] for i in wide)
    return [fixed[i] if i in fixed else max(floor, rest * natural[i] / wide_total) for i in range(n)]


class _PdfTableMaker:
    """Turns one table (header, text rows) into reportlab tables of a few pages each.

    A cell becomes a Paragraph only when it has to wrap: plain strings lay out several times faster.
    """

    def __init__(self, columns: list[str], text_rows: list[list[str]], numeric: list[bool], styles, avail, stretch):
        """`text_rows`: every row as wide as `columns`."""
        self.columns = columns
        self.numeric = numeric
        self.style = styles["cell"]
        self.texts = [[_clean(text) for text in row] for row in text_rows]
        self.text_widths = [[_width(text) for text in row] for row in self.texts]  # measured once
        self.widths = _column_widths(columns, self.text_widths, avail, stretch)
        self.fits = [w - 2 * CELL_PAD - 1 for w in self.widths]

    def row(self, r: int) -> tuple[list, float]:
        """Row `r`'s cells and a rough height (lines × leading), used only to cut chunks."""
        paragraph = _cell_paragraph_class()
        cells, lines = [], 1
        for i, (text, width) in enumerate(zip(self.texts[r], self.text_widths[r], strict=True)):
            if "\n" in text or width > self.fits[i]:
                cells.append(paragraph(_markup(text), self.style))
                lines = max(lines, text.count("\n") + math.ceil(width / self.fits[i]))
            else:
                cells.append(text)
        return cells, lines * CELL_LEADING + 4

    def chunks(self):
        """Rows in runs of at most CHUNK rows or about CHUNK_HEIGHT points, whichever comes first."""
        chunk, height = [], 0.0
        for r in range(len(self.texts)):
            cells, h = self.row(r)
            chunk.append(cells)
            height += h
            if len(chunk) >= CHUNK or height >= CHUNK_HEIGHT:
                yield chunk
                chunk, height = [], 0.0
        if chunk or not self.texts:
            yield chunk

    def table(self, rows: list[list], header: bool = True, shade_first_column: bool = False):
        from reportlab.lib import colors
        from reportlab.platypus import Paragraph, TableStyle
        from reportlab.platypus import Table as PdfTable

        data = [[Paragraph(_markup(c), self.style) for c in self.columns]] if header else []
        data += rows
        table = PdfTable(data, colWidths=self.widths, repeatRows=1 if header else 0, hAlign="LEFT")
        grid = colors.HexColor("#b0b8c4")
        style = [
            ("FONT", (0, 0), (-1, -1), FONT_NAME, CELL_SIZE, CELL_LEADING),
            ("GRID", (0, 0), (-1, -1), 0.25, grid),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
        if shade_first_column:
            style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f4f7")))
        first = 1 if header else 0
        style += [("ALIGN", (i, first), (i, -1), "RIGHT") for i, num in enumerate(self.numeric) if num]
        table.setStyle(TableStyle(style))
        return table


@cache
def _cell_paragraph_class():
    from reportlab.platypus import Paragraph

    class CellParagraph(Paragraph):
        """A table cell's paragraph, wrapped once per width: reportlab's Table measures every cell
        again on each page split and once more to draw it, and CJK line breaking is the slow part.
        (Paragraph.wrap depends on the width only.)"""

        _wrapped: tuple[float, tuple[float, float]] | None = None

        def wrap(self, avail_width, avail_height):
            if self._wrapped is None or self._wrapped[0] != avail_width:
                self._wrapped = (avail_width, super().wrap(avail_width, avail_height))
            return self._wrapped[1]

    return CellParagraph


@cache
def _rows_done_class():
    from reportlab.platypus import Flowable

    class RowsDone(Flowable):
        """Zero-size: counts its rows as done when laid out, so progress follows the (slow) layout
        rather than the (fast) building of the story."""

        def __init__(self, counter: _Counter, n: int):
            super().__init__()
            self.counter, self.n = counter, n

        def wrap(self, avail_width, avail_height):
            return 0, 0

        def draw(self):
            self.counter.add(self.n)

    return RowsDone


def _pdf_story(doc: Document, styles, width: float, counter: _Counter) -> list:
    from reportlab.platypus import Paragraph, Spacer

    story = [Paragraph(_markup(doc.title), styles["title"])]
    for label, value in doc.meta:
        story.append(Paragraph(f"{_markup(label)}：{_markup(value)}", styles["meta"]))
    for section in doc.sections:
        story.append(Paragraph(_markup(section.heading), styles["heading"]))
        for text in section.paragraphs:
            story.append(Paragraph(_markup(text), styles["body"]))
        if section.figures:
            pairs = [[cell_text(label), cell_text(value)] for label, value in section.figures]
            maker = _PdfTableMaker(["", ""], pairs, [False, False], styles, width * 0.6, stretch=False)
            cells = [maker.row(r)[0] for r in range(len(pairs))]
            story += [maker.table(cells, header=False, shade_first_column=True), Spacer(1, 6)]
        for table in section.tables:
            if table.title:
                story.append(Paragraph(_markup(table.title), styles["caption"]))
            n = len(table.columns)
            if not n:
                counter.add(len(table.rows))
                continue
            # Every row exactly as wide as the header (reportlab needs a rectangle).
            text_rows = [[cell_text(v) for v in row[:n]] + [""] * (n - len(row)) for row in table.rows]
            numeric = [  # right-aligned: only numbers (and blanks) in the column
                any(_is_number(r[i]) for r in table.rows if i < len(r))
                and all(_is_number(r[i]) or r[i] is None for r in table.rows if i < len(r))
                for i in range(n)
            ]
            maker = _PdfTableMaker(table.columns, text_rows, numeric, styles, width, stretch=True)
            for chunk in maker.chunks():
                story += [maker.table(chunk), _rows_done_class()(counter, len(chunk))]
            story.append(Spacer(1, 6))
    return story


def render_pdf(doc: Document, out: BinaryIO, progress: Progress = None) -> None:
    """A4 portrait, the CJK font embedded (subset), page numbers in the document's language."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    _register_font()
    styles = _styles()
    counter = _Counter(doc, progress)
    margin = 15 * mm
    story = _pdf_story(doc, styles, A4[0] - 2 * margin, counter)

    def decorate(canvas, template):
        canvas.saveState()
        canvas.setFont(FONT_NAME, 7.5)
        canvas.drawString(margin, 8 * mm, _clean(doc.footer))
        canvas.drawRightString(A4[0] - margin, 8 * mm, doc.page_label % {"page": canvas.getPageNumber()})
        canvas.restoreState()

    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 4 * mm,
        title=_clean(doc.title),
        creator="emergency collaboration platform",
        initialFontName=FONT_NAME,  # else every page also names (unembedded) Helvetica
    )
    pdf.build(story, onFirstPage=decorate, onLaterPages=decorate)
    counter.finish()


# --- Excel --------------------------------------------------------------------------------------

XLSX_DATETIME = "yyyy-mm-dd hh:mm"
XLSX_DATE = "yyyy-mm-dd"


def _xlsx_text(value) -> str:
    # Excel's XML refuses control characters; a leading = would make openpyxl write a formula.
    return csv_cell(_CONTROL.sub("", cell_text(value)))


def _display_width(text: str) -> int:
    """Excel column width units: a Chinese character takes two, a Latin one one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _sheet_title(title: str, used: set[str]) -> str:
    """Excel's rules: unique (case-insensitive), at most 31 characters, none of []:*?/\\, no
    apostrophe at either end."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in _CONTROL.sub("", title)).strip().strip("'")
    clean = clean[:28].strip() or "Sheet"
    name, n = clean, 2
    while name.lower() in used or name.lower() == "history":  # "History" is reserved by Excel
        name = f"{clean[:26]}~{n}"
        n += 1
    used.add(name.lower())
    return name


def render_xlsx(doc: Document, out: BinaryIO, progress: Progress = None) -> None:
    """A "Summary" sheet (title, meta, paragraphs, figures), then one sheet per table. Numbers and
    times stay typed; text is never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    counter = _Counter(doc, progress)
    wb = Workbook(write_only=True)
    used: set[str] = set()
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")

    def strong(ws, text):
        c = WriteOnlyCell(ws, value=_xlsx_text(text))
        c.font = bold
        return c

    def value(ws, v):
        if _is_number(v):
            return v
        if isinstance(v, datetime | date):
            c = WriteOnlyCell(ws, value=_local(v) if isinstance(v, datetime) else v)
            c.number_format = XLSX_DATETIME if isinstance(v, datetime) else XLSX_DATE
            return c
        return _xlsx_text(v)

    summary = wb.create_sheet(_sheet_title("Summary", used))
    summary.column_dimensions["A"].width = 28
    summary.column_dimensions["B"].width = 80
    summary.append([strong(summary, doc.title)])
    for label, text in doc.meta:
        summary.append([_xlsx_text(label), _xlsx_text(text)])
    for section in doc.sections:
        summary.append([])
        summary.append([strong(summary, section.heading)])
        for text in section.paragraphs:
            c = WriteOnlyCell(summary, value=_xlsx_text(text))
            c.alignment = wrap
            summary.append([c])
        for label, figure in section.figures:
            summary.append([_xlsx_text(label), value(summary, figure)])

    for section in doc.sections:
        for table in section.tables:
            ws = wb.create_sheet(_sheet_title(table.title or section.heading, used))
            for i, column in enumerate(table.columns, 1):  # widths before the first row (write-only)
                sample = [column] + [r[i - 1] for r in table.rows[:200] if i <= len(r)]
                chars = max(_display_width(cell_text(v)) for v in sample)
                ws.column_dimensions[get_column_letter(i)].width = min(max(chars + 2, 8), 60)
            ws.freeze_panes = "A2"
            ws.append([strong(ws, c) for c in table.columns])
            for i, row in enumerate(table.rows, 1):
                ws.append([value(ws, v) for v in row])
                if i % PROGRESS_EVERY == 0:
                    counter.add(PROGRESS_EVERY)
            counter.add(len(table.rows) % PROGRESS_EVERY)
    wb.save(out)
    counter.finish()


# --- CSV ----------------------------------------------------------------------------------------


def _csv_value(value) -> str:
    # A number cannot carry a formula; csv_cell would turn -5 into '-5.
    return cell_text(value) if _is_number(value) else csv_cell(cell_text(value))


def render_csv(doc: Document, out: BinaryIO, progress: Progress = None) -> None:
    """UTF-8 with a byte-order mark (Excel on Chinese Windows then reads it right), blocks in order,
    a blank row between blocks; text cells through csv_cell so none runs as a formula."""
    counter = _Counter(doc, progress)
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv_writer(text)
    writer.writerow([csv_cell(doc.title)])
    for label, value in doc.meta:
        writer.writerow([csv_cell(label), csv_cell(value)])
    for section in doc.sections:
        writer.writerow([])
        writer.writerow([csv_cell(section.heading)])
        for paragraph in section.paragraphs:
            writer.writerow([csv_cell(paragraph)])
        for label, value in section.figures:
            writer.writerow([csv_cell(label), _csv_value(value)])
        for table in section.tables:
            writer.writerow([])
            if table.title:
                writer.writerow([csv_cell(table.title)])
            writer.writerow([csv_cell(c) for c in table.columns])
            for start in range(0, len(table.rows), PROGRESS_EVERY):
                chunk = table.rows[start : start + PROGRESS_EVERY]
                writer.writerows([[_csv_value(v) for v in row] for row in chunk])
                counter.add(len(chunk))
    text.flush()
    text.detach()  # leave `out` open for the caller
    counter.finish()


RENDERERS = {
    "pdf": (render_pdf, "application/pdf", ".pdf"),
    "xlsx": (render_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "csv": (render_csv, "text/csv; charset=utf-8", ".csv"),
}
