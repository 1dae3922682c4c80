"""Timeline summaries stored language-neutrally: a source text (msgid) plus arguments, rendered in
the reader's language. An argument `{"choice": "IncidentStatus", "value": "verified"}` is shown as
that choice's translated label."""

from django.utils.translation import gettext, override

from apps.incidents import choices as incident_choices

CHOICES = {
    "IncidentStatus": incident_choices.IncidentStatus,
    "Severity": incident_choices.Severity,
    "ClockStep": incident_choices.ClockStep,
    "WarningStatus": incident_choices.WarningStatus,
}


def choice(name: str, value) -> dict:
    return {"choice": name, "value": value}


def _arg(value):
    if isinstance(value, dict) and "choice" in value:
        return str(CHOICES[value["choice"]](value["value"]).label)
    return value


def render(message: str, args: dict | None = None) -> str:
    text = gettext(message)
    return text % {k: _arg(v) for k, v in (args or {}).items()} if args else text


def render_in(language: str, message: str, args: dict | None = None) -> str:
    with override(language):
        return render(message, args)
