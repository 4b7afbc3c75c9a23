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
