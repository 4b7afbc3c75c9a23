"""The external ID can be set once and then never changes, whatever path a write takes."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from customers import services
from customers.models import EXTERNAL_ID_LOCKED_MESSAGE, Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked(organization):
    return CustomerFactory(organization=organization, external_id="usr_1")


def stored_external_id(customer):
    return Customer.objects.values_list("external_id", flat=True).get(pk=customer.pk)


def test_full_clean_reports_a_field_error_for_a_changed_external_id(locked):
    customer = Customer.objects.get(pk=locked.pk)
    customer.external_id = "usr_2"
    with pytest.raises(ValidationError) as error:
        customer.full_clean()
    assert error.value.message_dict == {"external_id": [EXTERNAL_ID_LOCKED_MESSAGE]}


def test_full_clean_reports_a_field_error_for_a_cleared_external_id(locked):
    customer = Customer.objects.get(pk=locked.pk)
    customer.external_id = None
    with pytest.raises(ValidationError, match="cannot be updated"):
        customer.full_clean()


def test_save_refuses_to_change_a_set_external_id(locked):
    customer = Customer.objects.get(pk=locked.pk)
    customer.external_id = "usr_2"
    with pytest.raises(ValidationError, match="cannot be updated"):
        customer.save()
    assert stored_external_id(locked) == "usr_1"


def test_save_refuses_on_the_instance_that_set_it(organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    customer.external_id = "usr_2"
    with pytest.raises(ValidationError, match="cannot be updated"):
        customer.save()


def test_queryset_update_refuses_to_change_a_set_external_id(locked):
    with pytest.raises(ValidationError, match="cannot be updated"):
        Customer.objects.filter(pk=locked.pk).update(external_id="usr_2")
    with pytest.raises(ValidationError, match="cannot be updated"):
        Customer.objects.filter(pk=locked.pk).update(external_id=None)
    assert stored_external_id(locked) == "usr_1"


def test_bulk_update_refuses_to_change_a_set_external_id(locked, organization):
    empty = CustomerFactory(organization=organization)
    locked.external_id, empty.external_id = "usr_2", "usr_3"
    with pytest.raises(ValidationError, match="cannot be updated"):
        Customer.objects.bulk_update([locked, empty], ["external_id"])
    assert stored_external_id(locked) == "usr_1"
    assert stored_external_id(empty) is None


def test_bulk_update_sets_empty_external_ids_and_accepts_unchanged_ones(locked, organization):
    empty = CustomerFactory(organization=organization)
    empty.external_id = "usr_3"
    Customer.objects.bulk_update([locked, empty], ["external_id"])
    assert stored_external_id(empty) == "usr_3"
    assert stored_external_id(locked) == "usr_1"


def test_the_database_trigger_refuses_a_raw_sql_change(locked):
    table = Customer._meta.db_table
    with (
        pytest.raises(DatabaseError, match="cannot be updated"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE {table} SET external_id = %s WHERE id = %s",
            ["usr_raw", Customer._meta.pk.get_db_prep_value(locked.pk, connection)],
        )
    assert stored_external_id(locked) == "usr_1"


def test_the_database_trigger_lets_raw_sql_set_an_empty_external_id(organization):
    customer = CustomerFactory(organization=organization)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Customer._meta.db_table} SET external_id = %s WHERE id = %s",
            ["usr_raw", Customer._meta.pk.get_db_prep_value(customer.pk, connection)],
        )
    assert stored_external_id(customer) == "usr_raw"


def test_setting_an_empty_external_id_works(organization):
    customer = CustomerFactory(organization=organization)
    updated = services.customer_update(customer=customer, external_id="usr_9")
    assert updated.external_id == "usr_9"
    assert updated.external_id_locked


def test_sending_the_same_external_id_again_is_a_no_op(locked):
    updated = services.customer_update(customer=locked, external_id="usr_1", name="New name")
    assert updated.external_id == "usr_1"
    assert updated.name == "New name"


def test_the_update_service_reports_the_lock_as_a_field_error(locked):
    with pytest.raises(ValidationError) as error:
        services.customer_update(customer=locked, external_id="usr_2")
    assert error.value.message_dict == {"external_id": [EXTERNAL_ID_LOCKED_MESSAGE]}
    assert stored_external_id(locked) == "usr_1"
