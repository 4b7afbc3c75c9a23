"""Concurrent writers: the database settles the race and the loser gets a clear error."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from customers import services
from customers.models import Customer
from tests.factories import CustomerFactory


def race(target, n=2):
    """Run `target` in n threads that start together; return what each raised or returned."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("field", ["email", "external_id"])
def test_two_concurrent_creates_of_the_same_customer_one_wins(postgres_only, organization, field):
    def create(i):
        return services.customer_create(
            organization=organization,
            email="ada@example.com" if field == "email" else f"ada{i}@example.com",
            external_id="usr_1" if field == "external_id" else None,
        )

    results = race(create)
    errors = [r for r in results if isinstance(r, ValidationError)]
    assert len(errors) == 1, results
    assert list(errors[0].message_dict) == [field]
    assert Customer.objects.for_org(organization).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_metadata_edits_lose_nothing(postgres_only, organization):
    customer = CustomerFactory(organization=organization)

    def add_key(i):
        return services.customer_set_metadata_key(customer=customer, key=f"k{i}", value=i)

    results = race(add_key, n=4)
    assert not [r for r in results if isinstance(r, Exception)], results
    customer.refresh_from_db()
    assert customer.metadata == {"k0": 0, "k1": 1, "k2": 2, "k3": 3}
    assert customer.version == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("field", ["email", "external_id"])
def test_two_customers_racing_for_one_email_or_external_id_one_wins(
    postgres_only, organization, field
):
    """No SELECT checks uniqueness before the UPDATE any more: the unique index decides,
    and the loser's refusal is the same field error, never an IntegrityError."""
    customers = [CustomerFactory(organization=organization) for _ in range(2)]
    value = "same@example.com" if field == "email" else "usr_same"

    def update(i):
        key = services.CustomerKey(organization_id=organization.pk, id=customers[i].pk)
        return services.customer_update(customer=key, **{field: value})

    results = race(update)
    errors = [r for r in results if isinstance(r, ValidationError)]
    assert len(errors) == 1, results
    assert errors[0].message_dict == {
        field: [
            "A customer with this email already exists."
            if field == "email"
            else "A customer with this external ID already exists."
        ]
    }
    assert Customer.objects.for_org(organization).filter(**{field: value}).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_customer_deleted_while_an_update_waits_for_its_lock_is_gone(postgres_only, organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    key = services.CustomerKey(organization_id=organization.pk, external_id="usr_1")

    def act(i):
        if i == 0:
            return services.customer_delete(customer=customer)
        return services.customer_update(customer=key, name="Late")

    results = race(act)
    late = results[1]
    # Either the update ran first (and the delete after), or it found the customer gone.
    assert isinstance(late, (Customer, Customer.DoesNotExist)), results
    assert not Customer.objects.for_org(organization).exists()
