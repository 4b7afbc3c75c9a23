"""A webhook delivery about a customer is one entry on their timeline, brought up to date
by each attempt: not one entry per attempt."""

from datetime import UTC, datetime, timedelta

import pytest

from activity.models import Entry
from customers import services as customer_services
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.worker import deliver_due

pytestmark = pytest.mark.django_db


def test_one_entry_per_delivery_updated_with_its_outcome(organization, receiver):
    endpoint = services.endpoint_create(
        organization=organization, url=receiver.url, events=["customer.updated"]
    )
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    customer_services.customer_update(customer=customer, name="Ada")
    receiver.statuses = [500]

    deliver_due()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    (entry,) = Entry.objects.filter(customer=customer, type="webhook.delivery")
    assert entry.subject_id == delivery.pk
    assert (entry.actor_type, entry.source) == ("system", "system")
    assert entry.changes == {
        "event": [None, "customer.updated"],
        "endpoint": [None, receiver.url],
        "status": ["pending", "pending"],  # a retry is due
        "attempts": [0, 1],
        "response_status": [None, 500],
    }

    deliver_due(now=datetime.now(UTC) + timedelta(hours=2))
    (entry,) = Entry.objects.filter(customer=customer, type="webhook.delivery")
    assert entry.changes["status"] == ["pending", "succeeded"]
    assert entry.changes["attempts"] == [0, 2]
    assert entry.changes["response_status"] == [None, 200]


def test_events_about_no_customer_leave_no_entry(organization, receiver):
    from checkouts import services as checkout_services
    from tests.factories import ProductFactory

    services.endpoint_create(
        organization=organization, url=receiver.url, events=["checkout.created"]
    )
    checkout_services.checkout_create(
        organization=organization, product=ProductFactory(organization=organization)
    )
    deliver_due()
    assert receiver.types() == ["checkout.created"]
    assert not Entry.objects.filter(type="webhook.delivery").exists()
