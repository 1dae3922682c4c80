"""Permission matrix for the notification routes (API and portal).

The world's notification goes to the target department for everyone in it (no audience role), so
its seats see it: IN_SCOPE (a head) and LOWER_ROLE (staff); nobody else does, not even a department
with a grant on the department (notifications are not granted). Webhook endpoints are for the heads
of their department only. Preferences are the caller's own: every signed-in user has a page, and
nobody sees another user's rows.
"""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications import services
from apps.notifications.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint
from tests.matrix.harness import (
    AUTHENTICATED,
    GHOST_ID,
    HIDDEN,
    State,
    action,
    cases,
    check,
    detail,
    listing,
    states_for,
    world_object,
)
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

NOTIFICATION_READERS = {S.IN_SCOPE, S.LOWER_ROLE}  # the department's own seats (head and staff)
ENDPOINT_VIEWERS = {S.IN_SCOPE}  # heads of the endpoint's department
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}
FOREIGN_KIND = "matrix.someone_elses_kind"


# --- targets ---------------------------------------------------------------------------------


@world_object("notification")
def _notification(w):
    services.notify(
        departments=[w.department], kind="matrix.ping", title="Matrix-Notification-Title", key="matrix:ping"
    )
    return Notification.objects.get(key=f"matrix:ping:{w.department.pk}")


@world_object("webhook_endpoint")
def _webhook_endpoint(w):
    return services.webhook_endpoint_create(
        actor=w.admin, department=w.department, name="Matrix-Endpoint", url="http://127.0.0.1:9/matrix-hook"
    )


@world_object("webhook_delivery")
def _webhook_delivery(w):
    return WebhookDelivery.objects.create(
        endpoint=w.webhook_endpoint, notification=w.notification, attempt=1, status_code=500, error="HTTP 500"
    )


@world_object("foreign_preference")
def _foreign_preference(w):
    """Another user's preference: no page or list may show it."""
    return NotificationPreference.objects.create(user=w.admin, kind=FOREIGN_KIND, email=False)


# --- probes ----------------------------------------------------------------------------------


def notification_read(w):
    return Notification.objects.get(pk=w.notification.pk).read_at is not None


def endpoint_active(w):
    return WebhookEndpoint.objects.get(pk=w.webhook_endpoint.pk).is_active


def department_endpoints(w):
    return WebhookEndpoint.objects.filter(department=w.department).count()


def email_off_preferences(w):
    return NotificationPreference.objects.filter(email=False).count()


PREFERENCES_FORM = {
    "form-TOTAL_FORMS": "1",
    "form-INITIAL_FORMS": "1",
    "form-MIN_NUM_FORMS": "0",
    "form-MAX_NUM_FORMS": "300",
    "form-0-kind": "",
    "form-0-in_app": "on",  # e-mail left unticked: off
}


# --- the deliveries of one endpoint (/notifications/webhook-endpoints/{id}/deliveries/) ----------


def endpoint_refusal(world, state, user, response):
    """A 404 is the hidden endpoint: recorded, and answered exactly like a nonexistent one."""
    if user is None or response.status_code != 404:
        return
    where = f"deliveries as {state.value}"
    assert AuditEvent.objects.filter(
        actor=user,
        action="access.denied",
        target_type="notifications.webhookendpoint",
        target_id=str(world.webhook_endpoint.pk),
    ).exists(), f"{where}: the hidden endpoint was not recorded in the ledger"
    client = APIClient()
    client.force_login(user)
    ghost = client.get(reverse("api:notification-webhook-endpoint-deliveries", kwargs={"pk": GHOST_ID}))
    assert ghost.status_code == 404, f"{where}: a nonexistent endpoint answers {ghost.status_code}"
    strip = lambda r: {k: v for k, v in r.json()["error"].items() if k != "request_id"}  # noqa: E731
    assert strip(ghost) == strip(response), f"{where}: hidden and nonexistent endpoints answer differently"


ROUTES = register(
    "notifications",
    [
        # --- API: the inbox
        listing("api:notification-list", role=Role.HEAD, target="notification", visible_to=NOTIFICATION_READERS),
        detail("api:notification-detail", role=Role.HEAD, target="notification", visible_to=NOTIFICATION_READERS),
        action(
            "api:notification-read",
            "post",
            target="notification",
            visible_to=NOTIFICATION_READERS,
            allowed_to=NOTIFICATION_READERS,
            probe=notification_read,
        ),
        # --- API: the caller's preferences
        listing(
            "api:notification-preference-list",
            marker=lambda w: w.foreign_preference.kind,
            visible_to=(),
            note="only the caller's own rows; another user's kind never shows",
        ),
        action(
            "api:notification-preference-list",
            "post",
            role=Role.STAFF,
            target=None,
            on_object=False,
            visible_to=AUTHENTICATED,
            allowed_to=AUTHENTICATED,
            data=lambda w: {"kind": "", "email": False},
            probe=email_off_preferences,
            note="everyone signed in sets their own preferences",
        ),
        # --- API: webhook endpoints (heads of the department)
        listing(
            "api:notification-webhook-endpoint-list",
            role=Role.HEAD,
            target="webhook_endpoint",
            visible_to=ENDPOINT_VIEWERS,
        ),
        detail(
            "api:notification-webhook-endpoint-detail",
            role=Role.HEAD,
            target="webhook_endpoint",
            visible_to=ENDPOINT_VIEWERS,
        ),
        action(
            # The department comes in the body: seeing it but not heading it is 403, not seeing it 404.
            "api:notification-webhook-endpoint-list",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {"department": w.department.pk, "name": "New-Hook", "url": "https://hooks.example.org/in"},
            probe=department_endpoints,
            denial_target=lambda w: w.department,
        ),
        action(
            "api:notification-webhook-endpoint-detail",
            "patch",
            target="webhook_endpoint",
            visible_to=ENDPOINT_VIEWERS,
            data=lambda w: {"is_active": False},
            probe=endpoint_active,
        ),
        listing(
            "api:notification-webhook-endpoint-deliveries",
            role=Role.HEAD,
            target="webhook_delivery",
            visible_to=ENDPOINT_VIEWERS,
            kwargs=lambda w: {"pk": w.webhook_endpoint.pk},
            overrides={s: HIDDEN for s in states_for(Role.HEAD) if s is not S.ANONYMOUS and s not in ENDPOINT_VIEWERS},
            check_extra=endpoint_refusal,
            note="a list under one endpoint: 404 for whoever cannot see the endpoint",
        ),
        # --- portal: the inbox
        listing(
            "portal:notification-list",
            role=Role.HEAD,
            marker=lambda w: w.notification.title,
            visible_to=NOTIFICATION_READERS,
        ),
        action(
            "portal:notification-read",
            "post",
            target="notification",
            visible_to=NOTIFICATION_READERS,
            allowed_to=NOTIFICATION_READERS,
            success=302,
            probe=notification_read,
        ),
        # --- portal: preferences
        listing(
            "portal:notification-preferences",
            marker=lambda w: w.foreign_preference.kind,
            visible_to=(),
            note="only the caller's own rows and kinds; another user's kind never shows",
        ),
        action(
            "portal:notification-preferences",
            "post",
            role=Role.STAFF,
            target=None,
            on_object=False,
            visible_to=AUTHENTICATED,
            allowed_to=AUTHENTICATED,
            success=302,
            data=lambda w: PREFERENCES_FORM,
            probe=email_off_preferences,
            note="everyone signed in sets their own preferences",
        ),
        # --- portal: webhook endpoints
        listing(
            "portal:notification-webhook-list",
            role=Role.HEAD,
            marker=lambda w: w.webhook_endpoint.url,
            visible_to=ENDPOINT_VIEWERS,
        ),
        listing(
            "portal:notification-webhook-create",
            role=Role.HEAD,
            marker=lambda w: w.department.name,
            visible_to={S.IN_SCOPE},
            note="the department select offers only the departments the caller heads",
        ),
        action(
            "portal:notification-webhook-create",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            success=302,
            data=lambda w: {"department": w.department.pk, "name": "New-Hook", "url": "https://hooks.example.org/in"},
            probe=department_endpoints,
            denial_target=lambda w: w.department,
        ),
        detail(
            "portal:notification-webhook-detail",
            role=Role.HEAD,
            target="webhook_endpoint",
            visible_to=ENDPOINT_VIEWERS,
            marker=lambda w: w.webhook_endpoint.secret,
            shows_marker_to=ENDPOINT_VIEWERS,
        ),
        action(
            "portal:notification-webhook-deactivate",
            "post",
            target="webhook_endpoint",
            visible_to=ENDPOINT_VIEWERS,
            success=302,
            probe=endpoint_active,
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
