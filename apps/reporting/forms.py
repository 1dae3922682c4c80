"""Portal forms of reporting. They parse shapes (a known kind, a time of day); the rules (who may
request, when a review may be written) stay in `services`, whose translated messages the views
show. The hidden idempotency key is made when the form is shown, so a double click or a
resubmission queues one report."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import ReportKind


class ReportRequestForm(forms.Form):
    """Generate a report now (services.report_request)."""

    kind = forms.ChoiceField(label=_("Kind of report"), choices=ReportKind.choices, initial=ReportKind.SITUATION)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex


class ReportScheduleForm(forms.Form):
    """Generate a consolidated report every day at a time (services.schedule_set)."""

    at_time = forms.TimeField(
        label=_("Daily at"),
        help_text=_("Beijing time, while the incident is open."),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, schedule=None, **kwargs):
        if schedule is not None and "initial" not in kwargs:
            kwargs["initial"] = {"at_time": schedule.at_time, "is_active": schedule.is_active}
        super().__init__(*args, **kwargs)


def style_incident_filter(form, *, rows, user) -> None:
    """The incident filter of a report or archive list as a select of the incidents its rows are about."""
    from apps.incidents.selectors import incident_list

    incidents = (
        incident_list(user=user)
        .filter(pk__in=rows.values("incident_id"))
        .select_related(None)
        .prefetch_related(None)
        .only("pk", "title")
        .order_by("-reported_at", "-id")
    )
    form.fields["incident"].widget = forms.Select(choices=[("", "---------"), *((i.pk, i.title) for i in incidents)])
