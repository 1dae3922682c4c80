"""Portal forms for tasks.

Forms parse shapes (required fields, dates, choices); the business rules (transitions, who may
task whom, reasons the service insists on) stay in `services`, whose translated messages the views
attach to the field they name. Choice lists come from restricted querysets or from the service's
own reach rule (`issue_targets_q`), so a form never offers what the caller cannot use.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.core.scoping import NOTHING, principal_for
from apps.incidents.choices import OPEN_STATUSES as OPEN_INCIDENT_STATUSES
from apps.incidents.models import Incident
from apps.incidents.selectors import incident_list
from apps.organizations.choices import LeadingGroupRole
from apps.organizations.models import Department
from apps.organizations.selectors import department_list, leading_group_list

from . import services
from .choices import Priority

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends, read in Asia/Shanghai
# The office seats that may issue for a leading group (as `issue_targets_q` checks).
OFFICE_ROLES = {Role.HEAD, Role.STAFF}
DEFAULT_DEADLINE_HOURS = 4
SCORECARD_DEFAULT_DAYS = 30
SCORECARD_MAX_DAYS = 366


def _text(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


def _departments(queryset):
    return queryset.select_related("region").order_by("region__path", "name")


class DepartmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.region.name}"


class DepartmentMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.region.name}"


class TaskActionForm(forms.Form):
    """A form on the task page. The page holds several, so each has its own id prefix; every one
    takes the caller and the task, and those that offer choices build them in `setup`."""

    name = ""

    def __init__(self, *args, user=None, task=None, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.name}_%s")
        super().__init__(*args, **kwargs)
        if user is not None and task is not None:
            self.setup(user=user, task=task)

    def setup(self, *, user, task) -> None:
        pass


def _reason(label, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, widget=_text(3), max_length=2000, **kwargs)


class TaskDeclineForm(TaskActionForm):
    name = "decline"
    reason = _reason(_("Reason for declining"), help_text=_("The issuer reads it and re-assigns or overrules."))


class TaskTransferRequestForm(TaskActionForm):
    """Ask another department to take the task over; until it accepts, this department stays
    accountable. The departments offered are those the caller sees."""

    name = "transfer_request"
    to_department = DepartmentChoiceField(queryset=Department.objects.none(), label=_("Department to take over"))
    reason = _reason(_("Reason for the transfer"))

    def setup(self, *, user, task) -> None:
        self.fields["to_department"].queryset = _departments(
            department_list(user=user).filter(is_active=True).exclude(pk=task.department_id)
        )


class TaskTransferRefuseForm(TaskActionForm):
    name = "transfer_refuse"
    reason = _reason(_("Reason for refusing"))


class TaskProgressForm(TaskActionForm):
    name = "progress"
    body = forms.CharField(label=_("Progress update"), widget=_text(3), max_length=5000)


class TaskCompleteForm(TaskActionForm):
    name = "complete"
    result = forms.CharField(
        label=_("Result"), widget=_text(4), max_length=5000, help_text=_("What was done; the issuer verifies it.")
    )
    evidence = forms.CharField(
        label=_("Evidence"),
        widget=_text(3),
        max_length=5000,
        required=False,
        help_text=_("What proves the result and where it is kept. Not needed when evidence files are attached below."),
    )


class TaskReturnForm(TaskActionForm):
    name = "return"
    reason = _reason(_("What is missing"))


class TaskReassignForm(TaskActionForm):
    """After a decline the issuer names another department, among those the issuer may task."""

    name = "reassign"
    department = DepartmentChoiceField(queryset=Department.objects.none(), label=_("New accountable department"))
    note = forms.CharField(label=_("Note"), widget=_text(2), max_length=2000, required=False)

    def setup(self, *, user, task) -> None:
        try:
            reach = services.issue_targets_q(
                actor=user,
                issuer_department=task.issuer_department,
                issuer_group=task.issuer_group,
                incident=task.incident,
            )
        except (AccessDenied, ServiceError):  # the view offers this form only to the issuer; be safe anyway
            reach = NOTHING
        self.fields["department"].queryset = _departments(
            Department.objects.filter(reach, is_active=True).exclude(pk=task.department_id)
        )


class TaskOverruleForm(TaskActionForm):
    name = "overrule"
    note = _reason(_("Why the decline is overruled"))


class TaskCancelForm(TaskActionForm):
    name = "cancel"
    reason = _reason(_("Reason for cancelling"))


class TaskDisputeForm(TaskActionForm):
    name = "dispute"
    reason = _reason(_("Reason for the dispute"), help_text=_("The leading group's information office rules on it."))


class TaskRuleForm(TaskActionForm):
    """The information office's ruling: a department must do the task, or the task is cancelled."""

    name = "rule"
    ORDER, CANCEL = "order", "cancel"
    outcome = forms.ChoiceField(
        label=_("Ruling"),
        choices=[(ORDER, _("Order a department to do the task")), (CANCEL, _("Cancel the task"))],
        widget=forms.RadioSelect,
        initial=ORDER,
    )
    department = DepartmentChoiceField(
        queryset=Department.objects.none(), label=_("Department ordered to do it"), required=False
    )
    note = _reason(_("Grounds of the ruling"))

    def setup(self, *, user, task) -> None:
        # the departments the office sees, and the parties to the dispute in any case
        parties = [pk for pk in (task.department_id, task.transfer_to_id) if pk]
        self.fields["department"].queryset = _departments(
            Department.objects.filter(
                Q(pk__in=department_list(user=user).values("pk")) | Q(pk__in=parties), is_active=True
            )
        )
        self.fields["department"].initial = task.department_id

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") == self.ORDER and not cleaned.get("department"):
            self.add_error("department", _("Choose the department that must do the task."))
        if cleaned.get("outcome") == self.CANCEL:
            cleaned["department"] = None
        return cleaned


class TaskCommentForm(TaskActionForm):
    name = "comment"
    body = forms.CharField(label=_("Comment"), widget=_text(3), max_length=5000)


# --- dispatch ------------------------------------------------------------------------------------


def issuing_departments(user):
    """The caller's departments in which they are head: the departments they may issue for.

    On a department, "change" is for heads in their own departments only, which is the issuer
    rule of `issue_targets_q`; it stays checked by the service."""
    return Department.objects.restrict(user, "issue_task").filter(is_active=True).select_related("region")


def issuing_groups(user):
    """Leading groups whose information office the caller sits in (administrators: every group)."""
    groups = leading_group_list(user=user).filter(is_active=True).prefetch_related(None).prefetch_related("seats")
    principal = principal_for(user)
    if principal is None or principal.is_superuser:
        return groups
    return groups.filter(pk__in=principal.office_group_ids(OFFICE_ROLES))


def office_department_id(group) -> int | None:
    seat = group.seat_of(LeadingGroupRole.INFORMATION_OFFICE)
    return seat.department_id if seat else None


DEPARTMENT_ISSUER, GROUP_ISSUER = "department", "group"


def parse_issuer(raw: str) -> tuple[str, int] | None:
    """`department-<id>` or `group-<id>`; None when malformed (the form then says so)."""
    kind, _sep, pk = (raw or "").strip().partition("-")
    if kind not in (DEPARTMENT_ISSUER, GROUP_ISSUER) or not (pk.isascii() and pk.isdigit() and len(pk) <= 18):
        return None
    return kind, int(pk)


class TaskDispatchForm(forms.Form):
    """Dispatch one task to one or more departments (services.task_dispatch, one child task each).

    The issuer is one of the caller's departments (as its head) or a leading group whose
    information office they sit in. The departments offered are those any of these issuers may
    task (the service's rule); whether the chosen issuer reaches them all, the service decides.
    """

    issuer = forms.ChoiceField(label=_("Issued by"))
    departments = DepartmentMultipleChoiceField(
        queryset=Department.objects.none(),
        label=_("Accountable departments"),
        help_text=_("One task per department; each department is accountable for its own."),
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    instructions = forms.CharField(label=_("Instructions"), widget=_text(5), required=False)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    deadline = forms.DateTimeField(
        label=_("Deadline"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        help_text=_("Beijing time. It does not restart when the task is transferred."),
    )
    incident = forms.ModelChoiceField(queryset=Incident.objects.none(), label=_("Incident"), required=False)
    # Made when the form is shown: a double click or a resubmission dispatches once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.issuers: dict[str, tuple] = {}  # choice value -> (issuer department id, group or None)
        departments = list(issuing_departments(user).order_by("region__path", "name"))
        groups = [g for g in issuing_groups(user) if office_department_id(g)]
        reach = NOTHING
        for department in departments:
            self.issuers[f"{DEPARTMENT_ISSUER}-{department.pk}"] = (department, None)
            reach |= services.issue_targets_q(actor=user, issuer_department=department, issuer_group=None)
        for group in groups:
            office = Department(pk=office_department_id(group))  # only its id is read for a group
            self.issuers[f"{GROUP_ISSUER}-{group.pk}"] = (office, group)
            reach |= services.issue_targets_q(actor=user, issuer_department=office, issuer_group=group)
        choices = []
        if departments:
            choices.append((_("Department"), [(f"{DEPARTMENT_ISSUER}-{d.pk}", d.name) for d in departments]))
        if groups:
            choices.append((_("Leading group"), [(f"{GROUP_ISSUER}-{g.pk}", g.name) for g in groups]))
        single = len(self.issuers) == 1
        self.fields["issuer"].choices = choices if single else [("", "---------"), *choices]
        self.has_issuers = bool(self.issuers)
        self.fields["departments"].queryset = _departments(Department.objects.filter(reach, is_active=True))
        self.fields["departments"].widget.attrs["size"] = 8
        self.fields["incident"].queryset = (
            incident_list(user=user).filter(status__in=OPEN_INCIDENT_STATUSES).prefetch_related(None)
        )
        self.fields["deadline"].initial = lambda: (
            timezone.localtime() + timedelta(hours=DEFAULT_DEADLINE_HOURS)
        ).strftime(DATETIME_LOCAL)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex

    def clean_issuer(self):
        department, group = self.issuers[self.cleaned_data["issuer"]]
        if group is not None:  # issue in the group's name from its information office
            department = Department.objects.select_related("region").get(pk=department.pk)
        return department, group


# --- scorecard -----------------------------------------------------------------------------------


class ScorecardPeriodForm(forms.Form):
    """The period of a scorecard: whole days in Beijing time, both ends included."""

    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    @staticmethod
    def default_period():
        today = timezone.localdate()
        return today - timedelta(days=SCORECARD_DEFAULT_DAYS - 1), today

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end must not be before the start."))
            elif (end - start).days >= SCORECARD_MAX_DAYS:
                self.add_error("end", _("Choose a period of at most one year."))
        return cleaned

    def bounds(self):
        """[start, end) as aware datetimes: local midnight of the first day, of the day after the last."""
        tz = timezone.get_current_timezone()
        start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        return (
            timezone.make_aware(datetime.combine(start, datetime.min.time()), tz),
            timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()), tz),
        )


def style_task_filter(form, *, tasks) -> None:
    """Presentation of the shared TaskFilter in the portal: the accountable department as a select
    of the departments on the (unfiltered) list; the incident stays usable from links, unseen."""
    departments = _departments(Department.objects.filter(pk__in=tasks.order_by().values("department_id")))
    form.fields["department"].widget = forms.Select(
        choices=[("", "---------"), *((d.pk, f"{d.name} · {d.region.name}") for d in departments)]
    )
    form.fields["incident"].widget = forms.HiddenInput()
    form.fields["overdue"].widget = forms.Select(choices=[("", "---------"), ("true", _("Yes")), ("false", _("No"))])


def may_dispatch(user) -> bool:
    """Whether to show the dispatch link: the caller heads a department or sits in an office.
    (Only a link: the form offers exactly the issuers the service accepts.)"""
    principal = principal_for(user)
    return bool(
        principal
        and (
            principal.is_superuser or principal.department_ids({Role.HEAD}) or principal.office_group_ids(OFFICE_ROLES)
        )
    )
