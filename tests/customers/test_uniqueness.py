import pytest
from django.core.exceptions import ValidationError

from customers import services
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_it_rejects_a_duplicate_external_id_in_the_same_organization(organization):
    CustomerFactory(organization=organization, external_id="usr_1")
    with pytest.raises(ValidationError) as error:
        services.customer_create(
            organization=organization, email="b@example.com", external_id="usr_1"
        )
    assert error.value.message_dict == {
        "external_id": ["A customer with this external ID already exists."]
    }


def test_it_rejects_a_duplicate_email_ignoring_case(organization):
    CustomerFactory(organization=organization, email="Ada@Example.com")
    with pytest.raises(ValidationError) as error:
        services.customer_create(organization=organization, email="ada@example.COM")
    assert error.value.message_dict == {"email": ["A customer with this email already exists."]}


def test_it_rejects_taking_another_customers_email_on_update(organization):
    CustomerFactory(organization=organization, email="ada@example.com")
    other = CustomerFactory(organization=organization, email="bob@example.com")
    with pytest.raises(ValidationError) as error:
        services.customer_update(customer=other, email="ADA@example.com")
    assert "email" in error.value.message_dict


def test_the_same_email_and_external_id_are_fine_in_another_organization(
    organization, other_organization
):
    CustomerFactory(organization=organization, email="ada@example.com", external_id="usr_1")
    customer = services.customer_create(
        organization=other_organization, email="ada@example.com", external_id="usr_1"
    )
    assert customer.pk


def test_a_deleted_customers_email_and_external_id_are_reusable(organization):
    old = CustomerFactory(organization=organization, email="ada@example.com", external_id="usr_1")
    services.customer_delete(customer=old)
    new = services.customer_create(
        organization=organization, email="ADA@example.com", external_id="usr_1"
    )
    assert new.pk != old.pk
    old.refresh_from_db()
    assert old.external_id is None
    assert old.metadata["__external_id"] == "usr_1"


def test_the_database_enforces_unique_external_ids_even_without_validation(organization):
    from django.db import IntegrityError, transaction

    CustomerFactory(organization=organization, external_id="usr_1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(
            organization=organization, email="x@example.com", external_id="usr_1"
        )


def test_the_database_enforces_unique_emails_ignoring_case(organization):
    from django.db import IntegrityError, transaction

    CustomerFactory(organization=organization, email="ada@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(organization=organization, email="ADA@EXAMPLE.COM")


def test_a_blank_external_id_is_stored_as_none(organization):
    customer = services.customer_create(
        organization=organization, email="a@example.com", external_id="  "
    )
    assert customer.external_id is None
