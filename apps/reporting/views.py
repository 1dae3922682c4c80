"""Portal pages of reporting: consolidated situation reports (综合报告) and after-action reviews
(调查评估) with their live generation progress and files, the daily schedule, and the digital
archives (数字档案) of closed incidents.

Every page reads through a selector built on `restrict()`: a report is seen by those who command
its incident or sit in its leading group, an archive by everyone who sees the incident; anything
else is 404. Requesting a report and setting the schedule are POSTs on the incident (found among
the incidents the caller sees, else 404) that refuse a caller who may not request before the form
is read (403), call one service and redirect (post/redirect/get); the hidden idempotency key of
the form makes a double click queue one report. A report's page polls a small fragment (htmx,
served locally) every two seconds until the report is done or failed, then shows its files.

Files are sent as attachments with an ASCII name and the readable (UTF-8, RFC 5987) one; every
archive download is a ledger event (`services.archive_downloaded`).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from apps.core.exceptions import AccessDenied
from apps.core.views import ObjectActionMixin, ScopedDetailView, ScopedListView
from apps.incidents.selectors import incident_list

from . import selectors, services
from .choices import FORMATS, JobStatus
from .documents import document_for
from .exports import RENDERERS
from .filters import ArchiveFilter, ReportFilter
from .forms import ReportRequestForm, ReportScheduleForm, style_incident_filter

SUMMARY_ROWS = 50  # rows of each table on the report's page; the files hold them all
FINISHED = (JobStatus.DONE, JobStatus.FAILED)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


# --- files --------------------------------------------------------------------------------------


def _readable(name: str) -> str:
    return _UNSAFE.sub("_", name).strip(" .") or "download"


def file_download(stored, *, ascii_name: str, name: str, content_type: str, sha256: str = "") -> FileResponse:
    """A stored file as an attachment: `filename` is ASCII for every client, `filename*` (RFC 5987)
    the readable UTF-8 name. Never cached, never sniffed."""
    response = FileResponse(stored.open("rb"), content_type=content_type)
    response["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(_readable(name), safe='')}"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    if sha256:
        response["X-Content-SHA256"] = sha256
    return response


def report_file(report, fmt: str) -> FileResponse:
    """A report's file in `fmt`; 404 unless the report is done and has that file."""
    stored = report.file_for(fmt) if fmt in FORMATS else None
    if report.status != JobStatus.DONE or not stored:
        raise Http404
    _render, content_type, ext = RENDERERS[fmt]
    readable = _("%(kind)s No. %(number)s - %(incident)s") % {
        "kind": report.get_kind_display(),
        "number": report.number,
        "incident": report.incident.title,
    }
    return file_download(
        stored,
        ascii_name=f"incident-{report.incident_id}-{report.kind}-{report.number}{ext}",
        name=f"{readable}{ext}",
        content_type=content_type,
        sha256=(report.hashes or {}).get(fmt, ""),
    )


def archive_file(archive, *, user) -> FileResponse:
    """The archive's zip (404 until frozen); the download is written to the ledger first."""
    if archive.status != JobStatus.DONE or not archive.file:
        raise Http404
    services.archive_downloaded(actor=user, archive=archive)
    return file_download(
        archive.file,
        ascii_name=f"incident-{archive.incident_id}-archive.zip",
        name=_("Digital archive - %(incident)s") % {"incident": archive.incident.title} + ".zip",
        content_type="application/zip",
        sha256="",
    )


# --- the readable summary -----------------------------------------------------------------------


def report_summary(report) -> dict:
    """The report's snapshot as the files say it (same headings, labels and times), in the
    reader's language, each table cut to its first SUMMARY_ROWS rows."""
    document = document_for(report, report.content)
    sections = []
    for section in document.sections:
        tables = [
            {
                "title": table.title,
                "columns": table.columns,
                "rows": table.rows[:SUMMARY_ROWS],
                "total": len(table.rows),
                "cut": len(table.rows) > SUMMARY_ROWS,
            }
            for table in section.tables
        ]
        sections.append(
            {
                "heading": section.heading,
                "paragraphs": section.paragraphs,
                "figures": section.figures,
                "tables": tables,
            }
        )
    return {"title": document.title, "meta": document.meta, "sections": sections}


# --- reports ------------------------------------------------------------------------------------


class ReportListView(ScopedListView):
    """Reports on the incidents the caller commands or whose leading group they sit in."""

    list_selector = selectors.report_list
    filterset_class = ReportFilter
    template_name = "reporting/report_list.html"
    paginate_by = 50

    def get_filterset(self, filterset_class):
        filterset = super().get_filterset(filterset_class)
        style_incident_filter(filterset.form, rows=filterset.queryset, user=self.request.user)
        return filterset


class ReportDetailView(ScopedDetailView):
    """One report: its progress while it is generated, then its files and a readable summary."""

    list_selector = selectors.report_list
    template_name = "reporting/report_detail.html"
    context_object_name = "report"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        report = self.object
        done = report.status == JobStatus.DONE
        context |= {
            "finished": report.status in FINISHED,
            "files": [(fmt, RENDERERS[fmt][2]) for fmt in FORMATS if report.file_for(fmt)] if done else [],
            "summary": report_summary(report) if done and report.content else None,
        }
        return context


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


class ReportProgressView(ReportDetailView):
    """The live part of a report's page, polled every two seconds while the report is generated.
    Once finished it stops polling and brings the files and summary along (an out-of-band swap)."""

    template_name = "reporting/report_progress.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"oob": is_htmx(self.request)}

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


class ReportDownloadView(ReportDetailView):
    """The report's PDF, Excel or CSV file."""

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        return report_file(self.object, kwargs["fmt"])


# --- requesting and scheduling (POSTs on an incident) ------------------------------------------


class IncidentReportActionView(ObjectActionMixin, ScopedDetailView):
    """A POST on an incident the caller sees (else 404): those who may not request reports on it
    get 403 before the form is read; a refused form is shown again with its errors (400)."""

    list_selector = incident_list
    pk_url_kwarg = "incident_pk"
    context_object_name = "incident"
    form_class = None

    def check(self) -> None:
        if not selectors.report_can_request(user=self.request.user, incident=self.object):
            raise AccessDenied(action="request", target=self.object, hidden=False)

    def make_form(self):
        return self.form_class(self.request.POST)

    def invalid(self, form, status: int):
        return self.render_to_response(self.get_context_data(form=form), status=status)

    def detail_url(self):
        return reverse("portal:incident-detail", kwargs={"pk": self.object.pk})


class ReportRequestView(IncidentReportActionView):
    """Generate a report now; lands on the new report's page, which shows its progress."""

    form_class = ReportRequestForm
    template_name = "reporting/report_request.html"
    success_message = gettext_lazy("The report is being generated.")

    def perform(self, form) -> None:
        data = form.cleaned_data
        self.report = services.report_request(
            actor=self.request.user,
            incident=self.object,
            kind=data["kind"],
            idempotency_key=data["idempotency_key"],
            language=get_language(),
        )

    def done_url(self):
        return reverse("portal:report-detail", kwargs={"pk": self.report.pk})


class ReportScheduleView(IncidentReportActionView):
    """Set (or switch off) the incident's daily consolidated report."""

    form_class = ReportScheduleForm
    template_name = "reporting/report_schedule.html"
    success_message = gettext_lazy("The daily report schedule is saved.")

    def perform(self, form) -> None:
        data = form.cleaned_data
        services.schedule_set(
            actor=self.request.user, incident=self.object, at_time=data["at_time"], active=data["is_active"]
        )

    def done_url(self):
        return self.detail_url()


# --- archives -----------------------------------------------------------------------------------


class ArchiveListView(ScopedListView):
    """The digital archives of the closed incidents the caller sees."""

    list_selector = selectors.archive_list
    filterset_class = ArchiveFilter
    template_name = "reporting/archive_list.html"
    paginate_by = 50

    def get_filterset(self, filterset_class):
        filterset = super().get_filterset(filterset_class)
        style_incident_filter(filterset.form, rows=filterset.queryset, user=self.request.user)
        return filterset


class ArchiveDetailView(ScopedDetailView):
    """Status, freezing time, root hash and its ledger entry, and the manifest of files."""

    list_selector = selectors.archive_list
    template_name = "reporting/archive_detail.html"
    context_object_name = "archive"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        manifest = self.object.manifest if isinstance(self.object.manifest, dict) else {}
        context["files"] = manifest.get("files") or []
        return context


class ArchiveDownloadView(ArchiveDetailView):
    """The archive's zip file; every download is a ledger event."""

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        return archive_file(self.object, user=request.user)
