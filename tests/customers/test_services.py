import pytest
from django.core.exceptions import ValidationError

from customers import services
from customers.models import Customer
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_create_normalises_and_stores_the_profile(organization):
    customer = services.customer_create(
        organization=organization,
        email="  ada@example.com ",
        name="Ada",
        billing_address_country="gb",
        metadata={"plan": "pro", "seats": 3},
    )
    customer.refresh_from_db()
    assert customer.email == "ada@example.com"
    assert customer.billing_address_country == "GB"
    assert customer.metadata == {"plan": "pro", "seats": 3}
    assert customer.version == 1


def test_create_rejects_an_invalid_email(organization):
    with pytest.raises(ValidationError) as error:
        services.customer_create(organization=organization, email="not-an-email")
    assert "email" in error.value.message_dict


def test_create_refuses_unknown_fields(organization):
    with pytest.raises(TypeError, match="deleted_at"):
        services.customer_create(organization=organization, email="a@example.com", deleted_at=None)


def test_update_changes_only_the_fields_passed_and_bumps_the_version(organization):
    customer = CustomerFactory(organization=organization, name="Ada", tax_id="GB123")
    updated = services.customer_update(customer=customer, name="Ada L.")
    assert (updated.name, updated.tax_id, updated.version) == ("Ada L.", "GB123", 2)


def test_update_replaces_the_whole_metadata_object(organization):
    customer = CustomerFactory(organization=organization, metadata={"a": 1, "b": 2})
    updated = services.customer_update(customer=customer, metadata={"c": 3})
    assert updated.metadata == {"c": 3}


def test_update_without_a_change_writes_nothing(organization):
    customer = CustomerFactory(organization=organization, name="Ada")
    updated = services.customer_update(customer=customer, name="Ada")
    assert updated.version == 1


def test_update_with_a_stale_version_is_refused_and_shows_the_current_row(organization):
    customer = CustomerFactory(organization=organization, name="Ada")
    services.customer_update(customer=customer, expected_version=1, name="First editor")
    with pytest.raises(services.StaleCustomerError) as error:
        services.customer_update(customer=customer, expected_version=1, name="Second editor")
    assert error.value.current.name == "First editor"
    customer.refresh_from_db()
    assert customer.name == "First editor"


def test_an_invalid_update_leaves_the_stored_row_untouched(organization):
    customer = CustomerFactory(organization=organization, name="Ada", email="ada@example.com")
    with pytest.raises(ValidationError):
        services.customer_update(customer=customer, name="Bob", email="broken")
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.version) == ("Ada", "ada@example.com", 1)


def test_set_metadata_key_adds_a_key_keeping_its_type(organization):
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    updated = services.customer_set_metadata_key(customer=customer, key="seats", value=3)
    updated = services.customer_set_metadata_key(customer=updated, key="beta", value=True)
    updated.refresh_from_db()
    assert updated.metadata == {"plan": "pro", "seats": 3, "beta": True}


def test_adding_a_key_that_exists_is_a_field_error(organization):
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    with pytest.raises(ValidationError) as error:
        services.customer_set_metadata_key(customer=customer, key="plan", value="basic")
    assert error.value.message_dict == {"key": ["Metadata key 'plan' already exists."]}


def test_editing_a_key_with_the_value_seen_succeeds_and_renames(organization):
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro", "x": 1})
    updated = services.customer_set_metadata_key(
        customer=customer, key="tier", value="gold", replaces_key="plan", expected_value="pro"
    )
    assert updated.metadata == {"x": 1, "tier": "gold"}


def test_editing_a_key_someone_else_changed_is_refused_with_the_current_value(organization):
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    services.customer_set_metadata_key(
        customer=customer, key="plan", value="basic", expected_value="pro"
    )
    with pytest.raises(services.StaleCustomerError, match="it is now 'basic'"):
        services.customer_set_metadata_key(
            customer=customer, key="plan", value="gold", expected_value="pro"
        )
    customer.refresh_from_db()
    assert customer.metadata == {"plan": "basic"}


def test_a_number_and_its_string_are_different_values(organization):
    customer = CustomerFactory(organization=organization, metadata={"seats": 3})
    with pytest.raises(services.StaleCustomerError):
        services.customer_set_metadata_key(
            customer=customer, key="seats", value=4, expected_value="3"
        )


def test_remove_metadata_key(organization):
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro", "x": 1})
    updated = services.customer_remove_metadata_key(customer=customer, key="plan")
    assert updated.metadata == {"x": 1}
    again = services.customer_remove_metadata_key(customer=updated, key="plan")
    assert again.version == updated.version


def test_delete_hides_the_customer_keeps_orders_and_revokes_subscriptions(organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    order = OrderFactory(customer=customer)
    active = SubscriptionFactory(customer=customer)
    canceled = SubscriptionFactory(customer=customer, status="canceled")

    services.customer_delete(customer=customer)

    assert not Customer.objects.for_org(organization).filter(pk=customer.pk).exists()
    assert Order.objects.filter(pk=order.pk, customer=customer).exists()
    active.refresh_from_db()
    assert active.status == Subscription.Status.CANCELED
    assert active.ended_at is not None
    canceled.refresh_from_db()
    assert canceled.ended_at is None  # already over: left as it was
    customer.refresh_from_db()
    assert customer.deleted_at is not None
    assert customer.external_id is None
    assert customer.metadata["__external_id"] == "usr_1"


def test_a_deleted_customer_cannot_be_updated_or_deleted_again(organization):
    customer = CustomerFactory(organization=organization)
    services.customer_delete(customer=customer)
    with pytest.raises(Customer.DoesNotExist, match="deleted"):
        services.customer_update(customer=customer, name="Ghost")
    # Gone, not invalid: the API answers a second delete with 404.
    with pytest.raises(Customer.DoesNotExist, match="deleted"):
        services.customer_delete(customer=customer)


def test_deleting_a_customer_with_50_metadata_keys_keeps_its_external_id(organization):
    customer = CustomerFactory(
        organization=organization, external_id="usr_1", metadata={f"k{i}": i for i in range(50)}
    )
    services.customer_delete(customer=customer)
    customer.refresh_from_db()
    assert customer.metadata["__external_id"] == "usr_1"
    assert len(customer.metadata) == 51


def test_for_org_never_returns_another_organizations_customers(organization, other_organization):
    mine = CustomerFactory(organization=organization)
    CustomerFactory(organization=other_organization)
    assert list(Customer.objects.for_org(organization)) == [mine]
