"""Brute-force lockout (django-axes): by username AND address together, a translated 429 page,
one `auth.lockout` ledger event per lockout and one `auth.login_failed` per failed attempt."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.accounts.lockout import client_ip
from apps.ledger.models import AuditEvent
from apps.ledger.selectors import ledger_verify
from tests import factories as f

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
A, B = "10.1.0.1", "10.1.0.2"


def _login(client, username, password, ip=A, url="portal:login", **extra):
    return client.post(reverse(url), {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _fail(client, username, times, ip=A, url="portal:login"):
    return [_login(client, username, "wrong-password-0", ip=ip, url=url) for _ in range(times)]


def _count(action):
    return AuditEvent.objects.filter(action=action).count()


def test_the_limit_and_cool_off_are_the_documented_ones():
    assert LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_failures_below_the_limit_show_the_form_again_and_the_right_password_still_works(client):
    f.UserFactory(username="wang.fang")
    responses = _fail(client, "wang.fang", LIMIT - 1)
    assert [r.status_code for r in responses] == [200] * (LIMIT - 1)
    assert _login(client, "wang.fang", f.PASSWORD).status_code == 302
    assert _count("auth.lockout") == 0


def test_the_fifth_failure_locks_out_that_username_from_that_address_with_a_translated_429(client):
    user = f.UserFactory(username="zhao.lei")
    *_, fifth = _fail(client, "zhao.lei", LIMIT)
    assert fifth.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in fifth.templates]
    # the right password no longer helps from this address
    locked = _login(client, "zhao.lei", f.PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "Too many failed logins" in body and "15 minutes" in body
    assert "Traceback" not in body and "AxesBackend" not in body
    assert "_auth_user_id" not in client.session
    # one event per failed attempt (the refused right password included), one lockout event
    assert _count("auth.login_failed") == LIMIT + 1
    assert _count("auth.login") == 0
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.actor_id is None
    assert (lockout.target_type, lockout.target_id) == ("accounts.user", str(user.pk))
    assert lockout.after == {"username": "zhao.lei", "ip_address": A, "failures": LIMIT, "cooloff_minutes": 15}
    assert ledger_verify().ok


def test_further_failures_while_locked_are_failures_not_new_lockouts(client):
    f.UserFactory(username="sun.li")
    _fail(client, "sun.li", LIMIT + 3)
    assert _count("auth.lockout") == 1
    assert _count("auth.login_failed") == LIMIT + 3


def test_the_same_username_from_another_address_and_another_username_from_this_address_still_log_in(client):
    f.UserFactory(username="chen.jing")
    f.UserFactory(username="liu.yang")
    _fail(client, "chen.jing", LIMIT, ip=A)
    assert _login(client, "chen.jing", f.PASSWORD, ip=B).status_code == 302
    client.logout()
    assert _login(client, "liu.yang", f.PASSWORD, ip=A).status_code == 302


def test_an_unknown_username_is_locked_out_the_same_way_without_a_target(client):
    *_, last = _fail(client, "nobody.here", LIMIT)
    assert last.status_code == 429
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.target_id == "" and lockout.after["username"] == "nobody.here"


def test_the_lock_lifts_after_the_cool_off_and_a_new_lockout_is_recorded_again(client):
    f.UserFactory(username="zhou.min")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _fail(client, "zhou.min", LIMIT)
        traveller.shift(timedelta(minutes=14))
        assert _login(client, "zhou.min", f.PASSWORD).status_code == 429
        traveller.shift(timedelta(minutes=16))  # 16 minutes after the last failed attempt
        assert _login(client, "zhou.min", f.PASSWORD).status_code == 302
        client.logout()
        _fail(client, "zhou.min", LIMIT)
    assert _count("auth.lockout") == 2


def test_the_admin_console_login_is_locked_out_too(client):
    f.UserFactory(username="admin.guess", is_staff=True)
    *_, last = _fail(client, "admin.guess", LIMIT, url="admin:login")
    assert last.status_code == 429
    assert _count("auth.lockout") == 1
    assert _login(client, "admin.guess", f.PASSWORD, url="admin:login").status_code == 429


def test_integration_keys_are_not_passwords_and_never_lock_anyone_out(api_client):
    for _ in range(LIMIT + 1):
        response = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Key abc.def", REMOTE_ADDR=A)
        assert response.status_code == 401
    assert _count("auth.lockout") == 0


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "192.0.2.9"),  # no trusted proxy: the header is the client's word, ignored
        (1, "1.1.1.1, 203.0.113.5", "203.0.113.5"),  # the proxy appended the real peer on the right
        (2, "1.1.1.1, 203.0.113.5, 10.0.0.3", "203.0.113.5"),
        (2, "203.0.113.5", "192.0.2.9"),  # fewer entries than proxies: fall back to the peer
    ],
)
def test_the_client_address_only_trusts_the_configured_proxies(proxies, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(AUTH_TRUSTED_PROXY_COUNT=proxies):
        assert client_ip(request) == expected
