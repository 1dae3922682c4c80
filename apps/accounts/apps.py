from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import (
            receivers,  # noqa: F401  (login and failed-login events into the ledger)
            schema,  # noqa: F401  (OpenAPI security scheme for integration keys)
        )
