"""Webhooks: signed payloads, retries with backoff, every attempt stored, once per endpoint."""

import json
import time

import pytest

from apps.core.exceptions import AccessDenied, ServiceError
from apps.ledger.models import AuditEvent
from apps.notifications import services, webhooks
from apps.notifications.models import Delivery, OutboxMessage, WebhookDelivery, WebhookEndpoint
from apps.notifications.tasks import deliver_webhook_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quick(settings):
    settings.NOTIFICATIONS_WEBHOOK_TIMEOUT = 3


def endpoint_for(scene, url, **kwargs):
    return services.webhook_endpoint_create(
        actor=scene["head"], department=scene["department"], name="Dispatch board", url=url, **kwargs
    )


def notify(scene, kind="task.issued", key="k"):
    services.notify(departments=[scene["department"]], kind=kind, title="New task: sandbags", key=key)
    return scene["department"].notifications.get(key=f"{key}:{scene['department'].pk}")


# --- the signature -------------------------------------------------------------------------------


def test_a_signature_verifies_only_for_the_same_secret_body_and_a_fresh_timestamp():
    body = webhooks.canonical_body({"kind": "task.issued", "title": "沙袋"})
    now = time.time()
    ts = str(int(now))
    signature = webhooks.sign(secret="s3cret", timestamp=ts, body=body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhooks.verify(secret="s3cret", timestamp=ts, body=body, signature=signature, now=now)
    assert not webhooks.verify(secret="other", timestamp=ts, body=body, signature=signature, now=now)
    assert not webhooks.verify(secret="s3cret", timestamp=ts, body=body + b" ", signature=signature, now=now)
    # the timestamp is signed: moving it breaks the signature; an old one is a replay
    assert not webhooks.verify(secret="s3cret", timestamp=str(int(now) + 1), body=body, signature=signature, now=now)
    assert not webhooks.verify(secret="s3cret", timestamp=ts, body=body, signature=signature, now=now + 301)
    assert not webhooks.verify(secret="s3cret", timestamp="soon", body=body, signature=signature, now=now)


def test_the_body_is_canonical_json():
    assert webhooks.canonical_body({"b": 1, "a": "应急"}) == '{"a":"应急","b":1}'.encode()


# --- delivering ----------------------------------------------------------------------------------


def test_a_delivery_is_signed_with_the_endpoint_secret_and_names_its_delivery_id(scene, receiver):
    endpoint = endpoint_for(scene, receiver.url)
    notification = notify(scene)

    assert deliver_webhook_task.apply(args=[notification.pk, endpoint.pk]).get() == "sent"

    [request] = receiver.requests
    headers = request["headers"]
    assert webhooks.verify(
        secret=endpoint.secret,
        timestamp=headers["X-Signature-Timestamp"],
        body=request["body"],
        signature=headers["X-Signature"],
    )
    payload = json.loads(request["body"])
    assert payload["id"] == headers["X-Delivery-Id"] == f"webhook:{notification.pk}:endpoint:{endpoint.pk}"
    assert payload["kind"] == headers["X-Notification-Kind"] == "task.issued"
    assert payload["title"] == "New task: sandbags"
    assert payload["department"] == {"id": scene["department"].pk, "name": "Notify-Department"}
    [attempt] = WebhookDelivery.objects.all()
    assert (attempt.attempt, attempt.status_code, attempt.succeeded) == (1, 200, True)


def test_a_500_is_retried_with_backoff_until_it_succeeds_and_every_attempt_is_stored(scene, receiver, eager_retries):
    receiver.statuses = [500, 503]
    endpoint = endpoint_for(scene, receiver.url)
    notification = notify(scene)

    result = deliver_webhook_task.apply(args=[notification.pk, endpoint.pk])

    assert result.get() == "sent"
    assert eager_retries == [10, 20]  # seconds: doubling from NOTIFICATIONS_WEBHOOK_BACKOFF_SECONDS
    attempts = list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "status_code", "succeeded"))
    assert attempts == [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert len(receiver.requests) == 3
    assert len({r["headers"]["X-Delivery-Id"] for r in receiver.requests}) == 1  # one delivery, three tries
    delivery = Delivery.objects.get(key=f"webhook:{notification.pk}:endpoint:{endpoint.pk}")
    assert delivery.attempts == 3 and delivery.sent_at is not None


def test_after_the_last_retry_the_delivery_gives_up_and_the_job_is_closed(scene, receiver, eager_retries, settings):
    settings.NOTIFICATIONS_WEBHOOK_MAX_RETRIES = 2
    receiver.statuses = [500] * 10
    endpoint = endpoint_for(scene, receiver.url)
    notification = notify(scene)
    services.notification_deliver(notification_id=notification.pk)  # queues the webhook job in the outbox

    assert deliver_webhook_task.apply(args=[notification.pk, endpoint.pk]).get() == "gave_up"
    assert eager_retries == [10, 20]
    assert WebhookDelivery.objects.filter(succeeded=False).count() == 3
    assert OutboxMessage.objects.get(key=f"webhook:{notification.pk}:{endpoint.pk}").completed_at is not None


def test_backoff_doubles_and_is_capped(settings):
    settings.NOTIFICATIONS_WEBHOOK_BACKOFF_SECONDS = 10
    settings.NOTIFICATIONS_WEBHOOK_BACKOFF_MAX_SECONDS = 60
    assert [services.webhook_backoff(n) for n in range(5)] == [10, 20, 40, 60, 60]


@pytest.mark.parametrize(
    ("status", "outcome", "tries"), [(400, "gave_up", 1), (410, "gave_up", 1), (302, "gave_up", 1)]
)
def test_a_refusal_or_a_redirect_is_not_retried(scene, receiver, eager_retries, status, outcome, tries):
    receiver.statuses = [status]
    endpoint = endpoint_for(scene, receiver.url)
    notification = notify(scene)
    assert deliver_webhook_task.apply(args=[notification.pk, endpoint.pk]).get() == outcome
    assert len(receiver.requests) == tries  # a redirect is not followed to its Location
    assert WebhookDelivery.objects.get().status_code == status


def test_an_unreachable_endpoint_is_an_attempt_with_an_error(scene, eager_retries, settings):
    settings.NOTIFICATIONS_WEBHOOK_MAX_RETRIES = 1
    endpoint = endpoint_for(scene, "http://127.0.0.1:9/nothing-listens")
    notification = notify(scene)
    assert deliver_webhook_task.apply(args=[notification.pk, endpoint.pk]).get() == "gave_up"
    attempts = list(WebhookDelivery.objects.order_by("attempt"))
    assert [a.status_code for a in attempts] == [None, None]
    assert all("URLError" in a.error for a in attempts)


def test_the_job_run_twice_posts_once(scene, receiver):
    endpoint = endpoint_for(scene, receiver.url)
    notification = notify(scene)
    assert deliver_webhook_task.apply(args=[notification.pk, endpoint.pk]).get() == "sent"
    assert deliver_webhook_task.apply(args=[notification.pk, endpoint.pk]).get() == "skipped"
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.count() == 1


def test_the_relay_carries_a_notification_to_the_endpoints_that_take_its_kind(scene, receiver):
    takes_tasks = endpoint_for(scene, receiver.url, kinds=["task.*"])
    endpoint_for(scene, receiver.url + "?clocks", kinds=["clock.reminded"])
    inactive = endpoint_for(scene, receiver.url + "?off")
    services.webhook_endpoint_deactivate(actor=scene["head"], endpoint=inactive)
    notification = notify(scene, kind="task.issued")

    services.outbox_relay()  # delivers the notification (eagerly), which queues one webhook job
    assert list(OutboxMessage.objects.filter(key__startswith="webhook:").values_list("key", flat=True)) == [
        f"webhook:{notification.pk}:{takes_tasks.pk}"
    ]
    services.outbox_relay()  # publishes the webhook job
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    assert not OutboxMessage.objects.filter(completed_at__isnull=True).exists()


def test_a_deactivated_endpoint_receives_nothing_more(scene, receiver):
    endpoint = endpoint_for(scene, receiver.url)
    notification = notify(scene)
    services.webhook_endpoint_deactivate(actor=scene["head"], endpoint=endpoint)
    assert deliver_webhook_task.apply(args=[notification.pk, endpoint.pk]).get() == "gave_up"
    assert not receiver.requests


# --- managing endpoints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "127.0.0.1:8000/hook",
        "http://user:pw@hooks.example.org/in",
        "https://" + "a" * 500 + ".org/",
    ],
)
def test_only_http_and_https_urls_without_credentials_are_accepted(scene, url):
    with pytest.raises(ServiceError) as err:
        endpoint_for(scene, url)
    assert err.value.field == "url"


def test_heads_manage_the_endpoints_of_their_department_and_the_ledger_records_it(scene):
    endpoint = endpoint_for(scene, "https://hooks.example.org/in", kinds=["task.*", "clock.head"])
    assert endpoint.kinds == ["clock.head", "task.*"] and len(endpoint.secret) >= 40
    with pytest.raises(AccessDenied):  # staff of the department: not a head
        endpoint_for({**scene, "head": scene["staff"]}, "https://hooks.example.org/in")
    with pytest.raises(AccessDenied):  # a head elsewhere
        services.webhook_endpoint_update(actor=scene["outsider"], endpoint=endpoint, is_active=False)
    services.webhook_endpoint_update(actor=scene["head"], endpoint=endpoint, url="https://hooks.example.org/v2")
    services.webhook_endpoint_deactivate(actor=scene["head"], endpoint=endpoint)
    with pytest.raises(ServiceError):
        services.webhook_endpoint_deactivate(actor=scene["head"], endpoint=endpoint)
    actions = list(
        AuditEvent.objects.filter(target_type="notifications.webhookendpoint")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["webhook_endpoint.create", "webhook_endpoint.update", "webhook_endpoint.deactivate"]
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.org/v2"


@pytest.mark.parametrize("kind", ["Task", "task..issued", "*", "task.*.x", "a" * 61])
def test_malformed_kinds_are_refused(scene, kind):
    with pytest.raises(ServiceError) as err:
        endpoint_for(scene, "https://hooks.example.org/in", kinds=[kind])
    assert err.value.field == "kinds"
