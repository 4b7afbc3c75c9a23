"""The customer list's figures (lifetime revenue, MRR, last order): what PostgreSQL's
triggers keep on each customer row (migration 0011) equals a recomputation from the orders
and subscriptions after any sequence of writes, and equals what SQLite computes."""

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer
from customers.querysets import _figures_sqlite
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

FIGURES = ("lifetime_revenue", "revenue_currency", "mrr", "mrr_currency", "last_order_at")


def recomputed(customer) -> dict:
    """The figures by their definitions (README, "Customer list columns"), in Python."""
    paid = sorted(
        (o for o in Order.objects.filter(customer=customer) if o.status in Order.PAID_STATUSES),
        key=lambda o: (o.created_at, o.id),
    )
    active = sorted(
        (s for s in customer.subscriptions.all() if s.status in Subscription.ACTIVE_STATUSES),
        key=lambda s: (s.created_at, s.id),
    )
    currency = paid[0].currency if paid else None
    mrr_currency = active[0].currency if active else None
    return {
        "lifetime_revenue": sum(
            o.subtotal_amount - o.discount_amount - o.refunded_amount
            for o in paid
            if o.currency == currency
        ),
        "revenue_currency": currency,
        "mrr": sum(
            s.amount // 12 if s.recurring_interval == "year" else s.amount
            for s in active
            if s.currency == mrr_currency
        ),
        "mrr_currency": mrr_currency,
        "last_order_at": max((o.created_at for o in paid), default=None),
    }


def listed(organization) -> dict:
    rows = Customer.objects.for_org(organization).with_figures().values("pk", *FIGURES)
    return {row.pop("pk"): row for row in rows}


def assert_figures_match(*organizations):
    for organization in organizations:
        kept = listed(organization)
        for customer in Customer.objects.for_org(organization):
            assert kept[customer.pk] == recomputed(customer), customer.email


@pytest.mark.django_db
def test_the_figures_follow_their_definitions(organization):
    now = timezone.now()
    customer = CustomerFactory(organization=organization)
    product = ProductFactory(organization=organization, recurring_interval=None)
    OrderFactory(customer=customer, product=product, subtotal_amount=5000, discount_amount=500,
                 created_at=now - timedelta(days=3))  # fmt: skip
    OrderFactory(customer=customer, product=product, subtotal_amount=2000, refunded_amount=700,
                 status="partially_refunded", created_at=now - timedelta(days=2))  # fmt: skip
    OrderFactory(customer=customer, product=product, subtotal_amount=9999, status="pending")
    OrderFactory(
        customer=customer,
        product=product,
        subtotal_amount=800,
        currency="eur",
        created_at=now - timedelta(days=1),
    )  # fmt: skip: another currency, left out
    SubscriptionFactory(customer=customer, amount=2900)
    SubscriptionFactory(customer=customer, amount=49000, recurring_interval="year")
    SubscriptionFactory(customer=customer, amount=100_000, status="canceled")
    never = CustomerFactory(organization=organization)

    figures = listed(organization)
    assert figures[customer.pk] == {
        "lifetime_revenue": 4500 + 1300,
        "revenue_currency": "usd",
        "mrr": 2900 + 49000 // 12,
        "mrr_currency": "usd",
        "last_order_at": now - timedelta(days=1),  # the newest paid order, any currency
    }
    assert figures[never.pk] == {
        "lifetime_revenue": 0,
        "revenue_currency": None,
        "mrr": 0,
        "mrr_currency": None,
        "last_order_at": None,
    }


def _random_writes(rng: random.Random, organizations, steps: int, check_every: int) -> None:
    customers = {
        org.pk: [CustomerFactory(organization=org) for _ in range(4)] for org in organizations
    }
    products = {
        org.pk: (
            ProductFactory(organization=org, recurring_interval=None),
            ProductFactory(organization=org, recurring_interval="month"),
        )
        for org in organizations
    }
    start = timezone.now() - timedelta(days=30)
    for step in range(steps):
        org = rng.choice(organizations)
        one_time, recurring = products[org.pk]
        customer = rng.choice(customers[org.pk])
        orders = list(Order.objects.filter(organization=org))
        subscriptions = list(Subscription.objects.filter(organization=org))
        action = rng.random()
        if action < 0.3 or not orders:
            subtotal = rng.randint(0, 10_000)
            OrderFactory(
                customer=customer,
                product=one_time,
                subtotal_amount=subtotal,
                discount_amount=rng.choice([0, subtotal // 10]),
                status=rng.choice(["paid", "paid", "pending", "void"]),
                currency=rng.choice(["usd", "usd", "eur"]),
                # Ties in created_at on purpose: the ID then picks the first order.
                created_at=start + timedelta(hours=rng.randint(0, 5)),
            )
        elif action < 0.45:  # a refund, in full or in part
            order = rng.choice(orders)
            refunded = rng.randint(0, order.total_amount)
            order.refunded_amount = refunded
            order.status = "refunded" if refunded == order.total_amount else "partially_refunded"
            order.save()  # an instance save writes every column
        elif action < 0.55:
            Order.objects.filter(pk=rng.choice(orders).pk).update(
                status=rng.choice([s for s, _ in Order.Status.choices])
            )
        elif action < 0.62:
            Order.objects.filter(pk=rng.choice(orders).pk).delete()
        elif action < 0.7:  # moved to another customer
            Order.objects.filter(pk=rng.choice(orders).pk).update(customer=customer)
        elif action < 0.8 or not subscriptions:
            SubscriptionFactory(
                customer=customer,
                product=recurring,
                amount=rng.randint(0, 60_000),
                recurring_interval=rng.choice(["month", "year"]),
                currency=rng.choice(["usd", "usd", "eur"]),
                status=rng.choice(["active", "trialing", "incomplete"]),
            )
        elif action < 0.87:  # activated, cancelled, lapsed
            Subscription.objects.filter(pk=rng.choice(subscriptions).pk).update(
                status=rng.choice([s for s, _ in Subscription.Status.choices])
            )
        elif action < 0.93:
            subscription = rng.choice(subscriptions)
            subscription.amount = rng.randint(0, 60_000)
            subscription.recurring_interval = rng.choice(["month", "year"])
            subscription.save()
        elif action < 0.97:
            Subscription.objects.filter(pk=rng.choice(subscriptions).pk).update(customer=customer)
        else:
            Subscription.objects.filter(pk=rng.choice(subscriptions).pk).delete()
        if step % check_every == 0:
            assert_figures_match(*organizations)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kept_figures_equal_a_recomputation_after_random_writes(
    organization, other_organization, seed
):
    _random_writes(random.Random(seed), [organization, other_organization], 150, 10)
    assert_figures_match(organization, other_organization)


@pytest.mark.django_db
def test_postgresql_and_sqlite_compute_the_same_figures(
    postgres_only, organization, other_organization
):
    """SQLite's correlated subqueries, run on PostgreSQL, against the kept columns."""
    _random_writes(random.Random(9), [organization, other_organization], 120, 1000)
    for org in (organization, other_organization):
        subqueries = Customer.objects.for_org(org).annotate(**_figures_sqlite())
        computed = {row.pop("pk"): row for row in subqueries.values("pk", *FIGURES)}
        assert computed == listed(org)


@pytest.mark.django_db
def test_the_recount_rebuilds_every_figure(postgres_only, organization, other_organization):
    _random_writes(random.Random(4), [organization, other_organization], 80, 1000)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET lifetime_revenue = 12345, revenue_currency = 'xxx', "
            "last_order_at = now(), mrr = 7, mrr_currency = NULL"
        )
        cursor.execute("SELECT customers_figures_recount()")
    assert_figures_match(organization, other_organization)


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_of_one_customer_all_count(postgres_only, organization):
    customer = CustomerFactory(organization=organization)
    product = ProductFactory(organization=organization, recurring_interval=None)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            barrier.wait()
            for n in range(10):
                with transaction.atomic():
                    OrderFactory(customer=customer, product=product, subtotal_amount=100 + n)
                    if n % 3 == worker % 3:
                        SubscriptionFactory(customer=customer, amount=1000)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert listed(organization)[customer.pk]["lifetime_revenue"] == 4 * sum(range(100, 110))
    assert_figures_match(organization)


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        # Small test tables would be read whole; what matters is that an index serves.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sorting", "index"),
    [
        ("-lifetime_revenue", "customer_org_revenue_live"),
        ("lifetime_revenue", "customer_org_revenue_live"),
        ("-last_order_at", "customer_org_last_order_live"),
        ("last_order_at", "customer_org_last_order_live"),
    ],
)
def test_a_page_sorted_by_a_figure_is_a_range_of_its_index(
    postgres_only, organization, sorting, index
):
    from core.paging import keyset_page
    from customers.querysets import SORTINGS

    _random_writes(random.Random(5), [organization], 30, 1000)
    field = SORTINGS[sorting.lstrip("-")]
    descending = sorting.startswith("-")
    customers = Customer.objects.for_org(organization).with_figures()
    first = keyset_page(customers, field=field, descending=descending, cursor=None, limit=1)
    captured = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        keyset_page(
            customers, field=field, descending=descending, cursor=first.next_cursor, limit=1
        )
    plan = _plan(*captured[-1])
    assert f"using {index}" in plan, plan
    # The cursor is a bound of the index range, not a filter over a tie's rows.
    index_cond = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "ROW(" in index_cond, plan
    # The API's IDs of a deep page: the index alone.
    ids = (
        Customer.objects.for_org(organization)
        .sorted_by_figure(field)
        .order_by(sorting.replace("last_order_at", field), "-id" if descending else "id")
        .values_list("pk", flat=True)[500:600]
    )
    plan = _plan(*ids.query.sql_with_params())
    assert f"Index Only Scan Backward using {index}" in plan or (
        f"Index Only Scan using {index}" in plan
    ), plan
