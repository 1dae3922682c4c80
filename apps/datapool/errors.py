"""Why a row was rejected or a load failed, as codes stored with the data and rendered in the
reader's language when shown."""

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

# Row-level reasons (RejectedRow.reason).
REASONS = {
    "required": _("A required value is missing."),
    "type": _("The value has the wrong type or format."),
    "code_list": _("The value is not in the code list."),
    "pattern": _("The value does not match the expected pattern."),
    "range": _("The value is out of range."),
    "too_long": _("The value is too long."),
    "nul": _("The value contains a NUL character."),
    "columns": _("The row has a different number of columns than the header."),
    "json": _("The line is not a JSON object."),
    "invalid": _("The value is invalid."),
}

# Job-level failures (IngestionJob.error_code); args are filled in with %-formatting.
ERRORS = {
    "empty": _("The file is empty or has no data rows."),
    "encoding": _("The file is neither UTF-8 nor GB18030/GBK text (line %(line)s)."),
    "format": _("The file is not CSV, Excel (.xlsx) or JSON lines."),
    "excel": _("The Excel file cannot be read: %(detail)s"),
    "too_large": _("The file is larger than the limit of %(limit)s MB."),
    "too_many_cells": _("The Excel sheet unpacks to more than %(limit)s cells."),
    "zip_entries": _("The Excel file holds more than %(limit)s parts; no workbook has that many."),
    "missing_columns": _("Required fields have no column in the file: %(fields)s"),
    "unknown_columns": _("The mapping names columns the file does not have: %(columns)s"),
    "header": _("The header row is missing or has duplicate or empty column names."),
    "sync": _("The source database could not be read: %(detail)s"),
    "share": _("The records could not be shared: %(detail)s"),
    "crashed": _("The load stopped unexpectedly; nothing was loaded. Run it again."),
    "access_lost": _("The person who submitted this load may no longer load into this dataset; nothing was loaded."),
}


def reason_text(code: str) -> str:
    message = REASONS.get(code)
    return gettext(message) if message is not None else code


def error_text(code: str, args: dict | None = None) -> str:
    message = ERRORS.get(code)
    if message is None:
        return code
    text = gettext(message)
    try:
        return text % (args or {}) if "%(" in text else text
    except (KeyError, TypeError, ValueError):
        return text


class LoadError(Exception):
    """A load cannot go on; nothing of it is committed. `code` is a key of ERRORS."""

    def __init__(self, code: str, **args):
        super().__init__(code, args)
        self.code = code
        self.args_ = args

    def __str__(self) -> str:
        return error_text(self.code, self.args_)
