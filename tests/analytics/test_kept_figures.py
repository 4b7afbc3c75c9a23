"""PostgreSQL keeps daily figures by trigger (analytics migration 0002): after a random
sequence of writes they equal a rebuild from the tables, and the metrics read from them
equal the metrics summed from the tables."""

import random
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from analytics import compute as compute_module
from analytics.compute import Filters, compute, uses_kept_figures
from analytics.jobs import compact_figures
from analytics.models import (
    DailyCheckoutFigures,
    DailyCustomerFigures,
    DailyOrderFigures,
    DailySubscriptionFigures,
)
from checkouts.models import Checkout
from core.timezones import zone
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

START = datetime(2026, 1, 1, tzinfo=UTC)
MODELS = [DailyOrderFigures, DailySubscriptionFigures, DailyCheckoutFigures, DailyCustomerFigures]


def snapshot():
    """Every key's sums (rows are appended, then folded: a key may have several), without
    keys that sum to nothing."""
    sums: dict = {}
    for model in MODELS:
        for row in model.objects.values():
            row.pop("id")
            numbers = {
                k: v for k, v in row.items() if isinstance(v, int) and not isinstance(v, bool)
            }
            key = (model.__name__, *sorted((k, v) for k, v in row.items() if k not in numbers))
            total = sums.setdefault(key, dict.fromkeys(numbers, 0))
            for name, value in numbers.items():
                total[name] += value
    return {key: total for key, total in sums.items() if any(total.values())}


def rows():
    return sum(model.objects.count() for model in MODELS)


def moment(rng):
    return START + timedelta(minutes=rng.randrange(0, 90 * 24 * 60))


def random_writes(rng, organization, steps=250):
    products = [
        ProductFactory(organization=organization, price_amount=1000),
        ProductFactory(organization=organization, price_amount=12000, recurring_interval="year"),
        ProductFactory(organization=organization, price_amount=500, recurring_interval=None),
        ProductFactory(
            organization=organization,
            price_amount=700,
            price_currency="eur",
            recurring_interval=None,
        ),
    ]
    customers = [
        CustomerFactory(organization=organization, created_at=moment(rng)) for _ in range(8)
    ]
    for _ in range(steps):
        kind = rng.choice(
            ["order", "order", "refund", "status", "delete_order", "subscribe", "cancel", "end",
             "amount", "checkout", "checkout_status", "customer", "delete_customer", "move"]
        )  # fmt: skip
        orders = list(Order.objects.filter(organization=organization))
        subscriptions = list(Subscription.objects.filter(organization=organization))
        if kind == "order" or (not orders and kind in ("refund", "status", "delete_order", "move")):
            product = rng.choice(products)
            OrderFactory(
                customer=rng.choice(customers),
                product=product,
                created_at=moment(rng),
                billing_reason=rng.choice(list(Order.BillingReason.values)),
                status=rng.choice(list(Order.Status.values)),
                discount_amount=rng.choice([0, 100]),
            )
        elif kind == "refund":
            order = rng.choice(orders)
            order.refunded_amount = rng.randrange(0, order.total_amount + 1)
            order.status = Order.Status.PARTIALLY_REFUNDED
            order.save()
        elif kind == "status":
            order = rng.choice(orders)
            Order.objects.filter(pk=order.pk).update(status=rng.choice(list(Order.Status.values)))
        elif kind == "delete_order":
            order = rng.choice(orders)
            Checkout.objects.filter(order=order).update(order=None)
            order.delete()
        elif kind == "move":
            Order.objects.filter(pk=rng.choice(orders).pk).update(created_at=moment(rng))
        elif kind == "subscribe" or not subscriptions:
            product = rng.choice(products[:2])
            SubscriptionFactory(
                customer=rng.choice(customers),
                product=product,
                recurring_interval=product.recurring_interval,
                started_at=moment(rng) if rng.random() < 0.9 else None,
                current_period_start=moment(rng),
                current_period_end=moment(rng) + timedelta(days=200),
            )
        elif kind == "cancel":
            s = rng.choice(subscriptions)
            later = (s.started_at or START) + timedelta(minutes=rng.randrange(1, 60 * 24 * 60))
            Subscription.objects.filter(pk=s.pk).update(
                canceled_at=later if rng.random() < 0.8 else None
            )
        elif kind == "end":
            s = rng.choice(subscriptions)
            # A subscription ends after it starts.
            later = (s.started_at or START) + timedelta(minutes=rng.randrange(1, 60 * 24 * 60))
            s.ended_at = later if rng.random() < 0.8 else None
            s.status = Subscription.Status.CANCELED if s.ended_at else Subscription.Status.ACTIVE
            s.save()
        elif kind == "amount":
            Subscription.objects.filter(pk=rng.choice(subscriptions).pk).update(
                amount=rng.randrange(100, 50000)
            )
        elif kind == "checkout":
            Checkout.objects.create(
                organization=organization,
                product=rng.choice(products),
                amount=1000,
                currency="usd",
                expires_at=moment(rng) + timedelta(hours=1),
                created_at=moment(rng),
                status=rng.choice(["open", "succeeded", "expired"]),
            )
        elif kind == "checkout_status":
            checkout = Checkout.objects.filter(organization=organization).order_by("?").first()
            if checkout:
                checkout.status = rng.choice(["open", "succeeded", "failed"])
                checkout.save()
        elif kind == "customer":
            customers.append(CustomerFactory(organization=organization, created_at=moment(rng)))
        elif kind == "delete_customer":
            customer = rng.choice(customers)
            customer.deleted_at = None if customer.deleted_at else moment(rng)
            customer.save()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.usefixtures("postgres_only")
def test_kept_figures_equal_a_rebuild_after_random_writes(seed, organization):
    organization.timezone = "America/New_York"
    organization.save()
    rng = random.Random(seed)
    random_writes(rng, organization)
    kept = snapshot()
    assert kept  # the writes did land in the figures
    # The job folds the appended rows, and the sums stay as they were.
    before = rows()
    assert compact_figures() == before - rows() > 0
    assert snapshot() == kept
    assert compact_figures() == 0
    call_command("rebuild_metrics", stdout=StringIO())
    assert snapshot() == kept

    # And the metrics read from them are the metrics summed from the tables.
    tz = zone("America/New_York")
    for interval in ("day", "week", "month"):
        for filters in (
            Filters(currency="usd"),
            Filters(currency="eur"),
            Filters(currency="usd", billing_types=("recurring",)),
            Filters(currency="usd", billing_types=("one_time",)),
        ):
            args = {
                "organization": organization,
                "start_date": date(2026, 1, 20),
                "end_date": date(2026, 3, 10),
                "interval": interval,
                "tz": tz,
                "filters": filters,
                "now": datetime(2026, 12, 1, tzinfo=UTC),
            }
            assert uses_kept_figures(organization, interval, tz, filters)
            kept_figures = compute(**args)
            original = compute_module.uses_kept_figures
            compute_module.uses_kept_figures = lambda *a: False
            try:
                from_tables = compute(**args)
            finally:
                compute_module.uses_kept_figures = original
            assert kept_figures.values == from_tables.values, (interval, filters)
            assert kept_figures.totals == from_tables.totals


@pytest.mark.usefixtures("postgres_only")
def test_a_new_timezone_cuts_the_days_again(organization):
    customer = CustomerFactory(
        organization=organization, created_at=datetime(2026, 3, 1, 3, tzinfo=UTC)
    )
    OrderFactory(customer=customer, created_at=datetime(2026, 3, 1, 3, tzinfo=UTC))
    assert set(DailyOrderFigures.objects.values_list("day", flat=True)) == {date(2026, 3, 1)}
    organization.timezone = "America/Los_Angeles"  # 3:00 UTC is the evening before there
    organization.save()
    assert set(DailyOrderFigures.objects.values_list("day", flat=True)) == {date(2026, 2, 28)}
    assert set(DailyCustomerFigures.objects.values_list("day", flat=True)) == {date(2026, 2, 28)}


def test_the_command_on_sqlite_and_an_unknown_slug():
    if connection.vendor == "postgresql":
        with pytest.raises(Exception, match="No organization"):
            call_command("rebuild_metrics", organization="nope", stdout=StringIO())
        out = StringIO()
        call_command("rebuild_metrics", stdout=out)
        assert "Rebuilt the daily figures of every organization" in out.getvalue()
    else:
        out = StringIO()
        call_command("rebuild_metrics", stdout=out)
        assert "nothing to do" in out.getvalue()


@pytest.mark.usefixtures("postgres_only")
def test_seed_scale_leaves_the_figures_as_a_rebuild_would():
    call_command("seed_scale", customers=300, other_organizations=1, verbosity=0)
    seeded = snapshot()
    assert any(key[0] == "DailyOrderFigures" for key in seeded)
    call_command("rebuild_metrics", stdout=StringIO())
    assert snapshot() == seeded
