"""Errors raised by services. Interfaces translate them: portal messages, API error bodies."""

from django.utils.translation import gettext_lazy as _


class ServiceError(Exception):
    """A business rule refused the operation. `message` is shown to the user (translated)."""

    code = "invalid"
    status = 400

    def __init__(self, message=None, *, code: str | None = None, field: str | None = None):
        self.message = message or _("The request could not be processed.")
        if code:
            self.code = code
        self.field = field
        super().__init__(str(self.message))


class AccessDenied(Exception):
    """The actor may not do this. `hidden=True` means the target is outside their scope: answer 404."""

    def __init__(self, *, action: str, target=None, hidden: bool = True):
        self.action = action
        self.target = target
        self.hidden = hidden
        super().__init__(f"denied: {action}")


class Conflict(ServiceError):
    code = "conflict"
    status = 409


class SecondFactorRequired(ServiceError):
    """The operation needs a person whose session is verified with a second factor (an
    authenticator code or a backup code, decision 0012); an integration key never qualifies."""

    code = "second_factor_required"
    status = 403
