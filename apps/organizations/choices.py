from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    COUNTY = "county", _("County/district")


class DepartmentType(models.TextChoices):
    PUBLIC_SECURITY = "public_security", _("Public security")
    FIRE = "fire", _("Fire and rescue")
    HEALTH = "health", _("Health")
    ENVIRONMENT = "environment", _("Ecology and environment")
    TRAFFIC_POLICE = "traffic_police", _("Traffic police")
    EMERGENCY = "emergency", _("Emergency management")
    TRANSPORT = "transport", _("Transport")
    MEDIA = "media", _("Media and publicity")
    COMMUNITY = "community", _("Community/sub-district")
    NGO = "ngo", _("Non-governmental organisation")
    TELECOM = "telecom", _("Telecom operator")
    RESEARCH = "research", _("Research institute")
    BIG_DATA_COMPANY = "big_data_company", _("Big-data company")


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    TERMINATED = "terminated", _("Terminated")


AGREEMENT_TRANSITIONS: dict[str, set[str]] = {
    AgreementStatus.DRAFT: {AgreementStatus.ACTIVE, AgreementStatus.TERMINATED},
    AgreementStatus.ACTIVE: {AgreementStatus.SUSPENDED, AgreementStatus.TERMINATED},
    AgreementStatus.SUSPENDED: {AgreementStatus.ACTIVE, AgreementStatus.TERMINATED},
    AgreementStatus.TERMINATED: set(),
}


class LeadingGroupKind(models.TextChoices):
    STANDING = "standing", _("Standing")
    CONVENED = "convened", _("Convened for an incident")


class LeadingGroupRole(models.TextChoices):
    MEMBER = "member", _("Member department")
    INFORMATION_OFFICE = "information_office", _("Information office")
    BIG_DATA_CENTER = "big_data_center", _("Big-data management center")
