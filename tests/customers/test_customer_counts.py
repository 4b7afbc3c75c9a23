"""The live and active customer counters PostgreSQL keeps (CustomerCount) always equal a
real count, whoever writes: services, bulk ORM updates, deletes, and many writers at once."""

import contextlib
import random
import threading

import pytest
from django.db import connection, transaction

from customers import services
from customers.counts import customer_count
from customers.models import Customer, CustomerCount
from orders import services as order_services
from orders.models import Subscription
from tests.factories import CustomerFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.usefixtures("postgres_only")


def real_counts(organization) -> tuple[int, int, int]:
    customers = Customer.objects.for_org(organization)
    return (
        customers.count(),
        customers.filter_active(True).count(),
        customers.filter_active(False).count(),
    )


def kept_counts(organization) -> tuple[int, int, int]:
    return tuple(customer_count(organization, active=a) for a in (None, True, False))


def assert_counts_match(*organizations):
    for organization in organizations:
        assert kept_counts(organization) == real_counts(organization), organization.slug


@pytest.mark.django_db
def test_counters_follow_every_kind_of_write(organization, other_organization):
    product = ProductFactory(organization=organization, recurring_interval="month")
    a = services.customer_create(organization=organization, email="a@example.com")
    b = services.customer_create(organization=organization, email="b@example.com")
    CustomerFactory(organization=other_organization)
    assert kept_counts(organization) == (2, 0, 2)

    first = SubscriptionFactory(customer=a, product=product)  # active
    SubscriptionFactory(customer=a, product=product)  # a second one: still one customer
    assert kept_counts(organization) == (2, 1, 1)
    order_services.subscription_revoke(subscription=first)
    assert kept_counts(organization) == (2, 1, 1)  # the other one is still active
    Subscription.objects.filter(customer=a).update(status="past_due")  # bulk, still active
    assert_counts_match(organization)
    Subscription.objects.filter(customer=a).update(status="unpaid")
    assert kept_counts(organization) == (2, 0, 2)

    moved = SubscriptionFactory(customer=b, product=product)
    Subscription.objects.filter(pk=moved.pk).update(customer=a)  # moved to another customer
    assert kept_counts(organization) == (2, 1, 1)
    Subscription.objects.filter(pk=moved.pk).delete()
    assert kept_counts(organization) == (2, 0, 2)

    SubscriptionFactory(customer=b, product=product)
    services.customer_delete(customer=b)  # revokes the subscription, soft-deletes b
    assert kept_counts(organization) == (1, 0, 1)
    Customer.objects.filter(pk=b.pk).update(deleted_at=None)  # restored by hand
    assert_counts_match(organization)
    Customer.objects.filter(pk=a.pk).update(organization=other_organization)
    assert_counts_match(organization, other_organization)
    Subscription.objects.filter(customer=a).delete()
    Customer.objects.filter(pk=a.pk).delete()  # a hard delete, as staff could
    assert_counts_match(organization, other_organization)


@pytest.mark.django_db
def test_recount_rebuilds_the_same_counters(organization, other_organization):
    product = ProductFactory(organization=organization)
    for n in range(6):
        customer = CustomerFactory(organization=organization if n % 3 else other_organization)
        if n % 2:
            SubscriptionFactory(customer=customer, product=product)
    before = (kept_counts(organization), kept_counts(other_organization))
    with connection.cursor() as cursor:
        cursor.execute("SELECT customers_count_recount()")
    assert (kept_counts(organization), kept_counts(other_organization)) == before
    assert_counts_match(organization, other_organization)
    # The recount also repairs a customer's own tally, should it ever be wrong.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET active_subscriptions = 7")
        cursor.execute("SELECT customers_count_recount()")
    assert_counts_match(organization, other_organization)


@pytest.mark.django_db(transaction=True)
def test_randomized_concurrent_writers_leave_exact_counters(organization, other_organization):
    products = {
        org.pk: ProductFactory(organization=org, recurring_interval="month")
        for org in (organization, other_organization)
    }
    seed = [CustomerFactory(organization=organization) for _ in range(10)]
    statuses = [s for s, _ in Subscription.Status.choices]
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def writer(worker: int) -> None:
        rng = random.Random(worker)
        try:
            barrier.wait()
            for _ in range(40):
                org = rng.choice([organization, other_organization])
                action = rng.random()
                with transaction.atomic():
                    if action < 0.25:
                        customer = CustomerFactory(organization=org)
                        if rng.random() < 0.5:
                            SubscriptionFactory(customer=customer, product=products[org.pk])
                    elif action < 0.6:
                        # Several writers change the same few customers' subscriptions.
                        customer = rng.choice(seed)
                        SubscriptionFactory(
                            customer=customer,
                            product=products[organization.pk],
                            status=rng.choice(statuses),
                        )
                    elif action < 0.85:
                        subscription = (
                            Subscription.objects.filter(customer__in=seed).order_by("?").first()
                        )
                        if subscription is not None:
                            Subscription.objects.filter(pk=subscription.pk).update(
                                status=rng.choice(statuses)
                            )
                    else:
                        victim = Customer.objects.live().order_by("?").first()
                        if victim is not None and victim not in seed:
                            # Another writer may have deleted it first.
                            with contextlib.suppress(Customer.DoesNotExist):
                                services.customer_delete(customer=victim)
        except BaseException as error:  # reported below, with the thread's traceback
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert_counts_match(organization, other_organization)
    shards = set(CustomerCount.objects.values_list("shard", flat=True))
    assert len(shards) > 1  # the writers spread over shards instead of one hot row
    with connection.cursor() as cursor:
        cursor.execute("SELECT customers_count_recount()")
    assert_counts_match(organization, other_organization)


@pytest.mark.django_db
def test_api_total_count_comes_from_the_counters(
    api, organization, other_organization, django_assert_num_queries
):
    product = ProductFactory(organization=organization)
    for n in range(7):
        customer = CustomerFactory(organization=organization)
        if n < 3:
            SubscriptionFactory(customer=customer, product=product)
    CustomerFactory(organization=other_organization)
    api.get("/v1/customers/")  # the token's first use also records last_used_at
    for params, total in (({}, 7), ({"active": "true"}, 3), ({"active": "false"}, 4)):
        with django_assert_num_queries(3) as queries:  # token, counters, page
            body = api.get("/v1/customers/", {**params, "limit": 2}).json()
        # The total is read from the counters: no statement counts customers.
        assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        assert body["pagination"] == {"total_count": total, "max_page": (total + 1) // 2}
        assert len(body["items"]) == 2
