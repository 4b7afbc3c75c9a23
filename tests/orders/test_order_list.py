"""`GET /v1/orders/`: a page's customers, products and subscriptions are read once each,
whatever the page's size, and an order keeps its customer after the customer is deleted."""

import pytest
from django.utils import timezone

from customers.models import Customer
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(organization):
    # The oldest, so that the pages of the count test all show products and subscriptions.
    OrderFactory(
        customer=CustomerFactory(organization=organization),
        product=None,
        subtotal_amount=500,
        currency="usd",
    )
    for customer in CustomerFactory.create_batch(3, organization=organization):
        for _ in range(4):
            product = ProductFactory(organization=organization)
            subscription = SubscriptionFactory(customer=customer, product=product)
            OrderFactory(customer=customer, product=product)
            OrderFactory(customer=customer, product=product, subscription=subscription)
    # Another organization's, which neither the page nor the count may take in.
    OrderFactory()


@pytest.mark.parametrize("limit", [1, 10, 24])
def test_the_list_query_count_does_not_depend_on_page_size(
    api, orders, limit, django_assert_num_queries
):
    api.get("/v1/orders/")  # the token's first use also records last_used_at
    # token, page rows, their customers, products and subscriptions (each by ID), count
    with django_assert_num_queries(6):
        body = api.get("/v1/orders/", {"limit": limit}).json()
    assert len(body["items"]) == limit
    assert body["pagination"]["total_count"] == 25


def test_an_order_without_a_product_lists_without_one(api, orders):
    items = api.get("/v1/orders/", {"limit": 100}).json()["items"]
    (alone,) = [item for item in items if item["product_id"] is None]
    assert alone["product"] is None
    assert alone["description"] == "Order"


def test_a_deleted_customers_orders_list_with_their_customer(api, organization):
    customer = CustomerFactory(organization=organization, name="Gone")
    OrderFactory(customer=customer)
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
    (item,) = api.get("/v1/orders/").json()["items"]
    assert item["customer"]["id"] == str(customer.pk)
    assert item["customer"]["deleted_at"] is not None
    assert item["billing_name"] == "Gone"


class _Recorder:
    """A router sending every read to the primary, noting the models it was asked for."""

    def __init__(self):
        self.asked = set()

    def db_for_read(self, model, **hints):
        self.asked.add(model)
        return "default"


def test_the_list_reads_where_the_router_reads_orders(api, orders, monkeypatch):
    from django.db import router

    from orders.models import Order, Product, Subscription

    api.get("/v1/orders/")
    recorder = _Recorder()
    monkeypatch.setattr(router, "routers", [recorder])
    body = api.get("/v1/orders/", {"limit": 10, "page": 2}).json()
    assert len(body["items"]) == 10 and body["pagination"]["total_count"] == 25
    # The page, its count and its customers, products and subscriptions all read on the
    # database the router picks for orders (a replica during a GET, core/replicas.py).
    assert Order in recorder.asked
    assert not {Customer, Product, Subscription} & recorder.asked


def test_the_filters_and_sortings_keep_to_the_organization(api, orders, organization):
    from orders.models import Order

    mine = Order.objects.filter(organization=organization)
    customer = mine.filter(subscription__isnull=False).first().customer
    Customer.objects.filter(pk=customer.pk).update(external_id="user_1")
    customer.refresh_from_db()
    cases = [
        ({"customer_id": [str(customer.pk)]}, mine.filter(customer=customer)),
        (
            {"external_customer_id": [customer.external_id], "sorting": ["amount"]},
            mine.filter(customer__external_id=customer.external_id),
        ),
        ({"product_billing_type": ["recurring"]}, mine.filter(subscription__isnull=False)),
        ({"product_billing_type": ["one_time"]}, mine.filter(subscription__isnull=True)),
        ({"status": ["paid", "refunded"]}, mine.filter(status__in=["paid", "refunded"])),
        ({"organization_id": [str(organization.pk)]}, mine),
    ]
    for params, expected in cases:
        body = api.get("/v1/orders/", {"limit": 100, **params}).json()
        assert {item["id"] for item in body["items"]} == {
            str(pk) for pk in expected.values_list("pk", flat=True)
        }, params
        assert body["pagination"]["total_count"] == expected.count()
    by_amount = api.get("/v1/orders/", {"limit": 100, "sorting": ["-amount", "status"]}).json()
    amounts = [item["total_amount"] for item in by_amount["items"]]
    assert amounts == sorted(amounts, reverse=True)
    # Another organization's ID filters everything out, with no query for the page.
    other = api.get("/v1/orders/", {"organization_id": ["00000000-0000-0000-0000-000000000001"]})
    assert other.json() == {"items": [], "pagination": {"total_count": 0, "max_page": 0}}
