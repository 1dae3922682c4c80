"""Incident vocabularies (PRC Emergency Response Law categories) and the state machines."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    NATURAL_DISASTER = "natural_disaster", _("Natural disaster")
    ACCIDENT = "accident", _("Accident/disaster")
    PUBLIC_HEALTH = "public_health", _("Public health")
    SOCIAL_SECURITY = "social_security", _("Social safety")


class Subtype(models.TextChoices):
    FLOOD = "flood", _("Flood")
    EARTHQUAKE = "earthquake", _("Earthquake")
    TYPHOON = "typhoon", _("Typhoon")
    DROUGHT = "drought", _("Drought")
    GEOLOGICAL = "geological", _("Geological hazard")
    FOREST_FIRE = "forest_fire", _("Forest fire")
    CHEMICAL_SPILL = "chemical_spill", _("Hazardous chemical spill")
    PRODUCTION_SAFETY = "production_safety", _("Work-safety accident")
    TRAFFIC = "traffic", _("Traffic accident")
    FIRE = "fire", _("Fire")
    POLLUTION = "pollution", _("Environmental pollution")
    INFRASTRUCTURE = "infrastructure", _("Infrastructure failure")
    INFECTIOUS_DISEASE = "infectious_disease", _("Infectious disease")
    FOOD_SAFETY = "food_safety", _("Food safety")
    OCCUPATIONAL = "occupational", _("Occupational poisoning")
    MASS_INCIDENT = "mass_incident", _("Mass incident")
    TERRORISM = "terrorism", _("Terrorist attack")
    CYBER = "cyber", _("Cyber security incident")


SUBTYPES_BY_CATEGORY: dict[str, set[str]] = {
    Category.NATURAL_DISASTER: {
        Subtype.FLOOD,
        Subtype.EARTHQUAKE,
        Subtype.TYPHOON,
        Subtype.DROUGHT,
        Subtype.GEOLOGICAL,
        Subtype.FOREST_FIRE,
    },
    Category.ACCIDENT: {
        Subtype.CHEMICAL_SPILL,
        Subtype.PRODUCTION_SAFETY,
        Subtype.TRAFFIC,
        Subtype.FIRE,
        Subtype.POLLUTION,
        Subtype.INFRASTRUCTURE,
    },
    Category.PUBLIC_HEALTH: {Subtype.INFECTIOUS_DISEASE, Subtype.FOOD_SAFETY, Subtype.OCCUPATIONAL},
    Category.SOCIAL_SECURITY: {Subtype.MASS_INCIDENT, Subtype.TERRORISM, Subtype.CYBER},
}


class Severity(models.IntegerChoices):
    """Lower number = more severe. Raising the severity means going from IV towards I."""

    I = 1, _("I (especially serious)")  # noqa: E741 - the legal name of the level
    II = 2, _("II (serious)")
    III = 3, _("III (relatively serious)")
    IV = 4, _("IV (general)")


class IncidentStatus(models.TextChoices):
    REPORTED = "reported", _("Reported")
    VERIFIED = "verified", _("Verified")
    RESPONDING = "responding", _("Responding")
    RECOVERING = "recovering", _("Recovering")
    CLOSED = "closed", _("Closed")


INCIDENT_TRANSITIONS: dict[str, set[str]] = {
    IncidentStatus.REPORTED: {IncidentStatus.VERIFIED, IncidentStatus.CLOSED},
    IncidentStatus.VERIFIED: {IncidentStatus.RESPONDING, IncidentStatus.CLOSED},
    IncidentStatus.RESPONDING: {IncidentStatus.RECOVERING, IncidentStatus.CLOSED},
    IncidentStatus.RECOVERING: {IncidentStatus.RESPONDING, IncidentStatus.CLOSED},
    IncidentStatus.CLOSED: set(),
}
OPEN_STATUSES = (IncidentStatus.REPORTED, IncidentStatus.VERIFIED, IncidentStatus.RESPONDING, IncidentStatus.RECOVERING)


class WarningLevel(models.TextChoices):
    BLUE = "blue", _("Blue")
    YELLOW = "yellow", _("Yellow")
    ORANGE = "orange", _("Orange")
    RED = "red", _("Red")


class WarningStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEWED = "reviewed", _("Reviewed")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")


WARNING_TRANSITIONS: dict[str, set[str]] = {
    WarningStatus.DRAFT: {WarningStatus.REVIEWED, WarningStatus.WITHDRAWN},
    WarningStatus.REVIEWED: {WarningStatus.PUBLISHED, WarningStatus.DRAFT, WarningStatus.WITHDRAWN},
    WarningStatus.PUBLISHED: {WarningStatus.WITHDRAWN},
    WarningStatus.WITHDRAWN: set(),
}


class IntakeChannel(models.TextChoices):
    """Where the event was first picked up before (or besides) the reporting department saw it."""

    MONITORING = "monitoring", _("Monitoring alert")
    HOTLINE = "hotline", _("Hotline (12345)")
    MEDIA = "media", _("Public-opinion (media) monitoring")
    PATROL = "patrol", _("Field patrol")
    OTHER = "other", _("Other channel")


class ReportKind(models.TextChoices):
    INITIAL = "initial", _("Initial report")
    FOLLOW_UP = "follow_up", _("Follow-up report")
    DAILY = "daily", _("Daily report")
    FINAL = "final", _("Final report")


class ClockKind(models.TextChoices):
    INITIAL = "initial", _("Initial report due")
    FOLLOW_UP = "follow_up", _("Follow-up report due")
    DAILY = "daily", _("Daily report due")


# The report cadence that runs while the incident is being handled (续报 / daily reports).
CADENCE_CLOCK_KINDS = (ClockKind.FOLLOW_UP, ClockKind.DAILY)


class ClockStep(models.TextChoices):
    """The escalation ladder of a reporting clock; each step happens once."""

    REMINDED = "reminded", _("Reminder sent")
    HEAD = "head", _("Escalated to the department head")
    REGION_ABOVE = "region_above", _("Escalated to the region above")
    LEADING_GROUP = "leading_group", _("Escalated to the leading group")


class TimelineKind(models.TextChoices):
    REPORTED = "reported", _("Incident reported")
    STATUS = "status", _("Status changed")
    SEVERITY = "severity", _("Severity changed")
    LEADING_GROUP = "leading_group", _("Leading group took charge")
    PLAN = "plan", _("Response plan activated")
    REPORT = "report", _("Situation report")
    PHOTO = "photo", _("Photo")
    WARNING = "warning", _("Warning")
    CLOCK = "clock", _("Reporting clock escalation")
    TASK = "task", _("Task")
    DATA = "data", _("Data request or grant")
