"""The incident page's "Reports and archive" card, drawn by the reporting app: the incident's
latest reports the reader may see, its archive, and (for those who may request reports) the
buttons and the daily-schedule form. Everything comes from `selectors.incident_reporting`."""

from django import template

from apps.reporting import selectors
from apps.reporting.choices import ReportKind
from apps.reporting.forms import ReportRequestForm, ReportScheduleForm

register = template.Library()


@register.inclusion_tag("reporting/_incident_card.html", takes_context=True)
def incident_reports_card(context, incident):
    user = context["request"].user
    reporting = selectors.incident_reporting(user=user, incident=incident)
    card = {
        "incident": incident,
        "csrf_token": context.get("csrf_token"),
        "is_closed": not incident.is_open,
        **reporting,
    }
    if reporting["can_request"]:
        card |= {
            # ids of their own: the incident page holds other forms with fields of the same names
            "situation_form": ReportRequestForm(initial={"kind": ReportKind.SITUATION}, auto_id="situation_%s"),
            "review_form": ReportRequestForm(initial={"kind": ReportKind.REVIEW}, auto_id="review_%s"),
            "schedule_form": ReportScheduleForm(schedule=reporting["schedule"], auto_id="schedule_%s"),
        }
    return card
