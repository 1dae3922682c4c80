"""Every export escapes spreadsheet formulas through one shared writer (issue 8).

`apps.core.csv.csv_writer` quotes every text cell a spreadsheet would run (OWASP "CSV injection":
a leading =, +, -, @, tab or carriage return), header rows included; numbers stay numbers. The
walk below refuses `csv.writer` and `csv.DictWriter` anywhere else in the platform's code and an
Excel workbook anywhere but the report renderer, so a new export cannot write around it.
Behaviour per export (timeline, scorecard, granted records, rejected rows, reports) is tested
with the export (tests/api, tests/portal, tests/reporting, tests/hardening/test_uploads.py).
"""

from __future__ import annotations

import ast
import csv
import io
from decimal import Decimal
from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext_lazy

from apps.core.csv import csv_cell, csv_value, csv_writer

APPS = Path(__file__).resolve().parents[2] / "apps"

# Modules that may build a csv writer or a workbook themselves, and why.
CSV_WRITER_MODULES = {
    "apps/core/csv.py": "the shared writer itself",
    "apps/datapool/demo.py": "writes the demo's *input* files (uploaded like any file), not an export",
}
WORKBOOK_MODULES = {
    "apps/reporting/exports.py": "the report renderer: text cells through csv_cell (tests/reporting/test_exports.py)",
}

FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","click")',
    "+SUM(A1:A9)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


def _written(rows) -> list[list[str]]:
    out = io.StringIO()
    csv_writer(out).writerows(rows)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_every_formula_trigger_is_quoted_in_the_header_and_the_body():
    table = _written([FORMULAS, *[[value, "plain"] for value in FORMULAS]])
    assert table[0] == [f"'{value}" for value in FORMULAS]
    assert [row[0] for row in table[1:]] == [f"'{value}" for value in FORMULAS]
    assert {row[1] for row in table[1:]} == {"plain"}


def test_numbers_stay_numbers_and_text_stays_as_typed():
    table = _written([[-5, 3.5, Decimal("-1.25"), None, "-5", "+3", "1e-3", "12%", "中文", "a=b", "", "2026-11-01"]])
    assert table == [["-5", "3.5", "-1.25", "", "-5", "+3", "1e-3", "12%", "中文", "a=b", "", "2026-11-01"]]


def test_quoting_twice_is_quoting_once():
    assert csv_value(csv_cell("=1+1")) == "'=1+1"
    assert _written([[csv_cell("@x")]]) == [["'@x"]]


def test_lazy_translations_and_other_objects_are_written_as_text():
    class Named:
        def __str__(self):
            return "=X()"

    with translation.override("en"):
        table = _written([[gettext_lazy("Line"), Named()]])
    assert table == [["Line", "'=X()"]]


def _calls(tree: ast.AST):
    """(line, what) of every csv writer or openpyxl workbook the module builds."""
    csv_names = {"csv"}
    direct = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            csv_names |= {a.asname or a.name for a in node.names if a.name == "csv"}
        elif isinstance(node, ast.ImportFrom) and node.module == "csv":
            direct |= {a.asname or a.name for a in node.names if a.name in ("writer", "DictWriter")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("openpyxl"):
            direct |= {a.asname or a.name for a in node.names if a.name == "Workbook"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id in csv_names and func.attr in ("writer", "DictWriter"):
                yield node.lineno, f"csv.{func.attr}"
            elif func.attr == "Workbook":
                yield node.lineno, "Workbook"
        elif isinstance(func, ast.Name) and func.id in direct:
            yield node.lineno, "Workbook" if func.id == "Workbook" else f"csv.{func.id}"


def _platform_modules():
    return sorted(p for p in APPS.rglob("*.py") if "migrations" not in p.parts)


def test_the_walk_sees_the_shared_writer_and_the_report_renderer():
    found = {}
    for path in _platform_modules():
        for _line, what in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            found.setdefault(what, set()).add(path.relative_to(APPS.parent).as_posix())
    assert "apps/core/csv.py" in found["csv.writer"]
    assert "apps/reporting/exports.py" in found["Workbook"]


def test_no_module_writes_csv_or_excel_around_the_shared_escaping():
    stray = []
    for path in _platform_modules():
        relative = path.relative_to(APPS.parent).as_posix()
        for line, what in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            allowed = WORKBOOK_MODULES if what == "Workbook" else CSV_WRITER_MODULES
            if relative not in allowed:
                stray.append(f"{relative}:{line} builds {what}")
    assert not stray, (
        f"{stray}: exports write through apps.core.csv.csv_writer, which quotes formula cells "
        "(or allow-list the module with the reason it writes no export)"
    )
