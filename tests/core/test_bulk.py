"""core.bulk.insert_many: COPY on PostgreSQL from COPY_MIN_ROWS rows, as an INSERT would."""

import pytest

from activity.models import Entry
from core import bulk
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [3, bulk.COPY_MIN_ROWS])
def test_rows_land_as_an_insert_would_write_them(organization, rows, django_assert_num_queries):
    customer = CustomerFactory(organization=organization)
    entries = [
        Entry(
            organization=organization,
            customer=customer,
            type="customer.updated",
            actor_type="system",
            source="import",
            changes={"name": [None, f"N{i}"], "metadata.n": [None, i]},
        )
        for i in range(rows)
    ]
    with django_assert_num_queries(1):  # one INSERT, or one COPY (recorded all the same)
        bulk.insert_many(Entry, entries)
    stored = Entry.objects.filter(customer=customer).order_by("changes__metadata.n")
    assert [e.changes["name"][1] for e in Entry.objects.filter(pk=entries[-1].pk)] == [
        f"N{rows - 1}"
    ]
    assert stored.count() == rows
    assert not entries[0]._state.adding


def test_a_copy_that_breaks_a_constraint_writes_nothing(organization):
    from django.db import IntegrityError, transaction

    customers = [
        Customer(organization=organization, email=f"c{i % 50}@example.com")
        for i in range(bulk.COPY_MIN_ROWS)
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_many(Customer, customers)
    assert not Customer.objects.exists()
