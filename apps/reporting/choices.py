from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ReportKind(models.TextChoices):
    SITUATION = "situation", _("Consolidated situation report")
    REVIEW = "review", _("After-action review")


class JobStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("job status", "Queued")
    RUNNING = "running", pgettext_lazy("job status", "Running")
    DONE = "done", pgettext_lazy("job status", "Done")
    FAILED = "failed", pgettext_lazy("job status", "Failed")


class Trigger(models.TextChoices):
    ON_DEMAND = "on_demand", _("On demand")
    SCHEDULE = "schedule", _("Schedule")
    CLOSE = "close", _("Incident closed")


FORMATS = ("pdf", "xlsx", "csv")
