"""A small shop with hand-computed figures for 28-30 March 2026 in Europe/Paris (the
clocks go forward on the 29th), used by the computation, API and page tests."""

from datetime import UTC, datetime, timedelta

import pytest

from checkouts.models import Checkout
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

NOW = datetime(2026, 3, 30, 15, 0, tzinfo=UTC)  # during the 30th: its day is partial


def utc(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def shop(organization, other_organization):
    organization.timezone = "Europe/Paris"
    organization.save()
    ada = CustomerFactory(organization=organization, created_at=utc(28, 9))
    bob = CustomerFactory(organization=organization, created_at=utc(30, 9))
    monthly = ProductFactory(organization=organization, name="Monthly", price_amount=1000)
    yearly = ProductFactory(
        organization=organization, name="Yearly", price_amount=12000, recurring_interval="year"
    )
    book = ProductFactory(
        organization=organization, name="Book", price_amount=500, recurring_interval=None
    )
    # The 28th: a book at 23:30 Paris time.
    OrderFactory(customer=ada, product=book, created_at=utc(28, 22, 30))
    # 00:30 on the 29th in Paris, still the 28th in UTC: a monthly plan starts.
    s1 = SubscriptionFactory(customer=ada, product=monthly, started_at=utc(28, 23, 30))
    OrderFactory(
        customer=ada,
        product=monthly,
        subscription=s1,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
        created_at=utc(28, 23, 30),
    )
    # A plan from February ends on the 29th (churned).
    s3 = SubscriptionFactory(
        customer=bob, product=monthly, started_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    s3.status, s3.ended_at = Subscription.Status.CANCELED, utc(29, 12)
    s3.save()
    # The 30th: a yearly plan (10,000 after discount, 3,000 refunded), canceled at period
    # end the same day, and a renewal of the monthly plan.
    s2 = SubscriptionFactory(
        customer=bob,
        product=yearly,
        recurring_interval="year",
        started_at=utc(30, 10),
        cancel_at_period_end=True,
        canceled_at=utc(30, 12),
    )
    OrderFactory(
        customer=bob,
        product=yearly,
        subscription=s2,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
        discount_amount=2000,
        refunded_amount=3000,
        status=Order.Status.PARTIALLY_REFUNDED,
        created_at=utc(30, 10),
    )
    OrderFactory(
        customer=ada,
        product=monthly,
        subscription=s1,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE,
        created_at=utc(30, 11),
    )
    # Not counted: a pending order, an order in euros, another organization's order.
    OrderFactory(customer=ada, product=book, status=Order.Status.PENDING, created_at=utc(29, 9))
    euros = ProductFactory(
        organization=organization, price_currency="eur", price_amount=700, recurring_interval=None
    )
    OrderFactory(customer=ada, product=euros, created_at=utc(29, 9))
    OrderFactory(customer=CustomerFactory(organization=other_organization), created_at=utc(29, 9))
    # Three checkouts on the 29th, two succeeded.
    for status in ("succeeded", "succeeded", "open"):
        Checkout.objects.create(
            organization=organization,
            product=monthly,
            status=status,
            amount=1000,
            currency="usd",
            expires_at=utc(29, 10) + timedelta(hours=1),
            created_at=utc(29, 10),
        )
    return {"ada": ada, "bob": bob, "monthly": monthly, "yearly": yearly, "book": book}


# What each day holds (Europe/Paris), worked out by hand from the fixture above.
EXPECTED_DAYS = [
    {  # the 28th
        "orders": 1,
        "revenue": 500,
        "net_revenue": 500,
        "cumulative_revenue": 500,
        "one_time_products": 1,
        "one_time_products_revenue": 500,
        "new_subscriptions": 0,
        "active_subscriptions": 1,  # February's plan
        "monthly_recurring_revenue": 1000,
        "churned_subscriptions": 0,
        "churn_rate": 0,
        "checkouts": 0,
        "checkouts_conversion": 0,
        "new_customers": 1,
        "average_order_value": 500,
    },
    {  # the 29th (23 hours long)
        "orders": 1,
        "revenue": 1000,
        "net_revenue": 1000,
        "cumulative_revenue": 1500,
        "new_subscriptions": 1,
        "new_subscriptions_revenue": 1000,
        "active_subscriptions": 1,  # one started, one ended
        "monthly_recurring_revenue": 1000,
        "churned_subscriptions": 1,
        "churn_rate": 1.0,
        "checkouts": 3,
        "succeeded_checkouts": 2,
        "checkouts_conversion": 2 / 3,
        "new_customers": 0,
    },
    {  # the 30th (partial: now is 15:00 UTC)
        "orders": 2,
        "revenue": 11000,
        "net_revenue": 8000,
        "cumulative_revenue": 12500,
        "net_cumulative_revenue": 9500,
        "average_order_value": 5500,
        "net_average_order_value": 4000,
        "new_subscriptions": 1,
        "new_subscriptions_revenue": 10000,
        "new_subscriptions_net_revenue": 7000,
        "renewed_subscriptions": 1,
        "renewed_subscriptions_revenue": 1000,
        "canceled_subscriptions": 1,
        "active_subscriptions": 2,
        "monthly_recurring_revenue": 2000,  # 1,000 monthly + 12,000 / 12
        "annual_recurring_revenue": 24000,
        "new_customers": 1,
    },
]
EXPECTED_TOTALS = {
    "orders": 4,
    "revenue": 12500,
    "net_revenue": 9500,
    "cumulative_revenue": 12500,
    "average_order_value": 3125,
    "active_subscriptions": 2,
    "monthly_recurring_revenue": 2000,
    "churned_subscriptions": 1,
    "churn_rate": 1.0,  # one churned of the one active when the range began
    "checkouts_conversion": 2 / 3,
    "new_customers": 2,
    "one_time_products": 1,
}
