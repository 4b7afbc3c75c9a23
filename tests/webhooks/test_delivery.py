"""Webhooks end to end: real changes, a real receiver on loopback, signatures checked by
the official polar-sdk verifier, and the failure paths."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from polar.v2026_10.webhooks import validate_event

from checkouts import services as checkout_services
from customers import services as customer_services
from orders import services as order_services
from tests.factories import ProductFactory
from webhooks import services
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEvent
from webhooks.worker import LEASE, MAX_ATTEMPTS, deliver_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(organization, receiver):
    return services.endpoint_create(
        organization=organization, url=receiver.url, events=list(EventType.values)
    )


def later(seconds=0, **delta):
    return datetime.now(UTC) + timedelta(seconds=seconds, **delta)


def test_every_event_type_arrives_signed_and_parses_with_the_official_verifier(
    organization, endpoint, receiver
):
    product = ProductFactory(organization=organization, recurring_interval="month")
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    customer_services.customer_set_metadata_key(customer=customer, key="plan", value="pro")
    checkout = checkout_services.checkout_create(
        organization=organization, product=product, customer_email="b@x.io"
    )
    checkout_services.checkout_update(checkout=checkout, customer_name="Bea")
    done = checkout_services.checkout_confirm(checkout=checkout, payment_token="tok_test_success")
    order_services.subscription_cancel(subscription=done.subscription)
    order_services.subscription_uncancel(subscription=done.subscription)
    order_services.subscription_revoke(subscription=done.subscription)
    customer_services.customer_delete(customer=customer)

    while deliver_due():
        pass

    parsed = [validate_event(r["body"], r["headers"], endpoint.secret) for r in receiver.requests]
    assert {p.type for p in parsed} == set(EventType.values)
    updated = next(p for p in parsed if p.type == "customer.updated")
    assert updated.data.metadata == {"plan": "pro"}
    assert all(r["headers"]["webhook-id"] for r in receiver.requests)


def test_a_tampered_body_fails_verification(organization, endpoint, receiver):
    from polar.webhooks import PolarWebhookVerificationError

    customer_services.customer_create(organization=organization, email="a@x.io")
    deliver_due()
    request = receiver.requests[0]
    with pytest.raises(PolarWebhookVerificationError):
        validate_event(
            request["body"].replace(b"a@x.io", b"z@x.io"), request["headers"], endpoint.secret
        )


def test_a_rolled_back_change_leaves_no_event(organization, endpoint):
    with pytest.raises(RuntimeError), transaction.atomic():
        customer_services.customer_create(organization=organization, email="a@x.io")
        raise RuntimeError("the request failed after the write")
    assert WebhookEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_no_endpoint_no_event_rows(organization):
    customer_services.customer_create(organization=organization, email="a@x.io")
    assert WebhookEvent.objects.count() == 0


def test_a_burst_of_changes_sends_one_state_changed_event(organization, endpoint, receiver):
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    for i in range(3):
        customer = customer_services.customer_set_metadata_key(
            customer=customer, key=f"k{i}", value=i
        )
    while deliver_due():
        pass
    types = receiver.types()
    assert types.count("customer.state_changed") == 1
    assert types.count("customer.updated") == 3
    state = json.loads(next(r["body"] for r in receiver.requests if b"state_changed" in r["body"]))
    assert state["data"]["metadata"] == {"k0": 0, "k1": 1, "k2": 2}


def test_a_down_receiver_is_retried_with_growing_delays_then_succeeds(
    organization, endpoint, receiver
):
    services.endpoint_update(endpoint=endpoint, events=["customer.created"])
    receiver.statuses = [500, 503, 502]
    customer_services.customer_create(organization=organization, email="a@x.io")
    event = WebhookEvent.objects.get(type="customer.created")
    delivery = WebhookDelivery.objects.get(event=event)
    now, gaps = datetime.now(UTC), []
    while delivery.status == WebhookDelivery.Status.PENDING:
        deliver_due(now=now)
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            gaps.append(delivery.next_attempt_at - now)
            now = delivery.next_attempt_at
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("created_at"))
    assert [a.status_code for a in attempts] == [500, 503, 502, 200]
    assert gaps[0] < gaps[1] < gaps[2]
    ids = {
        r["headers"]["webhook-id"] for r in receiver.requests if b"customer.created" in r["body"]
    }
    assert ids == {str(event.pk)}


def test_a_worker_killed_mid_delivery_loses_nothing(organization, endpoint, receiver):
    customer_services.customer_create(organization=organization, email="a@x.io")
    from webhooks.worker import _claim

    now = datetime.now(UTC)
    claimed = _claim(now, limit=10)  # a worker took them... and died before sending
    assert claimed
    assert deliver_due(now=now) == 0  # still leased: nobody sends them twice
    assert deliver_due(now=now + LEASE + timedelta(seconds=1)) == len(claimed)
    assert WebhookDelivery.objects.filter(status="succeeded").count() == len(claimed)
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {
        str(d.event_id) for d in claimed
    }


def test_an_endpoint_that_fails_for_three_days_is_disabled_with_the_reason(
    organization, endpoint, receiver
):
    receiver.statuses = [500] * 10
    customer_services.customer_create(organization=organization, email="a@x.io")
    now = datetime.now(UTC)
    for _ in range(5):
        deliver_due(now=now)
        now += timedelta(days=1)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "every attempt failed for 96 hours (10 attempts; last: HTTP 500)" in (
        endpoint.disabled_reason
    )
    # Disabled automatically, it still records what happens: nothing is lost.
    customer_services.customer_create(organization=organization, email="b@x.io")
    assert any(e.document()["data"]["email"] == "b@x.io" for e in WebhookEvent.objects.all())


def test_a_delivery_that_never_succeeds_fails_after_about_a_day(organization, endpoint, receiver):
    receiver.statuses = [500] * 20
    customer_services.customer_create(organization=organization, email="a@x.io")
    delivery = WebhookDelivery.objects.filter(event__type="customer.created").get()
    start = now = datetime.now(UTC)
    while delivery.status == WebhookDelivery.Status.PENDING:
        deliver_due(now=now)
        delivery.refresh_from_db()
        now = delivery.next_attempt_at or now
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == MAX_ATTEMPTS
    assert timedelta(hours=18) < now - start < timedelta(hours=36)


def test_redeliver_sends_again_with_the_same_webhook_id(organization, endpoint, receiver):
    customer_services.customer_create(organization=organization, email="a@x.io")
    deliver_due()
    delivery = WebhookDelivery.objects.filter(event__type="customer.created").get()
    services.delivery_redeliver(delivery=delivery)
    deliver_due()
    created = [r for r in receiver.requests if b"customer.created" in r["body"]]
    assert len(created) == 2
    assert created[0]["headers"]["webhook-id"] == created[1]["headers"]["webhook-id"]


def test_response_bodies_are_truncated(organization, endpoint, receiver, monkeypatch):
    customer_services.customer_create(organization=organization, email="a@x.io")
    deliver_due()
    assert all(len(a.response_excerpt) <= 1000 for a in WebhookAttempt.objects.all())


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_attempt_once(postgres_only, organization, receiver):
    services.endpoint_create(
        organization=organization, url=receiver.url, events=["customer.created"]
    )
    for i in range(20):
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
    barrier = threading.Barrier(2)

    def work():
        barrier.wait()
        try:
            while deliver_due(limit=3):
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 20
    assert len(set(ids)) == 20
