"""CSV exports that a spreadsheet opens safely."""

# A cell a spreadsheet would read as a formula (or as a formula after a stripped tab/CR) gets a
# leading quote: the text shows as typed and never runs (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text
