from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", _("Threshold")
    RATE = "rate", _("Rate of change")
    COUNT = "count", _("Count within a window")


class Aggregate(models.TextChoices):
    MAX = "max", _("Maximum")
    MIN = "min", _("Minimum")
    AVG = "avg", _("Average")
    SUM = "sum", _("Sum")
    COUNT = "count", _("Number of records")


class Comparator(models.TextChoices):
    GT = "gt", ">"
    GE = "ge", "≥"
    LT = "lt", "<"
    LE = "le", "≤"


class Window(models.TextChoices):
    HOUR = "hour", _("Hour")
    DAY = "day", _("Day")


class DraftAction(models.TextChoices):
    NONE = "none", _("Alert only")
    WARNING = "warning", _("Draft a warning notice")
    INCIDENT = "incident", _("Draft an incident report")


class AlertStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("alert status", "Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLOSED = "closed", pgettext_lazy("alert status", "Closed")


class EvaluationOutcome(models.TextChoices):
    OK = "ok", _("Evaluated")
    NO_ACCESS = "no_access", _("No valid grant: nothing read")
    FAILED = "failed", pgettext_lazy("evaluation", "Failed")
