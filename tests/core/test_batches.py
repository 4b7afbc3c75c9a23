"""core.erasure.iter_batches: a table read a batch at a time along an index's columns
(the export's sections), every row once, in the key's order, across batch boundaries
that fall inside a run of equal times and between customers."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.erasure import CUSTOMER_KEY, iter_batches
from orders.models import Order
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def orders(organization):
    ada, bob = (CustomerFactory(organization=organization) for _ in range(2))
    made = []
    for customer in (ada, bob):
        for minutes in (0, 0, 0, 1, 1, 2, 3):  # runs of equal times
            made.append(OrderFactory(customer=customer, created_at=T0 + timedelta(minutes=minutes)))
    OrderFactory(organization=organization)  # another customer's: never read
    return (ada, bob), made


def _key(order):
    return (order.customer_id, order.created_at, order.pk)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 14, 100])
def test_every_row_once_in_the_keys_order_whatever_the_batch_size(orders, size):
    customers, made = orders
    queryset = Order.objects.filter(customer_id__in=[c.pk for c in customers])
    read = list(iter_batches(queryset, key=CUSTOMER_KEY, size=size))
    assert [_key(o) for o in read] == sorted(_key(o) for o in made)


def test_values_and_values_list_rows_carry_their_own_keys(orders):
    customers, made = orders
    queryset = Order.objects.filter(customer_id__in=[c.pk for c in customers])
    expected = sorted(_key(o) for o in made)
    dicts = iter_batches(queryset.values("total_amount", *CUSTOMER_KEY), key=CUSTOMER_KEY, size=4)
    assert [tuple(row[k] for k in CUSTOMER_KEY) for row in dicts] == expected
    tuples = iter_batches(
        queryset.values_list("id", "customer_id", "created_at"), key=CUSTOMER_KEY, size=4
    )
    assert [(c, t, i) for i, c, t in tuples] == expected


def test_a_batch_after_the_first_starts_after_the_last_rows_key(orders):
    customers, _ = orders
    queryset = Order.objects.filter(customer_id=customers[0].pk).values_list(*CUSTOMER_KEY)
    with CaptureQueriesContext(connection) as captured:
        list(iter_batches(queryset, key=CUSTOMER_KEY, size=3))
    sql = [q["sql"] for q in captured.captured_queries]
    assert len(sql) == 3  # 7 rows, 3 a batch
    assert all(s.endswith("ORDER BY 1 ASC, 2 ASC, 3 ASC LIMIT 3") for s in sql), sql
    columns = '("orders_order"."customer_id", "orders_order"."created_at", "orders_order"."id") >'
    assert columns not in sql[0] and all(columns in s for s in sql[1:])
