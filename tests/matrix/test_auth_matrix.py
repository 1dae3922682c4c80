"""Permission matrix for the caller's own account-security pages (/account/…).

These pages read and write only the caller's own second factor, so there is no target object and
no scope: anonymous users go to the login page, every authenticated state gets the same answer.
The matrix users log in with a password session (no authenticator), so:
- the security overview and the enrol page answer 200; a wrong code on the enrol form is a 400
  that creates no authenticator;
- the backup-code page sends an unverified session to the verify page (GET and POST alike), and
  creates no codes;
- the verify page sends someone without an authenticator on to enrol one.

It also holds the API's key rotation (`api:integration-key-rotate`): like revoking, only heads of
the key's own department rotate it; those who cannot see it get 404, and nothing changes.
"""

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import IntegrationKey
from apps.accounts.services import integration_key_create
from apps.core.permissions import Role
from tests.matrix.harness import (
    AUTHENTICATED,
    TO_LOGIN,
    Expect,
    Route,
    State,
    action,
    cases,
    check,
    listing,
    world_object,
)
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State


def _everyone(expect: Expect) -> dict:
    return {S.ANONYMOUS: TO_LOGIN} | {state: expect for state in AUTHENTICATED if state is not S.LOWER_ROLE}


def _redirects_to(name: str):
    def check_extra(world, state, user, response):
        if state is not S.ANONYMOUS:
            assert response["Location"].startswith(reverse(name)), response["Location"]

    return check_extra


@world_object("rotatable_key")
def _rotatable_key(w):
    key, _secret = integration_key_create(actor=w.admin, department=w.department, name="Rotate-Key")
    return key


def _key_hash(w):
    return IntegrationKey.objects.get(pk=w.rotatable_key.pk).key_hash


def _devices(world) -> tuple[int, int]:
    return TOTPDevice.objects.count(), StaticToken.objects.count()


ROUTES = register(
    "accounts",
    [
        listing("portal:account-security"),
        listing("portal:otp-enrol"),
        Route(
            "portal:otp-enrol",
            "post",
            _everyone(Expect(400)),
            role=Role.STAFF,
            data=lambda w: {"token": "not-a-code"},
            probe=_devices,
            note="a wrong code is a form error and creates no authenticator",
            refusal_events=frozenset({"otp.verify_failed"}),
            events_note="a wrong code is a failed authentication: recorded like a failed login",
        ),
        Route(
            "portal:otp-backup-codes",
            "get",
            _everyone(Expect(302)),
            role=Role.STAFF,
            check_extra=_redirects_to("portal:otp-verify"),
            note="needs a verified session: sent to the verify page",
        ),
        Route(
            "portal:otp-backup-codes",
            "post",
            _everyone(Expect(302)),
            role=Role.STAFF,
            check_extra=lambda w, state, user, response: (
                _redirects_to("portal:otp-verify")(w, state, user, response),
                _assert_no_codes(),
            ),
            note="needs a verified session: sent to the verify page, no codes created",
            events=0,
            events_note="the redirect is a refusal (unverified session): nothing is written",
        ),
        Route(
            "portal:otp-verify",
            "get",
            _everyone(Expect(302)),
            role=Role.STAFF,
            check_extra=_redirects_to("portal:otp-enrol"),
            note="without an authenticator there is nothing to verify with: sent to enrol",
        ),
        Route(
            "portal:otp-verify",
            "post",
            _everyone(Expect(302)),
            role=Role.STAFF,
            data=lambda w: {"token": "123456"},
            check_extra=_redirects_to("portal:otp-enrol"),
            note="without an authenticator there is nothing to verify with: sent to enrol",
            events=0,
            events_note="the redirect is a refusal (no authenticator to verify with): nothing is written",
        ),
        action(
            "api:integration-key-rotate",
            "post",
            target="rotatable_key",
            visible_to={S.IN_SCOPE},
            probe=_key_hash,
        ),
    ],
)


def _assert_no_codes():
    assert not StaticToken.objects.exists()


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
