"""Task vocabularies and the state machine. One department is accountable at every moment."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Priority(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


# Minutes a task may stay unacknowledged before its department is reminded.
ACK_REMINDER_MINUTES = {Priority.URGENT: 15, Priority.HIGH: 30, Priority.NORMAL: 120, Priority.LOW: 480}
# After the deadline: escalate to the department head at once, to the issuing group after this long.
ESCALATE_GROUP_AFTER_MINUTES = {Priority.URGENT: 30, Priority.HIGH: 60, Priority.NORMAL: 240, Priority.LOW: 1440}


class TaskStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    VERIFIED = "verified", pgettext_lazy("task", "Verified")
    DECLINED = "declined", _("Declined")
    TRANSFER_REQUESTED = "transfer_requested", _("Transfer requested")
    DISPUTED = "disputed", _("Disputed")
    CANCELLED = "cancelled", _("Cancelled")


TASK_TRANSITIONS: dict[str, set[str]] = {
    TaskStatus.ISSUED: {
        TaskStatus.ACCEPTED,
        TaskStatus.DECLINED,
        TaskStatus.TRANSFER_REQUESTED,
        TaskStatus.DISPUTED,
        TaskStatus.CANCELLED,
    },
    TaskStatus.ACCEPTED: {
        TaskStatus.IN_PROGRESS,
        TaskStatus.COMPLETED,
        TaskStatus.TRANSFER_REQUESTED,
        TaskStatus.DISPUTED,
        TaskStatus.CANCELLED,
    },
    TaskStatus.IN_PROGRESS: {
        TaskStatus.COMPLETED,
        TaskStatus.TRANSFER_REQUESTED,
        TaskStatus.DISPUTED,
        TaskStatus.CANCELLED,
    },
    TaskStatus.COMPLETED: {TaskStatus.VERIFIED, TaskStatus.IN_PROGRESS},  # the issuer may send it back
    TaskStatus.VERIFIED: set(),
    # the issuer re-assigns (→ issued, another department) or overrules (→ accepted, same department);
    # the department may dispute an overrule (→ disputed)
    TaskStatus.DECLINED: {TaskStatus.ISSUED, TaskStatus.ACCEPTED, TaskStatus.DISPUTED, TaskStatus.CANCELLED},
    # the named department accepts (→ accepted, now accountable) or refuses (→ the status before)
    TaskStatus.TRANSFER_REQUESTED: {
        TaskStatus.ACCEPTED,
        TaskStatus.ISSUED,
        TaskStatus.IN_PROGRESS,
        TaskStatus.DISPUTED,
        TaskStatus.CANCELLED,
    },
    # the information office rules: a department is ordered to do it (→ accepted) or it is cancelled
    TaskStatus.DISPUTED: {TaskStatus.ACCEPTED, TaskStatus.CANCELLED},
    TaskStatus.CANCELLED: set(),
}
OPEN_STATUSES = (
    TaskStatus.ISSUED,
    TaskStatus.ACCEPTED,
    TaskStatus.IN_PROGRESS,
    TaskStatus.DECLINED,
    TaskStatus.TRANSFER_REQUESTED,
    TaskStatus.DISPUTED,
)
DONE_STATUSES = (TaskStatus.COMPLETED, TaskStatus.VERIFIED)

# The statuses from which each action may start. The transition map above says which status
# changes exist; this says which action may make them (overruling a disputed task, for example,
# would be a legal ACCEPTED edge but is the information office's ruling, not the issuer's).
# Services check it under the row lock and the task page offers exactly these.
ACTION_STATUSES: dict[str, frozenset[str]] = {
    "accept": frozenset({TaskStatus.ISSUED}),
    "decline": frozenset({TaskStatus.ISSUED}),
    "transfer_request": frozenset({TaskStatus.ISSUED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS}),
    "transfer_accept": frozenset({TaskStatus.TRANSFER_REQUESTED}),
    "transfer_refuse": frozenset({TaskStatus.TRANSFER_REQUESTED}),
    "start": frozenset({TaskStatus.ACCEPTED}),
    "progress": frozenset({TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS}),
    "complete": frozenset({TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS}),
    "verify": frozenset({TaskStatus.COMPLETED}),
    "return": frozenset({TaskStatus.COMPLETED}),
    "reassign": frozenset({TaskStatus.DECLINED}),
    "overrule": frozenset({TaskStatus.DECLINED}),
    "cancel": frozenset(OPEN_STATUSES),
    "dispute": frozenset({TaskStatus.ISSUED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS, TaskStatus.DECLINED}),
    "rule": frozenset({TaskStatus.DISPUTED}),
    "comment": frozenset(TaskStatus.values),
}


class TaskEventKind(models.TextChoices):
    """The task history the scorecards are computed from (each row also has its ledger seq)."""

    ISSUED = "issued", _("Issued")
    ACCEPTED = "accepted", _("Accepted")
    STARTED = "started", _("Started")
    PROGRESS = "progress", _("Progress update")
    COMPLETED = "completed", _("Completed")
    VERIFIED = "verified", pgettext_lazy("task", "Verified")
    RETURNED = "returned", _("Sent back")
    DECLINED = "declined", _("Declined")
    REASSIGNED = "reassigned", _("Re-assigned")
    OVERRULED = "overruled", _("Decline overruled")
    TRANSFER_REQUESTED = "transfer_requested", _("Transfer requested")
    TRANSFER_ACCEPTED = "transfer_accepted", _("Transfer accepted")
    TRANSFER_REFUSED = "transfer_refused", _("Transfer refused")
    DISPUTED = "disputed", _("Disputed")
    RULED = "ruled", _("Ruling by the information office")
    CANCELLED = "cancelled", _("Cancelled")
    REMINDED = "reminded", _("Reminder sent")
    # a transfer request or a decline left unanswered: the department named, or the issuer, is asked
    ANSWER_REMINDED = "answer_reminded", _("Reminder to answer sent")
    ESCALATED_HEAD = "escalated_head", _("Escalated to the department head")
    ESCALATED_GROUP = "escalated_group", _("Escalated to the leading group")
