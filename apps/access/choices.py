"""Vocabularies of on-demand data access (按需取用)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class RequestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    GRANTED = "granted", _("Granted")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


REQUEST_TRANSITIONS: dict[str, set[str]] = {
    RequestStatus.DRAFT: {RequestStatus.SUBMITTED, RequestStatus.WITHDRAWN},
    RequestStatus.SUBMITTED: {RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN},
    RequestStatus.APPROVED: {RequestStatus.GRANTED},
    RequestStatus.GRANTED: {RequestStatus.EXPIRED, RequestStatus.REVOKED},
    RequestStatus.REJECTED: set(),
    RequestStatus.WITHDRAWN: set(),
    RequestStatus.EXPIRED: set(),
    RequestStatus.REVOKED: set(),
}


class ApprovalStage(models.TextChoices):
    OWNER = "owner", _("Owner department head")
    OFFICE = "office", _("Information office")
    OFFICE_SECOND = "office_second", _("Information office (second approver)")


class Decision(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


class DemandStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("demand status", "Open")
    MET = "met", pgettext_lazy("demand status", "Met")
    CLOSED = "closed", _("Closed")


# Break-glass access is counted in hours, never days.
EMERGENCY_MAX_HOURS = 12
# The longest a requested grant may run; extending means a new request and a new approval.
MAX_GRANT_HOURS = 24 * 90
RENEWAL_REMINDER_HOURS = 24
