"""List operations send their `*_out` dicts encoded as they are (core.api.json_response),
not validated through the response schema again: the bytes must parse to exactly what
ninja's path (schema validation, then its JSON encoder) gives for the same rows, key
order included, for every kind of value the rows can hold."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from ninja.responses import NinjaJSONEncoder

from core.api import json_response
from customers.models import Customer
from customers.schemas import CustomerList, customer_out
from orders.models import Order, Product, Subscription
from orders.schemas import (
    OrderList,
    ProductList,
    SubscriptionList,
    order_out,
    product_out,
    subscription_out,
)
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

WITH_MICROSECONDS = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
WHOLE_SECOND = datetime(2026, 3, 4, 5, 6, 8, tzinfo=UTC)
BEYOND_64_BITS = 2**70


def ninja_json(schema, data: dict):
    """What ninja sends for `data` through `schema`: validated, dumped, encoded."""
    dumped = schema.model_validate(data).model_dump()
    return json.loads(json.dumps(dumped, cls=NinjaJSONEncoder))


def same_json(fast: bytes, expected) -> None:
    # json.loads keeps key order; comparing the re-encoded text compares it too.
    assert json.dumps(json.loads(fast)) == json.dumps(expected)


@pytest.fixture
def varied(organization):
    """Customers, products, subscriptions and orders holding every kind of value."""
    plain = CustomerFactory(organization=organization, name="", metadata={})
    unicode = CustomerFactory(
        organization=organization,
        email="zoë@example.com",
        name='Zoë Ünïcødé 🚀 "quoted" \\ back',
        billing_name="Łukasz & Søn",
        external_id="ext_ü",
        metadata={"plan": "pro ✓", "seats": 3, "ratio": 0.25, "whole": 2.0, "tiny": 1e-7},
        tax_id="FR123",
        locale="fr",
        email_verified=True,
    )
    addressed = CustomerFactory(
        organization=organization,
        metadata={"beta": True, "legacy": False, "zero": 0, "big": 10**18, "neg": -(2**63)},
        billing_address_line1="12 Rue de Rivoli",
        billing_address_city="Paris",
        billing_address_country="FR",
    )
    deleted = CustomerFactory(organization=organization, name="Gone")
    Customer.objects.filter(pk=plain.pk).update(
        created_at=WITH_MICROSECONDS, modified_at=WHOLE_SECOND
    )
    Customer.objects.filter(pk=unicode.pk).update(created_at=WHOLE_SECOND)
    one_time = ProductFactory(organization=organization, recurring_interval=None, description="")
    monthly = ProductFactory(
        organization=organization, name="Pro 🚀", description="Tout compris", metadata={"t": 1.5}
    )
    yearly = ProductFactory(organization=organization, recurring_interval="year", is_archived=True)
    canceled = SubscriptionFactory(
        customer=unicode,
        product=yearly,
        status=Subscription.Status.CANCELED,
        cancel_at_period_end=True,
        canceled_at=WITH_MICROSECONDS,
        ended_at=WHOLE_SECOND,
        customer_cancellation_reason="too_expensive",
        customer_cancellation_comment="Trop cher ✗",
    )
    active = SubscriptionFactory(customer=addressed, product=monthly)
    OrderFactory(customer=plain, product=one_time)
    OrderFactory(customer=unicode, product=monthly, subscription=canceled, tax_amount=120)
    OrderFactory(
        customer=addressed,
        product=monthly,
        subscription=active,
        status=Order.Status.REFUNDED,
        refunded_amount=1000,
    )
    OrderFactory(customer=deleted, product=None, subtotal_amount=500, currency="eur")
    # Orders stay listed when their customer is deleted: deleted_at shows in them.
    Customer.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now() - timedelta(days=1))
    return organization


def pages(response) -> dict:
    return json.loads(response.content)["pagination"]


def test_the_customer_list_is_what_the_schema_would_send(api, varied):
    response = api.get("/v1/customers/", {"limit": 100})

    assert response["Content-Type"] == "application/json; charset=utf-8"
    rows = Customer.objects.for_org(varied).order_by("-created_at", "-id")
    expected = {
        "items": [customer_out(c) for c in rows],
        "pagination": pages(response),
    }
    same_json(response.content, ninja_json(CustomerList, expected))
    assert len(json.loads(response.content)["items"]) == 3


def test_the_order_list_is_what_the_schema_would_send(api, varied):
    response = api.get("/v1/orders/", {"limit": 100})

    rows = (
        Order.objects.for_org(varied)
        .select_related("customer", "product", "subscription")
        .order_by("-created_at", "-id")
    )
    expected = {"items": [order_out(o) for o in rows], "pagination": pages(response)}
    same_json(response.content, ninja_json(OrderList, expected))
    items = json.loads(response.content)["items"]
    assert len(items) == 4
    assert any(item["customer"]["deleted_at"] for item in items)
    assert any(item["product"] is None for item in items)


def test_the_subscription_list_is_what_the_schema_would_send(api, varied):
    response = api.get("/v1/subscriptions/", {"limit": 100})

    rows = (
        Subscription.objects.for_org(varied)
        .select_related("customer", "product")
        .order_by("-started_at", "-id")
    )
    expected = {
        "items": [subscription_out(s) for s in rows],
        "pagination": pages(response),
    }
    same_json(response.content, ninja_json(SubscriptionList, expected))
    assert len(json.loads(response.content)["items"]) == 2


def test_the_product_list_is_what_the_schema_would_send(api, varied):
    response = api.get("/v1/products/", {"limit": 100})

    rows = Product.objects.for_org(varied).with_has_orders().order_by("-created_at", "-id")
    expected = {"items": [product_out(p) for p in rows], "pagination": pages(response)}
    same_json(response.content, ninja_json(ProductList, expected))
    assert len(json.loads(response.content)["items"]) == 3


def test_datetimes_read_as_ninja_writes_them(api, varied):
    items = {c["email"]: c for c in api.get("/v1/customers/", {"limit": 100}).json()["items"]}
    # Milliseconds, UTC as "Z"; a whole second has no fraction at all.
    plain = next(c for c in items.values() if c["name"] is None)
    assert plain["created_at"] == "2026-03-04T05:06:07.891Z"
    assert plain["modified_at"] == "2026-03-04T05:06:08Z"


def test_an_integer_beyond_64_bits_is_sent_exactly(api, organization):
    CustomerFactory(organization=organization, metadata={"huge": BEYOND_64_BITS, "neg": -(2**64)})

    response = api.get("/v1/customers/")

    item = json.loads(response.content)["items"][0]
    assert item["metadata"] == {"huge": BEYOND_64_BITS, "neg": -(2**64)}


def test_json_response_falls_back_only_for_what_orjson_refuses():
    data = {"n": BEYOND_64_BITS, "at": WITH_MICROSECONDS, "text": "é"}

    assert json.loads(json_response(data).content) == {
        "n": BEYOND_64_BITS,
        "at": "2026-03-04T05:06:07.891Z",
        "text": "é",
    }
    assert json_response({"n": 2**63 - 1}).content == b'{"n":9223372036854775807}'
    # A type no schema field gives (a Decimal where an int belongs) is an error, never
    # silently sent as something else.
    with pytest.raises(TypeError):
        json_response({"n": BEYOND_64_BITS, "total": Decimal(3)})


def test_sdk_reads_the_lean_lists(sdk, varied):
    customers = sdk.customers.list(limit=100).items
    orders = sdk.orders.list(limit=100).items
    subscriptions = sdk.subscriptions.list(limit=100).items
    products = sdk.products.list(limit=100).items

    assert {c.email for c in customers} >= {"zoë@example.com"}
    assert len(orders) == 4 and len(subscriptions) == 2 and len(products) == 3


def test_equal_instants_in_two_zones_keep_their_own_text():
    paris = WITH_MICROSECONDS.astimezone(timezone.get_fixed_timezone(120))
    data = {"utc": WITH_MICROSECONDS, "paris": paris, "again": WITH_MICROSECONDS}

    assert json.loads(json_response(data).content) == json.loads(
        json.dumps(data, cls=NinjaJSONEncoder)
    )
    assert json.loads(json_response(data).content)["paris"] == "2026-03-04T07:06:07.891+02:00"
