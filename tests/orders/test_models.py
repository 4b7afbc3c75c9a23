from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from orders import services
from orders.models import InvalidTransition, Order, Subscription, add_interval
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_add_interval_clamps_to_the_end_of_shorter_months():
    jan31 = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert add_interval(jan31, "month") == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert add_interval(jan31, "month", 13) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert add_interval(datetime(2028, 2, 29, tzinfo=UTC), "year") == datetime(
        2029, 2, 28, tzinfo=UTC
    )


def test_a_negative_price_is_rejected_by_validation_and_the_database(organization):
    with pytest.raises(ValidationError):
        services.product_create(organization=organization, name="Bad", price_amount=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductFactory(organization=organization, price_amount=-1)


def test_an_unknown_currency_is_rejected(organization):
    with pytest.raises(ValidationError, match="ISO 4217"):
        services.product_create(
            organization=organization, name="Bad", price_amount=1, price_currency="xyz"
        )
    product = services.product_create(
        organization=organization, name="Yen", price_amount=1000, price_currency="JPY"
    )
    assert product.price_currency == "jpy"


def test_an_order_total_must_add_up(organization):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(customer__organization=organization, subtotal_amount=1000, total_amount=5)


def test_order_create_derives_the_total(organization):
    customer = CustomerFactory(organization=organization)
    product = ProductFactory(organization=organization, price_amount=1000, recurring_interval=None)
    order = services.order_create(
        customer=customer, product=product, discount_amount=100, tax_amount=180
    )
    assert (order.net_amount, order.total_amount, order.paid) == (900, 1080, True)


def test_an_order_cannot_point_at_another_organizations_customer(organization, other_organization):
    customer = CustomerFactory(organization=other_organization)
    product = ProductFactory(organization=organization)
    order = Order(
        organization=organization,
        customer=customer,
        product=product,
        subtotal_amount=1,
        total_amount=1,
        currency="usd",
    )
    with pytest.raises(ValidationError, match="another organization"):
        order.full_clean()


def test_subscription_create_starts_an_active_period(organization):
    customer = CustomerFactory(organization=organization)
    product = ProductFactory(organization=organization, recurring_interval="year")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    subscription = services.subscription_create(
        customer=customer, product=product, started_at=start
    )
    assert subscription.status == "active"
    assert subscription.current_period_end == datetime(2027, 3, 1, tzinfo=UTC)


def test_cancel_then_uncancel(organization):
    subscription = SubscriptionFactory(customer__organization=organization)
    services.subscription_cancel(subscription=subscription)
    assert subscription.cancel_at_period_end
    assert subscription.ends_at == subscription.current_period_end
    assert subscription.is_active  # access continues until the period ends
    with pytest.raises(InvalidTransition, match="already set to cancel"):
        subscription.cancel()
    services.subscription_uncancel(subscription=subscription)
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
    assert subscription.canceled_at is None


def test_revoke_ends_now_and_cannot_happen_twice(organization):
    subscription = SubscriptionFactory(customer__organization=organization)
    services.subscription_revoke(subscription=subscription)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert subscription.ended_at is not None
    for transition in (subscription.revoke, subscription.cancel, subscription.uncancel):
        with pytest.raises(InvalidTransition):
            transition()


def test_uncancel_without_a_pending_cancellation_is_refused(organization):
    subscription = SubscriptionFactory(customer__organization=organization)
    with pytest.raises(InvalidTransition, match="Only a subscription set to cancel"):
        subscription.uncancel()
