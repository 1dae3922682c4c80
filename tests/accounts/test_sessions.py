"""Session limits: 30 minutes without activity, 12 hours after login whatever the activity.
Both are enforced server-side and recorded as `auth.session_expired` ledger events."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from tests import factories as f

pytestmark = pytest.mark.django_db

DASHBOARD = "portal:dashboard"


@pytest.fixture
def person():
    return f.member(f.department(region=f.region()), Role.STAFF, username="session.user")


def _login(client, user):
    response = client.post(reverse("portal:login"), {"username": user.username, "password": f.PASSWORD})
    assert response.status_code == 302
    return response


def _page(client, **headers):
    return client.get(reverse(DASHBOARD), **headers)


def _logged_in(response) -> bool:
    return response.status_code == 200


def _expired(reason=None):
    events = AuditEvent.objects.filter(action="auth.session_expired")
    return events.filter(after__reason=reason) if reason else events


def test_the_limits_are_the_documented_ones():
    assert settings.AUTH_SESSION_IDLE_SECONDS == 30 * 60
    assert settings.AUTH_SESSION_MAX_SECONDS == 12 * 60 * 60
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_activity_keeps_the_session_alive_past_the_idle_limit(client, person):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _login(client, person)
        for _ in range(4):  # 4 × 29 minutes: two hours of work, never 30 minutes idle
            traveller.shift(timedelta(minutes=29))
            assert _logged_in(_page(client))
    assert not _expired().exists()


def test_thirty_minutes_without_activity_end_the_session_with_a_message_and_a_ledger_event(client, person):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _login(client, person)
        traveller.shift(timedelta(minutes=10))
        assert _logged_in(_page(client))
        traveller.shift(timedelta(minutes=31))
        response = _page(client, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))
        login_page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
        assert "30 minutes without activity" in login_page.content.decode()
        assert "_auth_user_id" not in client.session
        # the old session is gone for good, not only for this request
        assert not _logged_in(_page(client))
    event = _expired("idle").get()
    assert (event.actor_id, event.target_id) == (person.pk, str(person.pk))


def test_the_api_refuses_an_idle_session_too(client, person):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _login(client, person)
        assert client.get("/api/v1/me/").status_code == 200
        traveller.shift(timedelta(minutes=31))
        assert client.get("/api/v1/me/").status_code in (401, 403)
    assert _expired("idle").count() == 1


def test_htmx_polls_are_not_activity(client, person):
    live = reverse("portal:dashboard-live")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _login(client, person)
        for _ in range(6):  # an unattended screen polling for 30 minutes
            traveller.shift(timedelta(minutes=5))
            client.get(live, HTTP_HX_REQUEST="true")
        traveller.shift(timedelta(minutes=1))
        poll = client.get(live, HTTP_HX_REQUEST="true")
        assert poll.status_code == 204 and poll["HX-Redirect"].startswith(reverse("portal:login"))
    assert _expired("idle").count() == 1


def test_twelve_hours_after_login_the_session_ends_however_busy(client, person):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _login(client, person)
        for _ in range(12 * 3):  # a request every 20 minutes for 12 hours
            traveller.shift(timedelta(minutes=20))
            assert _logged_in(_page(client))
        traveller.shift(timedelta(minutes=1))
        response = _page(client, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 302
        assert "limit of 12 hours" in client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
        # logging in again starts a new 12 hours
        _login(client, person)
        traveller.shift(timedelta(minutes=20))
        assert _logged_in(_page(client))
    assert _expired("absolute").count() == 1 and not _expired("idle").exists()


def test_activity_is_written_to_the_session_at_most_once_a_minute(client, person):
    from apps.accounts.middleware import SEEN_KEY

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _login(client, person)
        first = client.session[SEEN_KEY]
        traveller.shift(timedelta(seconds=30))
        _page(client)
        assert client.session[SEEN_KEY] == first
        traveller.shift(timedelta(seconds=31))
        _page(client)
        assert client.session[SEEN_KEY] > first
