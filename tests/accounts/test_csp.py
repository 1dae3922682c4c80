"""The production Content-Security-Policy: 'self' only, no inline scripts; the pages keep to it."""

import re

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from apps.core.permissions import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    parts = (p.strip().split() for p in header.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.fixture(autouse=True)
def _strict_csp():
    with override_settings(CONTENT_SECURITY_POLICY=settings.CONTENT_SECURITY_POLICY_STRICT):
        yield


def _assert_strict(response):
    assert response.status_code == 200
    header = response["Content-Security-Policy"]
    directives = _directives(header)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header
    page = response.content.decode()
    assert not INLINE_SCRIPT.search(page), INLINE_SCRIPT.search(page).group(0)
    assert not EVENT_HANDLER.search(page), EVENT_HANDLER.search(page).group(0)


def test_the_login_page_is_served_under_the_policy(client):
    _assert_strict(client.get(reverse("portal:login")))


def test_the_dashboard_is_served_under_the_policy(client):
    head = f.member(f.department(region=f.region()), Role.HEAD)
    client.force_login(head)
    _assert_strict(client.get(reverse("portal:dashboard")))


def test_the_lockout_page_is_served_under_the_policy(client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("portal:login"), {"username": "csp.user", "password": "wrong-password-0"})
    assert response.status_code == 429
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_api_documentation_loads_its_script_as_a_file(client):
    client.force_login(f.member(f.department(region=f.region()), Role.STAFF))
    response = client.get(reverse("api:docs"))
    _assert_strict(response)
    script = re.search(r'<script src="([^"]+\?script[^"]*)"', response.content.decode())
    assert script, "the Swagger UI set-up script must be a separate request"
    js = client.get(script.group(1).replace("&amp;", "&"))
    assert js.status_code == 200 and js["Content-Type"].startswith("application/javascript")


def test_the_account_pages_and_the_admin_console_are_served_under_the_policy(client, admin):
    from tests.accounts.otp import verified_login

    verified_login(client, admin)
    for url in (
        reverse("portal:account-security"),
        reverse("portal:otp-enrol"),
        reverse("portal:otp-backup-codes"),
        "/admin/",
        reverse("admin:accounts_user_changelist"),
    ):
        _assert_strict(client.get(url))
