"""Renewals over a fake clock: an order per cycle, past due on a decline, recovery on a
later success, unpaid after the last try, and cancellations taking effect."""

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from orders.models import InvalidTransition, Order, Subscription
from orders.services import renew_due_subscriptions, subscription_cancel
from tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 1, 31, 12, tzinfo=UTC)


@pytest.fixture
def subscription(organization):
    return SubscriptionFactory(
        customer__organization=organization,
        product__organization=organization,
        product__price_amount=2900,
        started_at=START,
        current_period_start=START,
        current_period_end=datetime(2026, 2, 28, 12, tzinfo=UTC),
        payment_method_token="tok_test_success",
    )


def cycle_orders(subscription):
    return Order.objects.filter(
        subscription=subscription, billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE
    ).order_by("created_at")


def test_nothing_is_due_before_the_period_ends(subscription):
    summary = renew_due_subscriptions(now=datetime(2026, 2, 28, 11, tzinfo=UTC))
    assert summary.renewed == 0
    assert not cycle_orders(subscription).exists()


def test_each_cycle_creates_an_order_and_moves_the_period(subscription):
    for month in (2, 3, 4):
        now = datetime(2026, month, 28, 13, tzinfo=UTC)
        assert renew_due_subscriptions(now=now).renewed == 1
        assert renew_due_subscriptions(now=now).renewed == 0  # already renewed
    subscription.refresh_from_db()
    assert subscription.current_period_start == datetime(2026, 4, 28, 12, tzinfo=UTC)
    assert subscription.current_period_end == datetime(2026, 5, 28, 12, tzinfo=UTC)
    orders = list(cycle_orders(subscription))
    assert [o.total_amount for o in orders] == [2900, 2900, 2900]
    assert all(o.customer_id == subscription.customer_id for o in orders)


def test_a_decline_makes_it_past_due_and_a_later_success_recovers_it(subscription):
    Subscription.objects.filter(pk=subscription.pk).update(payment_method_token="tok_test_decline")
    first_try = datetime(2026, 2, 28, 13, tzinfo=UTC)
    assert renew_due_subscriptions(now=first_try).declined == 1
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    assert subscription.past_due_at == first_try
    assert subscription.next_attempt_at == first_try + timedelta(hours=24)
    assert renew_due_subscriptions(now=first_try + timedelta(hours=1)).declined == 0  # not yet

    Subscription.objects.filter(pk=subscription.pk).update(payment_method_token="tok_test_success")
    assert renew_due_subscriptions(now=first_try + timedelta(days=1)).renewed == 1
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert (subscription.past_due_at, subscription.renewal_attempts) == (None, 0)
    assert subscription.current_period_end == datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert cycle_orders(subscription).count() == 1


def test_it_ends_unpaid_after_the_last_declined_try(subscription, settings):
    settings.RENEWAL_MAX_ATTEMPTS = 3
    Subscription.objects.filter(pk=subscription.pk).update(payment_method_token="tok_test_decline")
    now = datetime(2026, 2, 28, 13, tzinfo=UTC)
    outcomes = []
    for day in range(3):
        summary = renew_due_subscriptions(now=now + timedelta(days=day))
        outcomes.append((summary.declined, summary.unpaid))
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.UNPAID
    assert subscription.ended_at == now + timedelta(days=2)
    assert renew_due_subscriptions(now=now + timedelta(days=30)).unpaid == 0
    assert not cycle_orders(subscription).exists()


def test_a_cancellation_at_period_end_takes_effect_at_renewal(subscription):
    subscription_cancel(subscription=subscription)
    summary = renew_due_subscriptions(now=datetime(2026, 3, 1, tzinfo=UTC))
    assert summary.ended == 1
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert subscription.ended_at == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert not cycle_orders(subscription).exists()


def test_invalid_transitions_are_refused(subscription):
    subscription.revoke()
    for transition in (subscription.renew, subscription.end_at_period_end):
        with pytest.raises(InvalidTransition):
            transition()
    with pytest.raises(InvalidTransition):
        subscription.renewal_declined(now=START, retry_after=timedelta(days=1), max_attempts=3)


def test_the_command_renews_with_a_given_clock(subscription):
    out = StringIO()
    call_command("renew_subscriptions", now="2026-03-01T00:00:00+00:00", stdout=out)
    assert out.getvalue().strip() == "renewed 1, declined 0, unpaid 0, ended 0"
    with pytest.raises(CommandError, match="timezone"):
        call_command("renew_subscriptions", now="2026-03-01T00:00:00")


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_charge_each_renewal_once(postgres_only, organization):
    subscriptions = SubscriptionFactory.create_batch(
        6,
        customer__organization=organization,
        product__organization=organization,
        current_period_start=START,
        current_period_end=datetime(2026, 2, 28, 12, tzinfo=UTC),
        payment_method_token="tok_test_success",
    )
    now = datetime(2026, 3, 1, tzinfo=UTC)
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        try:
            renew_due_subscriptions(now=now)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for subscription in subscriptions:
        assert cycle_orders(subscription).count() == 1
