"""Staff admin: every model's changelist and change page loads, with pinned query counts."""

import pytest
from django.urls import reverse

from customers.models import Customer
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    OrderFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def rows(organization, owner):
    """A few rows of every model, so changelists render real rows."""
    for i in range(3):
        customer = CustomerFactory(organization=organization, metadata={"n": i})
        OrderFactory(customer=customer)
        SubscriptionFactory(customer=customer)
    return Customer.objects.first()


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


# Every changelist starts with the session and the user. Small tables keep Django's
# paginator (a filtered and a full count); the large ones (customers, orders,
# subscriptions) count at most 10,001 rows once and skip the full count.
CHANGELIST_QUERIES = {
    # count, full count, rows
    "organizations.organization": 2 + 3,
    # organization filter options, count, full count, rows joined to user and organization
    "organizations.membership": 2 + 4,
    # organization filter options, count, full count, rows joined to organization
    "orders.product": 2 + 4,
    # organization filter options, capped count, rows joined to organization
    "customers.customer": 2 + 3,
    # organization filter options, capped count, rows joined to customer, product, organization
    "orders.order": 2 + 3,
    # organization filter options, capped count, rows joined to customer, product, organization
    "orders.subscription": 2 + 3,
}


@pytest.mark.parametrize("label", sorted(CHANGELIST_QUERIES))
def test_changelist_loads_for_staff_with_a_pinned_query_count(
    label, staff_client, rows, django_assert_num_queries
):
    from django.apps import apps

    model = apps.get_model(label)
    with django_assert_num_queries(CHANGELIST_QUERIES[label]):
        response = staff_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("label", sorted(CHANGELIST_QUERIES))
def test_change_page_loads_for_staff(label, staff_client, rows):
    from django.apps import apps

    model = apps.get_model(label)
    obj = model.objects.first()
    response = staff_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200


def test_customer_changelist_query_count_does_not_grow_with_rows(
    staff_client, organization, django_assert_num_queries
):
    CustomerFactory.create_batch(40, organization=organization)
    with django_assert_num_queries(CHANGELIST_QUERIES["customers.customer"]):
        staff_client.get(admin_url(Customer, "changelist"))


def test_customer_change_page_query_count(staff_client, rows, django_assert_num_queries):
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    # session, user, the customer, its content type (for the history link), the
    # organization shown by the autocomplete widget
    with django_assert_num_queries(5):
        response = staff_client.get(admin_url(Customer, "change", rows.pk))
    assert response.status_code == 200


def test_customer_search_finds_by_email_name_and_exact_external_id(staff_client, organization):
    CustomerFactory(organization=organization, email="ada@example.com", name="Ada Lovelace")
    CustomerFactory(organization=organization, email="bob@example.com", external_id="usr_42")
    url = admin_url(Customer, "changelist")
    assert "ada@example.com" in staff_client.get(url, {"q": "Lovelace"}).text
    assert "bob@example.com" in staff_client.get(url, {"q": "usr_42"}).text
    assert "bob@example.com" not in staff_client.get(url, {"q": "usr_4"}).text


def test_deleted_filter_shows_only_deleted_customers(staff_client, organization):
    from customers import services

    gone = CustomerFactory(organization=organization, email="gone@example.com")
    CustomerFactory(organization=organization, email="here@example.com")
    services.customer_delete(customer=gone)
    page = staff_client.get(admin_url(Customer, "changelist"), {"state": "deleted"}).text
    assert "gone@example.com" in page
    assert "here@example.com" not in page


def test_the_external_id_is_read_only_once_set(staff_client, organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    url = admin_url(Customer, "change", customer.pk)
    page = staff_client.get(url).text
    assert 'name="external_id"' not in page
    data = admin_form_data(customer, external_id="usr_2", name="Renamed")
    response = staff_client.post(url, data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.external_id, customer.name) == ("usr_1", "Renamed")


def test_the_external_id_can_be_set_in_the_admin_while_empty(staff_client, organization):
    customer = CustomerFactory(organization=organization)
    url = admin_url(Customer, "change", customer.pk)
    assert 'name="external_id"' in staff_client.get(url).text
    response = staff_client.post(url, admin_form_data(customer, external_id="usr_7"))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.external_id == "usr_7"
    assert customer.version == 2


def test_admin_metadata_is_validated_with_readable_errors(staff_client, organization):
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    url = admin_url(Customer, "change", customer.pk)
    response = staff_client.post(
        url, admin_form_data(customer, metadata='{"plan": "", "nested": {"a": 1}}')
    )
    assert response.status_code == 200
    assert "Metadata value for &#x27;plan&#x27; must not be an empty string." in response.text
    assert "Metadata value for &#x27;nested&#x27; is a nested object" in response.text
    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro"}


def test_admin_add_creates_through_the_service(staff_client, organization):
    CustomerFactory(organization=organization, email="taken@example.com")
    url = admin_url(Customer, "add")
    data = admin_form_data(Customer(organization=organization), email="TAKEN@example.com")
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "A customer with this email already exists." in response.text
    data["email"] = "new@example.com"
    assert staff_client.post(url, data).status_code == 302
    assert Customer.objects.filter(email="new@example.com", organization=organization).exists()


def test_admin_delete_is_a_soft_delete(staff_client, organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    response = staff_client.post(admin_url(Customer, "delete", customer.pk), {"post": "yes"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.deleted_at is not None
    assert customer.metadata["__external_id"] == "usr_1"


def test_membership_admin_lists_members(staff_client, organization):
    MembershipFactory(organization=organization, user__username="someone")
    response = staff_client.get(admin_url(MembershipFactory._meta.model, "changelist"))
    assert "someone" in response.text


def test_the_admin_is_closed_to_merchants(client, owner):
    client.force_login(owner)
    response = client.get(admin_url(Customer, "changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def admin_form_data(customer, **overrides) -> dict:
    import json

    data = {
        "organization": str(customer.organization_id),
        "email": customer.email,
        "email_verified": "on" if customer.email_verified else "",
        "name": customer.name,
        "external_id": customer.external_id or "",
        "billing_name": customer.billing_name,
        "billing_address_line1": "",
        "billing_address_line2": "",
        "billing_address_postal_code": "",
        "billing_address_city": "",
        "billing_address_state": "",
        "billing_address_country": "",
        "tax_id": "",
        "locale": "",
        "metadata": json.dumps(customer.metadata),
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "" or k in {"metadata"}}
