"""Webhooks under faults: a change made while its event is in flight, a receiver outage,
an endpoint disabled mid-batch, a slow batch. Every change reaches the receiver, in the
state it was stored, unless the owner switched the endpoint off."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from customers import services as customer_services
from webhooks import services, worker
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.worker import _claim, _record, _send, deliver_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(organization, receiver):
    return services.endpoint_create(
        organization=organization, url=receiver.url, events=list(EventType.values)
    )


def bodies(receiver, type: str) -> list[dict]:
    return [
        json.loads(r["body"]) for r in receiver.requests if json.loads(r["body"])["type"] == type
    ]


def send_until_idle(now=None):
    while deliver_due(now=now):
        pass


# --- 1. Coalescing never changes an event a worker has claimed ---------------------------


def test_a_change_while_state_changed_is_in_flight_makes_a_new_event(
    organization, endpoint, receiver
):
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    now = datetime.now(UTC)
    claimed = _claim(now, limit=50)  # the worker has the events and is sending them
    customer_services.customer_update(customer=customer, name="Newest name")
    for delivery in claimed:
        _record(delivery.pk, _send(delivery, worker_client(), now), now)
    send_until_idle()

    states = bodies(receiver, "customer.state_changed")
    assert states[-1]["data"]["name"] == "Newest name"
    # What each event says is what was sent under its webhook-id.
    for request in receiver.requests:
        event = WebhookEvent.objects.get(pk=request["headers"]["webhook-id"])
        assert json.loads(request["body"]) == event.document()


def test_an_event_that_was_ever_attempted_is_never_changed(organization, endpoint, receiver):
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    send_until_idle()
    first = WebhookEvent.objects.get(type="customer.state_changed")
    services.delivery_redeliver(delivery=first.deliveries.get())  # pending again, attempts 0
    customer_services.customer_update(customer=customer, name="Later")
    first.refresh_from_db()
    assert first.document()["data"]["name"] is None
    assert WebhookEvent.objects.filter(type="customer.state_changed").count() == 2


def test_unclaimed_changes_still_coalesce(organization, endpoint, receiver):
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    for name in ("One", "Two", "Three"):
        customer = customer_services.customer_update(customer=customer, name=name)
    assert WebhookEvent.objects.filter(type="customer.state_changed").count() == 1
    send_until_idle()
    assert [b["data"]["name"] for b in bodies(receiver, "customer.state_changed")] == ["Three"]


@pytest.mark.django_db(transaction=True)
def test_a_patch_during_a_slow_delivery_reaches_the_receiver(postgres_only, organization, api):
    """The reported case: a receiver slow to answer, a worker sending, a PATCH meanwhile."""
    from tests.webhooks.conftest import Receiver

    sending, release = threading.Event(), threading.Event()
    receiver = Receiver(on_request=lambda: (sending.set(), release.wait(10)))
    try:
        services.endpoint_create(
            organization=organization, url=receiver.url, events=["customer.state_changed"]
        )
        customer = customer_services.customer_create(organization=organization, email="a@x.io")

        def work():
            try:
                deliver_due()
            finally:
                connection.close()

        thread = threading.Thread(target=work)
        thread.start()
        assert sending.wait(10)
        response = api.patch(
            f"/v1/customers/{customer.pk}",
            {"name": "While sending"},
            content_type="application/json",
        )
        assert response.status_code == 200
        receiver.on_request = None
        release.set()
        thread.join()
        send_until_idle()
        assert bodies(receiver, "customer.state_changed")[-1]["data"]["name"] == "While sending"
    finally:
        release.set()
        receiver.close()


# --- 2. Disabling is a judgement over time; waiting events are sent on re-enable ---------


def fail_everything(receiver):
    receiver.statuses = [500] * 10_000


def test_a_burst_of_failures_never_disables_the_endpoint(organization, endpoint, receiver):
    fail_everything(receiver)
    for i in range(30):
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
    send_until_idle()
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert endpoint.consecutive_failures >= 60  # created + state_changed per customer
    assert endpoint.failing_since is not None


def test_it_disables_only_after_failing_for_the_configured_hours(
    organization, endpoint, receiver, settings
):
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 72
    fail_everything(receiver)
    customer_services.customer_create(organization=organization, email="a@x.io")
    start = datetime.now(UTC)
    send_until_idle(now=start)
    for hours in (1, 24, 71):
        customer_services.customer_create(organization=organization, email=f"h{hours}@x.io")
        send_until_idle(now=start + timedelta(hours=hours))
        endpoint.refresh_from_db()
        assert endpoint.enabled, hours
    customer_services.customer_create(organization=organization, email="late@x.io")
    send_until_idle(now=start + timedelta(hours=73))
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_automatically
    assert "every attempt failed for 73 hours" in endpoint.disabled_reason
    assert "last: HTTP 500" in endpoint.disabled_reason


def test_failing_for_long_with_few_attempts_does_not_disable(
    organization, endpoint, receiver, settings
):
    services.endpoint_update(endpoint=endpoint, events=["customer.created"])
    fail_everything(receiver)
    customer_services.customer_create(organization=organization, email="a@x.io")
    start = datetime.now(UTC)
    send_until_idle(now=start)
    send_until_idle(now=start + timedelta(hours=100))  # 2 attempts, 100 hours apart
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_one_success_resets_the_judgement(organization, endpoint, receiver, settings):
    receiver.statuses = [500, 500, 200]
    services.endpoint_update(endpoint=endpoint, events=["customer.created"])
    customer_services.customer_create(organization=organization, email="a@x.io")
    now = datetime.now(UTC)
    for _ in range(3):
        send_until_idle(now=now)
        now += timedelta(hours=1)
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)


def disable_automatically(endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_automatically=True, disabled_reason="Disabled automatically."
    )
    endpoint.refresh_from_db()


def test_an_automatically_disabled_endpoint_keeps_every_change_and_sends_it_in_order(
    organization, endpoint, receiver
):
    disable_automatically(endpoint)
    customers = [
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
        for i in range(5)
    ]
    customer_services.customer_update(customer=customers[0], name="Renamed")
    send_until_idle()
    assert receiver.requests == []  # they wait
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").count() == 11

    services.endpoint_update(endpoint=endpoint, enabled=True)
    send_until_idle()
    sent = [json.loads(r["body"]) for r in receiver.requests]
    created = [b["data"]["email"] for b in sent if b["type"] == "customer.created"]
    assert created == [f"c{i}@x.io" for i in range(5)]
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    in_order = WebhookEvent.objects.order_by("created_at", "id").values_list("id", flat=True)
    assert ids == [str(i) for i in in_order]  # oldest first
    first_state = next(b for b in bodies(receiver, "customer.state_changed"))
    assert first_state["data"]["name"] == "Renamed"


def test_waiting_events_older_than_the_retention_expire_and_can_be_redelivered(
    organization, endpoint, receiver, settings, client, owner
):
    settings.WEBHOOK_RETENTION_DAYS = 30
    disable_automatically(endpoint)
    customer_services.customer_create(organization=organization, email="old@x.io")
    long_ago = datetime.now(UTC) - timedelta(days=31)  # written, and last changed, then
    WebhookEvent.objects.update(created_at=long_ago, modified_at=long_ago)
    customer_services.customer_create(organization=organization, email="new@x.io")

    services.endpoint_update(endpoint=endpoint, enabled=True)
    send_until_idle()
    assert [b["data"]["email"] for b in bodies(receiver, "customer.created")] == ["new@x.io"]
    expired = WebhookDelivery.objects.filter(status="expired")
    assert expired.count() == 2  # old@x.io's created and state_changed

    client.force_login(owner)
    log = reverse("webhooks:endpoint", args=[organization.slug, endpoint.pk])
    page = client.get(log, {"status": "expired"})
    assert page.status_code == 200
    assert list(page.context["page"].rows) == list(expired.order_by("-created_at", "-id"))
    assert "Expired" in page.content.decode()
    delivery = expired.filter(event__type="customer.created").get()
    redeliver = reverse(
        "webhooks:delivery_redeliver", args=[organization.slug, endpoint.pk, delivery.pk]
    )
    client.post(redeliver)
    send_until_idle()
    assert [b["data"]["email"] for b in bodies(receiver, "customer.created")] == [
        "new@x.io",
        "old@x.io",
    ]


def test_an_endpoint_disabled_by_its_owner_records_nothing(organization, endpoint, receiver):
    services.endpoint_update(endpoint=endpoint, enabled=False)
    customer_services.customer_create(organization=organization, email="a@x.io")
    assert not WebhookEvent.objects.exists()
    services.endpoint_update(endpoint=endpoint, enabled=True)
    send_until_idle()
    assert receiver.requests == []


def test_the_disable_button_says_what_it_does_before_confirming(
    organization, endpoint, client, owner
):
    client.force_login(owner)
    html = client.get(reverse("webhooks:endpoints", args=[organization.slug])).content.decode()
    assert "no events are recorded for it" in html
    assert "Disable and stop recording" in html
    client.post(reverse("webhooks:endpoint_disable", args=[organization.slug, endpoint.pk]))
    html = client.get(reverse("webhooks:endpoints", args=[organization.slug])).content.decode()
    assert "Disabled by hand: no events are recorded for it." in html


def test_the_worker_stops_a_batch_when_the_endpoint_gets_disabled(
    organization, endpoint, receiver, settings
):
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 0
    settings.WEBHOOK_DISABLE_MIN_ATTEMPTS = 1
    fail_everything(receiver)
    for i in range(5):
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
    assert deliver_due() == 1
    assert len(receiver.requests) == 1
    endpoint.refresh_from_db()
    assert endpoint.disabled_automatically
    now = datetime.now(UTC)
    waiting = WebhookDelivery.objects.filter(status="pending", attempts=0)
    assert waiting.count() == 9
    assert not waiting.filter(locked_until__gt=now).exists()  # let go, not leased for a minute


def test_the_worker_stops_a_batch_when_the_owner_disables_the_endpoint(
    organization, endpoint, receiver, monkeypatch
):
    for i in range(3):
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
    real_send = worker._send

    def send_then_owner_disables(delivery, client, now):
        sent = real_send(delivery, client, now)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
        return sent

    monkeypatch.setattr(worker, "_send", send_then_owner_disables)
    assert deliver_due() == 1
    assert len(receiver.requests) == 1


# --- 16. The next try is scheduled from the real time of the attempt ---------------------


class FakeClock:
    def __init__(self, start):
        self.now = start

    def datetime(self):
        clock = self

        class Clock(datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.now

        return Clock


def test_a_slow_batch_signs_and_schedules_each_attempt_at_its_own_time(
    organization, endpoint, receiver, monkeypatch
):
    services.endpoint_update(endpoint=endpoint, events=["customer.created"])
    fail_everything(receiver)
    for i in range(3):
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
    clock = FakeClock(datetime.now(UTC))
    start = clock.now
    monkeypatch.setattr(worker, "datetime", clock.datetime())
    real_send = worker._send

    def slow_send(delivery, client, now):
        sent = real_send(delivery, client, now)
        clock.now += timedelta(minutes=5)  # a receiver that hangs
        return sent

    monkeypatch.setattr(worker, "_send", slow_send)
    deliver_due()
    stamps = [int(r["headers"]["webhook-timestamp"]) for r in receiver.requests]
    assert stamps == [int((start + timedelta(minutes=5 * i)).timestamp()) for i in range(3)]
    for i, delivery in enumerate(WebhookDelivery.objects.order_by("created_at")):
        sent_at = start + timedelta(minutes=5 * (i + 1))
        assert sent_at + timedelta(seconds=7) < delivery.next_attempt_at
        assert delivery.next_attempt_at < sent_at + timedelta(seconds=13)


def test_the_log_shows_the_next_try_or_that_the_endpoint_holds_it(
    organization, endpoint, receiver, client, owner
):
    services.endpoint_update(endpoint=endpoint, events=["customer.created"])
    receiver.statuses = [500]
    customer_services.customer_create(organization=organization, email="a@x.io")
    deliver_due()
    delivery = WebhookDelivery.objects.get()
    client.force_login(owner)
    log = reverse("webhooks:endpoint", args=[organization.slug, endpoint.pk])
    html = client.get(log).content.decode()
    assert f'Next try <time datetime="{delivery.next_attempt_at.isoformat()}' in html
    assert delivery.next_attempt_at.strftime("%H:%M:%S") in html
    disable_automatically(endpoint)
    html = client.get(log).content.decode()
    assert "Waits until the endpoint is enabled" in html
    assert "Next try" not in html


def worker_client():
    import httpx

    return httpx.Client(timeout=5)
