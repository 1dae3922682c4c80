"""The one place a status change is checked against its transition map."""

from django.utils.translation import gettext as _

from .exceptions import ServiceError


def ensure_transition(current: str, new: str, transitions: dict[str, set[str]], choices=None) -> None:
    """Raise a translated ServiceError unless `current → new` is in `transitions`.

    `choices` (a TextChoices class) lets the message show the statuses' display labels.
    """
    if new in transitions.get(current, set()):
        return
    labels = dict(choices.choices) if choices is not None else {}
    raise ServiceError(
        _("Cannot change status from %(old)s to %(new)s.")
        % {"old": labels.get(current, current), "new": labels.get(new, new)},
        code="invalid_transition",
        field="status",
    )
