"""Dates as Chinese staff read them (2026年11月24日 21:15). Templates name these formats
(`|date:"SHORT_DATETIME_FORMAT"`) instead of spelling a pattern; input formats fall back to Django's."""

DATE_FORMAT = "Y年n月j日"
SHORT_DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y年n月j日 H:i:s"
SHORT_DATETIME_FORMAT = "Y年n月j日 H:i"
MONTH_DAY_FORMAT = "n月j日"
YEAR_MONTH_FORMAT = "Y年n月"
TIME_FORMAT = "H:i"
