"""The inbox (read/unread per department, unread first, muted kinds), the daily digest, and the
wiring of the portal pages and API routes."""

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.core.exceptions import AccessDenied
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications import selectors, services
from apps.notifications.models import Delivery, Notification
from apps.notifications.services import PreferenceInput
from apps.notifications.tasks import digest_send_task
from tests.accounts.otp import verified_login

pytestmark = pytest.mark.django_db


def note(department, key, *, kind="task.issued", role="", at=None):
    services.notify(departments=[department], kind=kind, title=f"Notice {key}", key=key, audience_role=role)
    n = Notification.objects.get(key=f"{key}:{department.pk}")
    if at is not None:
        Notification.objects.filter(pk=n.pk).update(created_at=at)
    return n


# --- read / unread -------------------------------------------------------------------------------


def test_marking_read_is_for_the_whole_department_and_keeps_the_first_reader(scene):
    n = note(scene["department"], "a")
    services.notification_mark_read(actor=scene["staff"], notification=n)
    services.notification_mark_read(actor=scene["head"], notification=n)
    n.refresh_from_db()
    assert n.read_by == scene["staff"] and n.read_at is not None
    assert AuditEvent.objects.filter(action="notification.read", target_id=str(n.pk)).count() == 1
    # the department's other seat sees it read too
    assert selectors.notification_list(user=scene["staff2"]).get(pk=n.pk).read_at == n.read_at


def test_nobody_outside_the_audience_marks_a_notification_read(scene):
    heads_only = note(scene["department"], "h", role=Role.HEAD)
    with pytest.raises(AccessDenied) as hidden:
        services.notification_mark_read(actor=scene["staff"], notification=heads_only)
    assert hidden.value.hidden
    with pytest.raises(AccessDenied):
        services.notification_mark_read(actor=scene["outsider"], notification=heads_only)
    assert Notification.objects.get(pk=heads_only.pk).read_at is None


def test_the_inbox_shows_unread_first_then_newest(scene):
    now = timezone.now()
    old_unread = note(scene["department"], "1", at=now - timedelta(hours=3))
    read = note(scene["department"], "2", at=now - timedelta(hours=1))
    new_unread = note(scene["department"], "3", at=now - timedelta(hours=2))
    services.notification_mark_read(actor=scene["head"], notification=read)
    assert list(selectors.notification_inbox(user=scene["staff"])) == [new_unread, old_unread, read]
    assert selectors.notification_unread_count(user=scene["staff"]) == 2


def test_kinds_switched_off_for_the_inbox_are_left_out_of_it_only(scene):
    a = note(scene["department"], "a", kind="task.issued")
    b = note(scene["department"], "b", kind="clock.reminded")
    staff = scene["staff"]
    services.notification_preferences_set(
        actor=staff, preferences=[PreferenceInput(kind="clock.reminded", in_app=False)]
    )
    assert list(selectors.notification_inbox(user=staff)) == [a]
    services.notification_preferences_set(
        actor=staff,
        preferences=[PreferenceInput(kind="", in_app=False), PreferenceInput(kind="clock.reminded", in_app=True)],
    )
    assert list(selectors.notification_inbox(user=staff)) == [b]
    assert set(selectors.notification_list(user=staff)) == {a, b}  # still reachable by id
    assert set(selectors.notification_inbox(user=scene["head"])) == {a, b}  # one user's choice


# --- the daily digest ----------------------------------------------------------------------------


def yesterday_at(hour):
    day = timezone.localdate() - timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))


def test_the_digest_sends_one_email_per_user_with_the_days_notifications_of_their_digest_kinds(scene, settings):
    settings.LANGUAGE_CODE = "en"  # e-mails are written in the platform's language
    services.notification_preferences_set(actor=scene["staff"], preferences=[PreferenceInput(daily_digest=True)])
    services.notification_preferences_set(
        actor=scene["head"],
        preferences=[PreferenceInput(kind="task.issued", daily_digest=True)],
    )
    note(scene["department"], "y1", kind="task.issued", at=yesterday_at(9))
    note(scene["department"], "y2", kind="clock.reminded", at=yesterday_at(23))
    note(scene["department"], "heads", kind="clock.head", role=Role.HEAD, at=yesterday_at(10))
    note(scene["department"], "today", at=timezone.now())
    note(scene["other"], "elsewhere", at=yesterday_at(9))

    counts = digest_send_task.apply().get()

    assert counts["sent"] == 2
    by_user = {m.to[0]: m for m in mail.outbox}
    assert set(by_user) == {"staff@example.org", "head@example.org"}
    staff_mail = by_user["staff@example.org"].body
    assert "Notice y1" in staff_mail and "Notice y2" in staff_mail
    assert (
        "Notice heads" not in staff_mail and "Notice today" not in staff_mail and "Notice elsewhere" not in staff_mail
    )
    head_mail = by_user["head@example.org"].body
    assert "Notice y1" in head_mail and "Notice y2" not in head_mail and "Notice heads" not in head_mail
    assert "2 notifications" in by_user["staff@example.org"].subject

    # And: a second run the same day sends nothing more
    assert digest_send_task.apply().get()["skipped"] == 2
    assert len(mail.outbox) == 2
    assert Delivery.objects.filter(channel="digest", sent_at__isnull=False).count() == 2


def test_no_digest_without_notifications_or_without_the_option(scene):
    note(scene["department"], "y1", at=yesterday_at(9))
    assert digest_send_task.apply().get()["sent"] == 0  # nobody has the digest on
    services.notification_preferences_set(actor=scene["staff"], preferences=[PreferenceInput(daily_digest=True)])
    Notification.objects.all().delete()
    assert digest_send_task.apply().get()["sent"] == 0
    assert not mail.outbox


# --- wiring --------------------------------------------------------------------------------------


def test_the_inbox_page_marks_read_and_returns_to_the_page(scene, client):
    n = note(scene["department"], "a")
    client.force_login(scene["staff"])
    page = client.get(reverse("portal:notification-list"))
    assert page.status_code == 200 and "Notice a" in page.content.decode()
    answer = client.post(
        reverse("portal:notification-read", kwargs={"pk": n.pk}),
        {"next": reverse("portal:notification-list") + "?unread=true"},
    )
    assert answer.status_code == 302 and answer["Location"].endswith("?unread=true")
    answer = client.post(reverse("portal:notification-read", kwargs={"pk": n.pk}), {"next": "https://evil.example/"})
    assert answer["Location"] == reverse("portal:notification-list")  # no open redirect
    assert client.get(reverse("portal:notification-list"), {"unread": "true"}).context["paginator"].count == 0


def test_the_preferences_page_lists_every_kind_received_and_saves(scene, client):
    note(scene["department"], "a", kind="task.issued")
    client.force_login(scene["staff"])
    page = client.get(reverse("portal:notification-preferences"))
    kinds = [form.initial["kind"] for form in page.context["formset"]]
    assert kinds == ["", "task.issued"]
    data = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-0-kind": "",
        "form-0-in_app": "on",
        "form-0-email": "on",
        "form-1-kind": "task.issued",
        "form-1-in_app": "on",
        "form-1-daily_digest": "on",
    }
    assert client.post(reverse("portal:notification-preferences"), data).status_code == 302
    choices = {p.kind: (p.in_app, p.email, p.daily_digest) for p in selectors.preference_list(user=scene["staff"])}
    assert choices == {"": (True, True, False), "task.issued": (True, False, True)}


def test_the_api_lists_marks_read_and_sets_preferences(scene, api_client):
    n = note(scene["department"], "a")
    api_client.force_login(scene["staff"])
    rows = api_client.get(reverse("api:notification-list"), {"unread": "true"}).json()["results"]
    assert [r["id"] for r in rows] == [n.pk]
    read = api_client.post(reverse("api:notification-read", kwargs={"pk": n.pk})).json()
    assert read["read_by"] == scene["staff"].username and read["read_at"]
    saved = api_client.post(reverse("api:notification-preference-list"), {"kind": "task.issued", "email": False})
    assert saved.status_code == 200 and saved.json()["email"] is False
    assert api_client.post(reverse("api:notification-preference-list"), {"kind": "No Such Kind"}).status_code == 400
    assert [p["kind"] for p in api_client.get(reverse("api:notification-preference-list")).json()] == ["task.issued"]


def test_the_api_registers_an_endpoint_once_showing_its_secret(scene, api_client):
    api_client.force_login(scene["head"])
    created = api_client.post(
        reverse("api:notification-webhook-endpoint-list"),
        {
            "department": scene["department"].pk,
            "name": "Board",
            "url": "https://hooks.example.org/in",
            "kinds": ["task.*"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"] and body["kinds"] == ["task.*"]
    detail = api_client.get(reverse("api:notification-webhook-endpoint-detail", kwargs={"pk": body["id"]})).json()
    assert "secret" not in detail
    bad = api_client.patch(
        reverse("api:notification-webhook-endpoint-detail", kwargs={"pk": body["id"]}), {"url": "ftp://x"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["fields"].get("url")


@pytest.mark.parametrize(
    "name",
    [
        "admin:notifications_notification_changelist",
        "admin:notifications_webhookendpoint_changelist",
        "admin:notifications_outboxmessage_changelist",
        "admin:notifications_delivery_changelist",
        "admin:notifications_webhookdelivery_changelist",
    ],
)
def test_the_admin_console_shows_the_records_read_only(scene, client, admin, name):
    note(scene["department"], "a")
    services.notification_deliver(notification_id=Notification.objects.get().pk)
    verified_login(client, admin)  # the console needs a second factor
    assert client.get(reverse(name)).status_code == 200
    assert client.get(reverse(name.replace("_changelist", "_add"))).status_code == 403
