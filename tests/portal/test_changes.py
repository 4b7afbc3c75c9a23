"""What a customer does in the portal is recorded as every change is: a timeline entry
with the customer as actor and the portal as source, and the webhook events, in the
change's own transaction."""

import pytest

from activity.models import Entry, actor_name_of
from webhooks.models import EventType, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(
        organization=organization, url="https://hooks.example.com/in", events=list(EventType.values)
    )


def _entries(customer, type):
    return list(Entry.objects.filter(customer=customer, type=type))


def test_a_profile_update_names_the_customer_and_the_portal(shop, ada_portal, endpoint):
    ada = shop["ada"]
    response = ada_portal.patch(
        "/v1/customer-portal/customers/me",
        {"name": "Ada Lovelace", "billing_address": {"city": "London", "country": "GB"}},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    (entry,) = _entries(ada, "customer.updated")
    assert (entry.actor_type, entry.actor_id, entry.actor_name, entry.source) == (
        "customer",
        str(ada.pk),
        "",  # no name stored: the timeline shows the customer's as it is now
        "portal",
    )
    ada.refresh_from_db()
    assert actor_name_of(entry, ada) == "Ada Lovelace"
    assert entry.changes["name"] == ["Ada", "Ada Lovelace"]
    assert entry.changes["billing_address_city"] == ["", "London"]
    event = WebhookEvent.objects.get(type="customer.updated")
    assert event.customer_id == ada.pk
    assert event.document()["data"]["name"] == "Ada Lovelace"
    assert event.document()["data"]["billing_address"]["city"] == "London"


def test_an_update_that_changes_nothing_records_nothing(shop, ada_portal, endpoint):
    response = ada_portal.patch(
        "/v1/customer-portal/customers/me", {"name": "Ada"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert _entries(shop["ada"], "customer.updated") == []
    assert not WebhookEvent.objects.filter(type="customer.updated").exists()


def test_a_cancel_and_uncancel_name_the_customer_and_send_their_events(shop, ada_portal, endpoint):
    ada, subscription = shop["ada"], shop["subscription"]
    path = f"/v1/customer-portal/subscriptions/{subscription.pk}"
    for cancel in (True, False):
        response = ada_portal.patch(
            path, {"cancel_at_period_end": cancel}, content_type="application/json"
        )
        assert response.status_code == 200, response.content
    for type in ("subscription.canceled", "subscription.uncanceled"):
        (entry,) = _entries(ada, type)
        assert (entry.actor_type, entry.actor_id, entry.source) == (
            "customer",
            str(ada.pk),
            "portal",
        )
        (event,) = WebhookEvent.objects.filter(type=type)
        assert event.payload["data"]["id"] == str(subscription.pk)
    assert (
        WebhookEvent.objects.get(type="subscription.uncanceled").payload["data"][
            "cancel_at_period_end"
        ]
        is False
    )


def test_the_cancellation_reason_is_recorded(shop, ada_portal):
    subscription = shop["subscription"]
    response = ada_portal.delete(f"/v1/customer-portal/subscriptions/{subscription.pk}")
    assert response.status_code == 200
    response = ada_portal.patch(
        f"/v1/customer-portal/subscriptions/{shop['grace_subscription'].pk}",
        {"cancel_at_period_end": True, "cancellation_reason": "unused"},
        content_type="application/json",
    )
    assert response.status_code == 404  # Grace's, not Ada's
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is True
    (entry,) = _entries(shop["ada"], "subscription.canceled")
    assert entry.source == "portal"


def test_a_refused_update_records_nothing(shop, ada_portal, endpoint):
    response = ada_portal.patch(
        "/v1/customer-portal/customers/me",
        {"billing_address": {"country": "ZZ"}},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"] == "PolarRequestValidationError"
    assert Entry.objects.filter(type="customer.updated").count() == 0
    assert WebhookEvent.objects.count() == 0
