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


# --- links to the entry's object -----------------------------------------------------------------
# Built from `target_type` / `target_id` alone (reversing a URL runs no query), so a page of entries
# costs the same however long it is. Objects of the incident itself (reports, plan activations,
# clocks) have no page of their own: they link to their row on the incident's page.

# target_type → portal URL name (kwargs: pk) or an anchor on the incident's page ("#…-%s")
PORTAL_TARGETS = {
    "incidents.warning": "portal:warning-detail",
    "incidents.situationreport": "#report-%s",
    "incidents.planactivation": "#activation-%s",
    "incidents.reportingclock": "#clock-%s",
    "incidents.incidentphoto": "portal:incident-photo",
    "tasking.task": "portal:task-detail",
    "access.datarequest": "portal:data-request-detail",
    "access.datagrant": "portal:data-grant-detail",
}
# Targets whose scope is not the incident's: linked in the portal only for readers who see them.
OWN_SCOPE_TARGETS = ("incidents.warning", "tasking.task", "access.datarequest", "access.datagrant")

# target_type → API detail route
API_TARGETS = {
    "incidents.incident": "api:incident-detail",
    "incidents.warning": "api:warning-detail",
    "incidents.situationreport": "api:situation-report-detail",
    "organizations.leadinggroup": "api:leading-group-detail",
    "tasking.task": "api:task-detail",
    "access.datarequest": "api:data-request-detail",
    "access.datagrant": "api:data-grant-detail",
}


def _reverse(name: str, **kwargs) -> str | None:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:  # a route renamed or removed: no link rather than a broken page
        return None


def api_url(entry) -> str | None:
    """The API detail URL of the entry's object, or None where it has none."""
    name = API_TARGETS.get(entry.target_type)
    return _reverse(name, pk=entry.target_id) if name and entry.target_id.isdigit() else None


def portal_url(entry, visible: dict[str, set[str]] | None = None) -> str | None:
    """The portal page of the entry's object, or None: it has no page, or (for targets with a scope
    of their own) its id is not in `visible[target_type]`. The incident's own entries point to the
    page they are shown on, so they are not linked."""
    target = PORTAL_TARGETS.get(entry.target_type)
    if not target or not entry.target_id.isdigit():
        return None
    if entry.target_type in OWN_SCOPE_TARGETS and entry.target_id not in (visible or {}).get(entry.target_type, ()):
        return None
    if target.startswith("#"):
        return target % entry.target_id
    if entry.target_type == "incidents.incidentphoto":
        return _reverse(target, pk=entry.incident_id, photo_pk=entry.target_id)
    return _reverse(target, pk=entry.target_id)
