"""Webhook payloads are built from the `*_out` dicts through core.encoding, not validated
through the schemas one by one (an import sends two events per row): they must be exactly
what the schemas' JSON dumps give, for every kind of value a customer can hold."""

from datetime import UTC, datetime, timedelta

import pytest

from customers.schemas import (
    CustomerOut,
    CustomerState,
    customer_event,
    customer_out,
    customer_state_out,
)
from orders.models import Subscription
from tests.factories import CustomerFactory, SubscriptionFactory
from webhooks.events import _customer_state_data, _payload

pytestmark = pytest.mark.django_db

VARIETIES = [
    {},
    {
        "name": "Ada Lovelace",
        "billing_name": "Analytical Engines Ltd",
        "billing_address_line1": "12 St James's Square",
        "billing_address_city": "London",
        "billing_address_postal_code": "SW1Y 4JH",
        "billing_address_country": "GB",
        "tax_id": "GB123456789",
        "locale": "en-GB",
        "external_id": "user_42",
        "email_verified": True,
    },
    {
        "metadata": {
            "plan": "pro",
            "seats": 12,
            "ratio": 0.1,
            "big": 2**70,  # beyond orjson's 64 bits: the standard library writes it
            "negative": -3,
            "flag": False,
            "exponent": 1e20,
            "unicode": "Zoë ✓ 日本",
            "quote": 'say "hi"\n',
        }
    },
    {"deleted_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},  # no microseconds
    {"deleted_at": datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)},
]


def pydantic_dump(schema, data):
    return schema.model_validate(data).model_dump(mode="json")


@pytest.mark.parametrize("fields", VARIETIES)
def test_a_customer_event_is_the_schemas_json_dump(fields):
    customer = CustomerFactory(**fields)
    customer.refresh_from_db()  # as stored: the database's datetimes
    assert customer_event(customer) == pydantic_dump(CustomerOut, customer_out(customer))
    unsaved = CustomerFactory.build(**fields)  # as a writer holds it before reading back
    unsaved.created_at = unsaved.modified_at = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert customer_event(unsaved) == pydantic_dump(CustomerOut, customer_out(unsaved))


@pytest.mark.parametrize("fields", VARIETIES)
def test_a_customer_state_is_the_schemas_json_dump(fields):
    customer = CustomerFactory(**fields)
    SubscriptionFactory(customer=customer)
    SubscriptionFactory(
        customer=customer,
        cancel_at_period_end=True,
        canceled_at=datetime.now(UTC) - timedelta(days=1),
    )
    customer.refresh_from_db()
    subscriptions = list(Subscription.objects.filter(customer=customer).active().order_by("pk"))
    assert len(subscriptions) == 2
    assert _customer_state_data(customer, subscriptions) == pydantic_dump(
        CustomerState, customer_state_out(customer, subscriptions)
    )


def test_the_payload_keeps_its_timestamp_in_milliseconds():
    now = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    payload = _payload("customer.updated", {"n": 2**70}, now)
    assert payload == {
        "type": "customer.updated",
        "timestamp": "2026-05-06T07:08:09.123Z",
        "api_version": "2026-10",
        "data": {"n": 2**70},
    }
