"""Renewals run as a job of `manage.py run_jobs` (one kind of worker process for every
background job), a batch at a time, polled once a minute, on indexes for the due query."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from checkouts import jobs as renewals
from core import jobs
from orders.models import Order, Subscription
from tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def due_subscription(organization, *, ended_ago=timedelta(hours=1)):
    end = timezone.now() - ended_ago
    return SubscriptionFactory(
        customer__organization=organization,
        product__organization=organization,
        started_at=end - timedelta(days=30),
        current_period_start=end - timedelta(days=30),
        current_period_end=end,
        payment_method_token="tok_test_success",
    )


def test_renewals_are_a_job_polled_once_a_minute():
    assert "renewals" in jobs.registered()
    assert jobs.idle_wait("renewals", 1.0) == 60.0
    assert jobs.idle_wait("webhooks", 1.0) == 1.0  # the others keep the worker's interval


def test_run_jobs_once_renews_what_is_due(organization):
    subscription = due_subscription(organization)
    SubscriptionFactory(  # not due yet
        customer__organization=organization, product__organization=organization
    )
    out = StringIO()
    call_command("run_jobs", once=True, only=["renewals"], stdout=out)
    assert out.getvalue().strip() == "renewals: 1"
    assert Order.objects.filter(
        subscription=subscription, billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE
    ).exists()


def test_a_run_takes_a_batch_oldest_period_end_first(organization, monkeypatch):
    monkeypatch.setattr(renewals, "RENEWALS_BATCH", 2)
    subscriptions = [
        due_subscription(organization, ended_ago=timedelta(hours=h)) for h in (1, 3, 2)
    ]
    assert renewals.renew_due() == 2
    renewed = set(
        Order.objects.filter(billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE).values_list(
            "subscription_id", flat=True
        )
    )
    assert renewed == {subscriptions[1].pk, subscriptions[2].pk}  # ended 3 h and 2 h ago
    assert renewals.renew_due() == 1
    assert renewals.renew_due() == 0


def test_the_due_indexes_cover_the_renewable_statuses():
    conditions = [
        index.condition
        for index in Subscription._meta.indexes
        if index.name.startswith("subscription_due_")
    ]
    assert len(conditions) == 2
    for condition in conditions:
        statuses = dict(condition.children)["status__in"]
        assert set(statuses) == set(Subscription.RENEWABLE_STATUSES)


def test_the_due_query_reads_its_indexes(organization, postgres_only):
    due_subscription(organization)
    query = Subscription.objects.due_for_renewal(timezone.now()).order_by(
        "current_period_end", "pk"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask for the plan
    plan = query.values("pk").explain()
    assert "subscription_due_on_schedule" in plan
    # The retries' arm: its own index, or on a table this small equally cheap the at-risk
    # subscriptions' partial index (orders 0005), whose condition a retry implies.
    assert "subscription_due_retry" in plan or "subscription_at_risk" in plan
    assert "Seq Scan" not in plan
