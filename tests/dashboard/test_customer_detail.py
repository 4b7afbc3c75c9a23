from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


def detail_url(customer):
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def test_the_detail_page_shows_profile_metadata_and_lock(merchant, organization):
    customer = CustomerFactory(
        organization=organization,
        email="ada@example.com",
        name="Ada Lovelace",
        external_id="usr_1",
        billing_address_country="GB",
        billing_address_city="London",
        metadata={"plan": "pro", "seats": 3, "beta": True, "score": 9.5},
    )
    page = merchant.get(detail_url(customer)).text
    for text in ("Ada Lovelace", "ada@example.com", "usr_1", "Locked", "London", "4 / 50 keys"):
        assert text in page
    for kind in ("string", "integer", "boolean", "float"):
        assert f'class="type type-{kind}"' in page


def test_metrics_are_computed_from_paid_orders_and_active_subscriptions(merchant, organization):
    customer = CustomerFactory(organization=organization)
    one_time = ProductFactory(organization=organization, price_amount=1000, recurring_interval=None)
    yearly = ProductFactory(
        organization=organization, price_amount=12000, recurring_interval="year"
    )
    OrderFactory(customer=customer, product=one_time, created_at=datetime(2026, 1, 5, tzinfo=UTC))
    OrderFactory(
        customer=customer,
        product=one_time,
        tax_amount=200,
        discount_amount=100,
        created_at=datetime(2026, 3, 5, tzinfo=UTC),
    )
    OrderFactory(customer=customer, product=one_time, status="pending")  # not paid
    OrderFactory(
        customer=customer,
        product=one_time,
        refunded_amount=500,
        created_at=datetime(2026, 3, 9, tzinfo=UTC),
    )
    SubscriptionFactory(customer=customer, product=yearly, recurring_interval="year")
    SubscriptionFactory(customer=customer, status="canceled")

    metrics = merchant.get(detail_url(customer)).context["metrics"]
    # net of discounts and refunds, before tax: 1000 + 900 + (1000 - 500)
    assert metrics.revenue == 2400
    assert metrics.paid_orders == 3
    assert metrics.average_order == round((1000 + 900 + 1000) / 3)
    assert metrics.active_subscriptions == 1
    assert metrics.mrr == 1000  # 120.00 a year
    assert metrics.first_order_at == datetime(2026, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(("user", "queries"), [("member", 8), ("owner", 9)])
def test_the_detail_query_count_does_not_grow_with_orders(
    client, request, user, queries, organization, django_assert_num_queries
):
    merchant = client
    merchant.force_login(request.getfixturevalue(user))
    customer = CustomerFactory(organization=organization)
    product = ProductFactory(organization=organization, recurring_interval=None)
    OrderFactory(customer=customer, product=product)
    SubscriptionFactory(customer=customer)
    # session, user, memberships, the customer, revenue by currency, MRR by currency,
    # revenue by month, the newest orders with products, subscriptions with products;
    # for an owner also the webhook endpoints (links to their logs about this customer)
    with django_assert_num_queries(queries):
        merchant.get(detail_url(customer))
    OrderFactory.create_batch(499, customer=customer, product=product)
    with django_assert_num_queries(queries):
        response = merchant.get(detail_url(customer))
    assert len(response.context["orders"].rows) == 10
    assert response.context["orders_next_url"]


def test_older_orders_page_through_with_a_cursor(merchant, organization):
    customer = CustomerFactory(organization=organization)
    OrderFactory.create_batch(25, customer=customer)
    seen, url = [], None
    response = merchant.get(detail_url(customer))
    seen += response.context["orders"].rows
    url = response.context["orders_next_url"]
    while url:
        response = merchant.get(url, headers={"HX-Request": "true"})
        assert "<html" not in response.text
        seen += response.context["orders"].rows
        url = response.context["orders_next_url"]
    assert len({o.pk for o in seen}) == 25
    no_js = merchant.get(response.request["PATH_INFO"])
    assert "Older orders" in no_js.text


def test_a_deleted_customer_is_404(merchant, organization):
    from customers import services

    customer = CustomerFactory(organization=organization)
    services.customer_delete(customer=customer)
    assert merchant.get(detail_url(customer)).status_code == 404
