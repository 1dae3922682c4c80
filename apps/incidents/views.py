"""Portal pages for incidents and warnings: parse, call one selector or service, render.

Every write is a POST that finds its object through the list selector (out of scope: 404),
refuses a caller who may not act before it reads the form (403, whatever they post), calls one
service and redirects with a message (post/redirect/get). A form with errors is rendered again
with the messages on their fields (a ServiceError's translated message on the field it names),
answering 400 (409 for a conflict) so that clients and tests can tell a refusal from a success; a
button without fields redirects back with the message instead, so a reload never repeats the POST.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.core.csv import csv_cell, csv_writer
from apps.core.exceptions import ServiceError
from apps.core.scoping import authorize
from apps.core.views import (
    INVALID,
    POST_ONLY,
    ObjectActionMixin,
    ScopedDetailView,
    ScopedListView,
    ScopedViewMixin,
    attach_error,
    hidden_lookup,
)
from apps.organizations import selectors as org_selectors
from apps.organizations.models import Department

from . import selectors, services
from .choices import IncidentStatus, WarningStatus
from .filters import IncidentFilter, WarningFilter
from .forms import (
    IncidentCloseForm,
    IncidentLeadingGroupForm,
    IncidentPhotoForm,
    IncidentReportForm,
    IncidentSeverityForm,
    IncidentStatusForm,
    SituationReportForm,
    WarningDraftForm,
    style_incident_filter,
)
from .models import IncidentPhoto


class ActingDepartmentMixin:
    """Forms that act on behalf of a department name it in `department_field`.

    The department is looked up among those the caller can see (unseen: 404, recorded like any
    probe) and authorized for `department_action` before the rest of the form is read, so a
    caller who may not act for it gets 403 whatever else they post. The service authorizes again
    inside its transaction; this only puts the refusal before the form's own errors.
    """

    department_field = "department"
    department_action = "report_incident"

    def check_acting_department(self) -> None:
        raw = self.request.POST.get(self.department_field, "").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            return  # missing or malformed: the form says so
        try:
            department = org_selectors.department_get(user=self.request.user, pk=int(raw))
        except Department.DoesNotExist:
            hidden_lookup(self.request, Department, "pk", int(raw))
            raise Http404 from None
        authorize(self.request.user, self.department_action, department)


# --- incidents -----------------------------------------------------------------------------------


class IncidentListView(ScopedListView):
    list_selector = selectors.incident_list
    filterset_class = IncidentFilter
    template_name = "incidents/incident_list.html"
    paginate_by = 25

    def get_filterset(self, filterset_class):
        filterset = super().get_filterset(filterset_class)
        style_incident_filter(filterset.form, user=self.request.user)
        return filterset


class IncidentCreateView(ActingDepartmentMixin, ScopedViewMixin, TemplateView):
    """Report an incident. The department select offers the caller's own departments; the
    departments a POST may name are those of `list_selector` (the rest are 404)."""

    list_selector = org_selectors.department_list
    template_name = "incidents/incident_form.html"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=IncidentReportForm(user=request.user)))

    def post(self, request, *args, **kwargs):
        self.check_acting_department()
        form = IncidentReportForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.incident_report(
                    actor=request.user,
                    department=data["department"],
                    title=data["title"],
                    category=data["category"],
                    subtype=data["subtype"],
                    severity=data["severity"],
                    place=data["place"],
                    first_seen_at=data["first_seen_at"],
                    intake_channel=data["intake_channel"],
                    intake_seen_at=data["intake_seen_at"],
                    regions=list(data["regions"]),
                    description=data["description"],
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                    is_drill=data["is_drill"],
                    idempotency_key=data["idempotency_key"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Incident reported: %(title)s") % {"title": incident.title})
                return redirect("portal:incident-detail", pk=incident.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class IncidentDetailView(ScopedDetailView):
    """Facts, the timeline, reports, clocks, plans and warnings; the command forms appear only for
    those who may command the incident, the report form only for members of a department."""

    list_selector = selectors.incident_list
    template_name = "incidents/incident_detail.html"
    context_object_name = "incident"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, incident = self.request.user, self.object
        reports = list(selectors.report_list(user=user).filter(incident=incident))
        for report in reports:
            report.late_minutes = int(report.late_by.total_seconds() // 60) if report.late_by else None
        can_command = selectors.incident_can(user=user, incident=incident, action="command")
        warnings = list(selectors.warning_list(user=user).filter(incident=incident))
        timeline = selectors.timeline_with_links(
            user=user,
            entries=selectors.timeline_list(user=user).filter(incident=incident),
            known={"incidents.warning": {str(w.pk) for w in warnings}},  # the warnings this page lists
        )
        context |= {
            "timeline": timeline,
            "reports": reports,
            "clocks": selectors.clock_list(user=user).filter(incident=incident),
            "activations": selectors.activation_list(user=user).filter(incident=incident),
            "warnings": warnings,
            "can_command": can_command,
            "now": timezone.now(),
            "report_form": kwargs.get("report_form") or SituationReportForm(user=user, incident=incident),
            "photos": selectors.photo_list(user=user).filter(incident=incident),
            "photo_form": kwargs.get("photo_form") or IncidentPhotoForm(user=user),
        }
        if can_command and incident.is_open:
            context |= {
                "can_verify": incident.status == IncidentStatus.REPORTED,
                "status_form": kwargs.get("status_form") or IncidentStatusForm(incident=incident),
                "severity_form": kwargs.get("severity_form") or IncidentSeverityForm(incident=incident),
                "group_form": kwargs.get("group_form") or IncidentLeadingGroupForm(user=user),
                "close_form": kwargs.get("close_form") or IncidentCloseForm(),
            }
        return context


class IncidentActionView(ObjectActionMixin, IncidentDetailView):
    """A POST on one incident. `form_class` None: a button without fields."""

    action = "command"
    form_class = None
    form_name = ""  # the detail page's context name of the form, to re-render it with errors
    success_message = gettext_lazy("Saved.")

    def check(self) -> None:
        authorize(self.request.user, self.action, self.object)

    def form_kwargs(self) -> dict:
        return {"incident": self.object}

    def make_form(self):
        return self.form_class(self.request.POST, **self.form_kwargs()) if self.form_class else None

    def invalid(self, form, status: int):
        return self.render_to_response(self.get_context_data(**{self.form_name: form}), status=status)

    def detail_url(self):
        return reverse("portal:incident-detail", kwargs={"pk": self.object.pk})

    done_url = detail_url


class IncidentVerifyView(IncidentActionView):
    success_message = gettext_lazy("Incident verified; matching response plans are activated.")

    def perform(self, form):
        services.incident_verify(actor=self.request.user, incident=self.object)


class IncidentStatusView(IncidentActionView):
    form_class = IncidentStatusForm
    form_name = "status_form"
    success_message = gettext_lazy("Status changed.")

    def perform(self, form):
        services.incident_set_status(
            actor=self.request.user,
            incident=self.object,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
        )


class IncidentCloseView(IncidentActionView):
    form_class = IncidentCloseForm
    form_name = "close_form"
    success_message = gettext_lazy("Incident closed.")

    def form_kwargs(self):
        return {}

    def perform(self, form):
        services.incident_set_status(
            actor=self.request.user,
            incident=self.object,
            status=IncidentStatus.CLOSED,
            note=form.cleaned_data["note"],
        )


class IncidentSeverityView(IncidentActionView):
    form_class = IncidentSeverityForm
    form_name = "severity_form"
    success_message = gettext_lazy("Severity changed.")

    def perform(self, form):
        services.incident_set_severity(
            actor=self.request.user,
            incident=self.object,
            severity=form.cleaned_data["severity"],
            reason=form.cleaned_data["reason"],
        )


class IncidentLeadingGroupView(IncidentActionView):
    form_class = IncidentLeadingGroupForm
    form_name = "group_form"
    success_message = gettext_lazy("The leading group has taken charge.")

    def form_kwargs(self):
        return {"user": self.request.user}

    def perform(self, form):
        services.incident_assign_leading_group(
            actor=self.request.user, incident=self.object, group=form.cleaned_data["group"]
        )


class SituationReportSubmitView(ActingDepartmentMixin, IncidentActionView):
    """Any member of a department may report on an incident they can see (the service checks the
    department's reporting right and the incident's visibility); the hidden idempotency key makes
    a double submission return the first report."""

    form_class = SituationReportForm
    form_name = "report_form"
    success_message = gettext_lazy("Situation report submitted.")

    def check(self):
        self.check_acting_department()

    def form_kwargs(self):
        return {"user": self.request.user, "incident": self.object}

    def perform(self, form):
        data = form.cleaned_data
        services.report_submit(
            actor=self.request.user,
            incident=self.object,
            department=data["department"],
            kind=data["kind"],
            text=data["text"],
            deaths=data["deaths"],
            injured=data["injured"],
            missing=data["missing"],
            affected_population=data["affected_population"],
            evacuated=data["evacuated"],
            resources_deployed=data["resources_deployed"],
            late_reason=data["late_reason"],
            idempotency_key=data["idempotency_key"],
        )


class IncidentPhotoAddView(ActingDepartmentMixin, IncidentActionView):
    """Attach a photo from the scene: any member of a department that may report, on an incident
    they can see (the service checks both again, and what the file is)."""

    form_class = IncidentPhotoForm
    form_name = "photo_form"
    success_message = gettext_lazy("Photo attached.")

    def check(self):
        self.check_acting_department()

    def make_form(self):
        return IncidentPhotoForm(self.request.POST, self.request.FILES, user=self.request.user)

    def perform(self, form):
        services.incident_photo_add(
            actor=self.request.user,
            incident=self.object,
            department=form.cleaned_data["department"],
            uploaded_file=form.cleaned_data["photo"],
            caption=form.cleaned_data["caption"],
        )


class IncidentPhotoView(ScopedDetailView):
    """One photo of an incident the caller sees, shown inline (the type stored is the one read from
    its content). A photo of another incident, or of one out of scope, is a 404."""

    list_selector = selectors.incident_list

    def get(self, request, *args, **kwargs):
        incident = self.get_object()
        photo = selectors.photo_list(user=request.user).filter(incident=incident, pk=kwargs["photo_pk"]).first()
        if photo is None:
            hidden_lookup(request, IncidentPhoto, "pk", kwargs["photo_pk"])
            raise Http404
        response = FileResponse(photo.file.open("rb"), content_type=photo.content_type, filename=photo.name)
        response["Cache-Control"] = "private, max-age=3600"
        return response


class IncidentTimelineCsvView(ScopedDetailView):
    """The incident's timeline as CSV (UTF-8 with BOM, for spreadsheet programs), Beijing time."""

    list_selector = selectors.incident_list

    def get(self, request, *args, **kwargs):
        incident = self.get_object()
        entries = selectors.timeline_list(user=request.user).filter(incident=incident)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="incident-{incident.pk}-timeline.csv"'
        response.write("\ufeff")
        writer = csv_writer(response)
        # the object of each entry as type and id (like the API download), after the older columns
        writer.writerow(
            [_("Time"), _("Kind"), _("Summary"), _("Actor"), _("Ledger #"), _("Target type"), _("Target ID")]
        )
        for entry in entries.iterator(chunk_size=1000):
            writer.writerow(
                csv_cell(value)
                for value in (
                    timezone.localtime(entry.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                    entry.get_kind_display(),
                    entry.text,
                    entry.actor_name,
                    entry.ledger_seq,
                    entry.target_type,
                    entry.target_id,
                )
            )
        return response


# --- warnings ------------------------------------------------------------------------------------


class WarningListView(ScopedListView):
    list_selector = selectors.warning_list
    filterset_class = WarningFilter
    template_name = "incidents/warning_list.html"
    paginate_by = 25


class WarningCreateView(ActingDepartmentMixin, ScopedViewMixin, TemplateView):
    """Draft a warning, optionally for an incident (`?incident=<id>` preselects it)."""

    list_selector = org_selectors.department_list
    template_name = "incidents/warning_form.html"
    department_field = "issuer"

    def get(self, request, *args, **kwargs):
        form = WarningDraftForm(user=request.user, initial={"incident": request.GET.get("incident")})
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        self.check_acting_department()
        form = WarningDraftForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                warning = services.warning_draft(
                    actor=request.user,
                    issuer=data["issuer"],
                    region=data["region"] or data["issuer"].region,
                    level=data["level"],
                    title=data["title"],
                    area=data["area"],
                    starts_at=data["starts_at"],
                    expected_hours=data["expected_hours"],
                    measures=data["measures"],
                    content=data["content"],
                    incident=data["incident"],
                    idempotency_key=data["idempotency_key"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Warning drafted; it goes out once the information office publishes it."))
                return redirect("portal:warning-detail", pk=warning.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class WarningDetailView(ScopedDetailView):
    list_selector = selectors.warning_list
    template_name = "incidents/warning_detail.html"
    context_object_name = "warning"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, warning = self.request.user, self.object
        can_review = selectors.warning_can(user=user, warning=warning, action="review")
        can_change = selectors.warning_can(user=user, warning=warning, action="change")
        status = warning.status
        context |= {
            "can_review": can_review and status == WarningStatus.DRAFT,
            "can_publish": can_review and status == WarningStatus.REVIEWED,
            "can_return": can_review and status == WarningStatus.REVIEWED,
            "can_withdraw": (can_review or can_change) and status != WarningStatus.WITHDRAWN,
        }
        return context


class WarningActionView(WarningDetailView):
    """A button on one warning: the service authorizes (review, or change for the issuer)."""

    http_method_names = POST_ONLY
    service = None
    success_message = gettext_lazy("Saved.")

    def post(self, request, *args, **kwargs):
        warning = self.get_object()
        try:
            type(self).service(actor=request.user, warning=warning)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.success_message)
        return redirect("portal:warning-detail", pk=warning.pk)


class WarningReviewView(WarningActionView):
    service = services.warning_review
    success_message = gettext_lazy("Warning reviewed; it can now be published.")


class WarningPublishView(WarningActionView):
    service = services.warning_publish
    success_message = gettext_lazy("Warning published.")


class WarningReturnView(WarningActionView):
    service = services.warning_return
    success_message = gettext_lazy("Warning returned to its issuer as a draft.")


class WarningWithdrawView(WarningActionView):
    service = services.warning_withdraw
    success_message = gettext_lazy("Warning withdrawn.")
