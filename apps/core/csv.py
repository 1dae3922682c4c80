"""CSV exports that a spreadsheet opens safely: every export writes through `csv_writer`.

A cell a spreadsheet would read as a formula (or as a formula after a stripped tab/CR) gets a
leading quote: the text shows as typed and never runs (OWASP "CSV injection"). `csv_writer` does
this to every cell it writes, header rows included, so an export cannot forget one; a test walks
the code and refuses `csv.writer` anywhere else.
"""

import csv
import re
from decimal import Decimal

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain number ("-5", "+3.5", "1e-3", "12%") runs nothing; the writer leaves it a number.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?")


def csv_cell(value) -> str:
    """The text of a cell, quoted when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def csv_value(value):
    """What `csv_writer` writes for a value: numbers as numbers, any other text through `csv_cell`
    (idempotent: a cell already quoted starts with the quote)."""
    if value is None or isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return text if _PLAIN_NUMBER.fullmatch(text) else csv_cell(text)


class SafeCsvWriter:
    """`csv.writer` whose rows pass through `csv_value`, cell by cell."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([csv_value(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(out, **kwargs) -> SafeCsvWriter:
    """The writer of every CSV export (same arguments as `csv.writer`)."""
    return SafeCsvWriter(out, **kwargs)
