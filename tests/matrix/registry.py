"""Every app's matrix entries, and the short, reasoned lists of what is exempt.

Each `tests/matrix/test_<app>_matrix.py` calls `register("<app>", [...])` at import time;
`test_meta.py` imports them all (`load_all`) and fails for any route without an entry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from pathlib import Path

from .harness import Route

_ROUTES: dict[str, tuple[Route, ...]] = {}

# Routes that are public by design: no matrix entry. Keep this short; each needs a reason.
PUBLIC_ROUTES: dict[str, str] = {
    "portal:login": "the login form itself; shows no tenant data",
    "portal:logout": "ends the caller's own session (POST); shows no tenant data",
    "api:schema": "the OpenAPI document: describes endpoints, holds no tenant data",
    "api:docs": "Swagger UI over api:schema; holds no tenant data",
}

# Routes outside the `api` and `portal` namespaces (the matrix only covers those two).
NON_TENANT_NAMESPACES: dict[str, str] = {
    "admin": "Django admin: staff only, its own model permissions and scoped admin classes (tested apart)",
}
NON_TENANT_ROUTES: dict[str, str] = {
    "set_language": "Django's language switch: stores a preference, reads no tenant data",
}

# View classes behind api/portal routes that are not built on ScopedViewMixin/ScopedViewSetMixin.
UNSCOPED_VIEWS: dict[str, str] = {
    "apps.portal.views.DashboardView": "shows only the caller's own seats and groups, through restricted selectors",
    "apps.portal.views.DashboardLiveView": "the dashboard's live part: every figure comes from restricted selectors",
    "apps.accounts.api.views.MeApi": "shows only the caller (request.user) and their seats",
    "apps.accounts.views.AccountSecurityView": "the caller's own second-factor status; reads nobody else",
    "apps.accounts.views.OtpEnrolView": "enrols the caller's own authenticator; touches nobody else",
    "apps.accounts.views.OtpBackupCodesView": "the caller's own backup codes; touches nobody else",
    "apps.accounts.views.OtpVerifyView": "verifies the caller's own session with their own devices",
    "apps.portal.views.LoginView": "public login form",
    "apps.portal.views.LogoutView": "ends the caller's own session",
    "drf_spectacular.views.SpectacularAPIView": "OpenAPI schema: no tenant data",
    "drf_spectacular.views.SpectacularSwaggerSplitView": "Swagger UI: no tenant data",
}


def register(app: str, routes: Iterable[Route]) -> tuple[Route, ...]:
    """Record `app`'s entries (idempotent per app) and refuse an entry another app already owns."""
    routes = tuple(routes)
    seen: dict[tuple[str, str], str] = {}
    for other, entries in _ROUTES.items():
        if other != app:
            seen.update({r.key: other for r in entries})
    mine: set[tuple[str, str]] = set()
    for route in routes:
        if route.key in mine:
            raise ValueError(f"{app}: two entries for {route.id}")
        if route.key in seen:
            raise ValueError(f"{app}: {route.id} is already registered by {seen[route.key]}")
        mine.add(route.key)
    _ROUTES[app] = routes
    return routes


def load_all() -> None:
    """Import every `test_*_matrix.py` module of this package, so their entries are registered."""
    package = Path(__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        if info.name.startswith("test_") and info.name.endswith("_matrix"):
            importlib.import_module(f"{__package__}.{info.name}")


def all_routes() -> list[Route]:
    return [route for entries in _ROUTES.values() for route in entries]


def apps_registered() -> list[str]:
    return sorted(_ROUTES)
