"""Report snapshots as neutral documents (title, sections, figures, tables) for the PDF, Excel and
CSV renderers. Called under the language the report is written in."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from apps.incidents.choices import (
    Category,
    IncidentStatus,
    Severity,
    Subtype,
    WarningLevel,
)
from apps.incidents.choices import (
    ReportKind as SituationKind,
)
from apps.tasking.choices import Priority, TaskEventKind, TaskStatus

from .choices import ReportKind
from .exports import Document, Section, Table


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _time(value: str | None) -> str:
    if not value:
        return "—"
    return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")


def _num(value) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _incident_meta(report, content: dict) -> list[tuple[str, str]]:
    inc = content["incident"]
    return [
        (_("Report number"), f"{report.number}"),
        (_("Incident"), f"#{inc['id']} {inc['title']}"),
        (_("Type"), f"{_label(Category, inc['category'])} · {_label(Subtype, inc['subtype'])}"),
        (_("Severity"), _label(Severity, inc["severity"])),
        (_("Status"), _label(IncidentStatus, inc["status"])),
        (_("Place"), inc["place"]),
        (_("Affected regions"), "、".join(inc["regions"]) or inc["region"]),
        (_("First seen at"), _time(inc["first_seen_at"])),
        (_("Leading group"), inc["leading_group"] or "—"),
        (_("Generated at"), _time(content["generated_at"])),
    ]


def situation_document(report, content: dict) -> Document:
    inc = content["incident"]
    figures = content["figures"]
    totals = content["task_totals"]
    sections = [
        Section(
            heading=_("Key figures"),
            paragraphs=[_("Sum of each department's latest situation report.")],
            figures=[
                (_("Deaths"), _num(figures["deaths"])),
                (_("Injured"), _num(figures["injured"])),
                (_("Missing"), _num(figures["missing"])),
                (_("Affected population"), _num(figures["affected_population"])),
                (_("Evacuated"), _num(figures["evacuated"])),
                (_("Tasks"), _num(totals["total"])),
                (_("Open tasks"), _num(totals["open"])),
                (_("Completed tasks"), _num(totals["done"])),
                (_("Overdue tasks"), _num(totals["overdue"])),
            ],
        ),
        Section(
            heading=_("Departments' latest situation reports"),
            paragraphs=[
                _("%(department)s · No. %(number)s (%(kind)s, %(at)s): %(text)s")
                % {
                    "department": r["department"],
                    "number": r["number"],
                    "kind": _label(SituationKind, r["kind"]),
                    "at": _time(r["submitted_at"]),
                    "text": r["text"],
                }
                for r in content["reports"]
            ]
            or [_("No situation report yet.")],
            tables=[
                Table(
                    title=_("Figures by department"),
                    columns=[
                        _("Department"),
                        _("Submitted at"),
                        _("Deaths"),
                        _("Injured"),
                        _("Missing"),
                        _("Affected population"),
                        _("Evacuated"),
                        _("Late"),
                    ],
                    rows=[
                        [
                            r["department"],
                            _time(r["submitted_at"]),
                            r["deaths"],
                            r["injured"],
                            r["missing"],
                            r["affected_population"],
                            r["evacuated"],
                            _("yes") if r["is_late"] else "",
                        ]
                        for r in content["reports"]
                    ],
                )
            ],
        ),
        Section(
            heading=_("Task progress"),
            tables=[
                Table(
                    title=_("By accountable department"),
                    columns=[
                        _("Department"),
                        _("Tasks"),
                        _label(TaskStatus, "issued"),
                        _label(TaskStatus, "accepted"),
                        _label(TaskStatus, "in_progress"),
                        _label(TaskStatus, "completed"),
                        _label(TaskStatus, "verified"),
                        _("Overdue"),
                    ],
                    rows=[
                        [
                            d["department"],
                            d["total"],
                            d.get("issued", 0),
                            d.get("accepted", 0),
                            d.get("in_progress", 0),
                            d.get("completed", 0),
                            d.get("verified", 0),
                            d["overdue"],
                        ]
                        for d in content["tasks_by_department"]
                    ],
                ),
                Table(
                    title=_("All tasks"),
                    columns=[
                        _("No."),
                        _("Title"),
                        _("Department"),
                        _("Status"),
                        _("Priority"),
                        _("Deadline"),
                        _("Overdue"),
                    ],
                    rows=[
                        [
                            pk,
                            title,
                            dept,
                            _label(TaskStatus, status),
                            _label(Priority, prio),
                            _time(deadline),
                            _("yes") if late else "",
                        ]
                        for pk, title, dept, status, prio, deadline, late in content["tasks"]
                    ],
                ),
            ],
        ),
        Section(
            heading=_("Pooled data opened for this incident"),
            paragraphs=[] if content["data"] else [_("No data was granted for this incident.")],
            tables=[
                Table(
                    columns=[
                        _("Dataset"),
                        _("Owner"),
                        _("Granted to"),
                        _("Records"),
                        _("Valid until"),
                        _("Emergency access"),
                    ],
                    rows=[
                        [
                            d["dataset"],
                            d["owner"],
                            d["department"],
                            d["records"],
                            _time(d["valid_until"]) + (f" ({_('revoked')})" if d["revoked"] else ""),
                            _("yes") if d["emergency"] else "",
                        ]
                        for d in content["data"]
                    ],
                )
            ]
            if content["data"]
            else [],
        ),
        Section(
            heading=_("Early-warning alerts in the affected regions"),
            paragraphs=[] if content["alerts"] else [_("No alert.")],
            tables=[
                Table(
                    columns=[
                        _("Rule"),
                        _("Region"),
                        pgettext("warning", "Level"),
                        _("Value"),
                        _("Previous window"),
                        _("Window start"),
                    ],
                    rows=[
                        [
                            a["rule"],
                            a["region"],
                            _label(WarningLevel, a["level"]),
                            _num(a["value"]),
                            _num(a["baseline"]),
                            _time(a["window_start"]),
                        ]
                        for a in content["alerts"]
                    ],
                )
            ]
            if content["alerts"]
            else [],
        ),
    ]
    return Document(
        title=_("Consolidated situation report No. %(number)s: %(title)s")
        % {"number": report.number, "title": inc["title"]},
        meta=_incident_meta(report, content),
        sections=sections,
        footer=f"{_('Cross-region Emergency Collaboration Platform')} · {ReportKind.SITUATION.label}",
        page_label=_("Page %(page)d"),
    )


def _milestone(name: str) -> str:
    labels = {
        "first_seen": _("First seen"),
        "first_report": _("First report"),
        "verified": _("Verification"),
        "plan_activated": _("Plan activation"),
        "first_task_accepted": _("First task accepted"),
        "closed": _("Closed"),
    }
    return labels.get(name, name)


def review_document(report, content: dict) -> Document:
    inc = content["incident"]
    sections = [
        Section(
            heading=_("Key intervals"),
            tables=[
                Table(
                    columns=[
                        _("Milestone"),
                        _("Time"),
                        _("Minutes after first seen"),
                        _("Minutes after the previous step"),
                    ],
                    rows=[
                        [
                            _milestone(i["milestone"]),
                            _time(i["at"]),
                            _num(i["after_first_seen_minutes"]),
                            _num(i["after_previous_minutes"]) if i["at"] else "—",
                        ]
                        for i in content["intervals"]
                    ],
                )
            ],
        ),
        Section(
            heading=_("Late reports"),
            paragraphs=[] if content["late_reports"] else [_("No report was late.")],
            tables=[
                Table(
                    columns=[_("Department"), _("No."), _("Due at"), _("Submitted at"), _("Minutes late"), _("Reason")],
                    rows=[
                        [
                            r["department"],
                            r["number"],
                            _time(r["due_at"]),
                            _time(r["submitted_at"]),
                            _num(r["late_minutes"]),
                            r["reason"],
                        ]
                        for r in content["late_reports"]
                    ],
                )
            ]
            if content["late_reports"]
            else [],
        ),
        Section(
            heading=_("Declined and transferred tasks"),
            paragraphs=[] if content["task_moves"] else [_("No task was declined or transferred.")],
            tables=[
                Table(
                    columns=[
                        _("Task"),
                        _("Title"),
                        _("Event"),
                        _("Department"),
                        pgettext("task transfer", "To department"),
                        _("Time"),
                        _("Reason"),
                    ],
                    rows=[
                        [
                            m["task"],
                            m["title"],
                            _label(TaskEventKind, m["kind"]),
                            m["department"],
                            m["to"],
                            _time(m["at"]),
                            m["note"],
                        ]
                        for m in content["task_moves"]
                    ],
                )
            ]
            if content["task_moves"]
            else [],
        ),
        Section(
            heading=_("Departments' scorecards during the incident"),
            tables=[
                Table(
                    columns=[
                        _("Department"),
                        _("Tasks due"),
                        _("Median minutes to accept"),
                        _("Declines"),
                        _("Transfers"),
                        _("Overdue"),
                        _("Overdue rate"),
                        _("Median minutes to complete"),
                    ],
                    rows=[
                        [
                            s["department"],
                            s["tasks"],
                            _num(s["median_accept_minutes"]),
                            s["declines"],
                            s["transfers"],
                            s["overdue"],
                            f"{s['overdue_rate'] * 100:.0f}%" if s["overdue_rate"] is not None else "—",
                            _num(s["median_completion_minutes"]),
                        ]
                        for s in content["scorecard"]
                    ],
                )
            ],
        ),
    ]
    return Document(
        title=_("After-action review: %(title)s") % {"title": inc["title"]},
        meta=_incident_meta(report, content),
        sections=sections,
        footer=f"{_('Cross-region Emergency Collaboration Platform')} · {ReportKind.REVIEW.label}",
        page_label=_("Page %(page)d"),
    )


def document_for(report, content: dict) -> Document:
    return review_document(report, content) if report.kind == ReportKind.REVIEW else situation_document(report, content)
