import pytest
from django.urls import reverse

from customers import services
from customers.models import Customer
from tests.factories import CustomerFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client, owner):
    client.force_login(owner)
    return client


def url(name, customer=None, organization=None):
    organization = organization or customer.organization
    args = [organization.slug] + ([customer.pk] if customer else [])
    return reverse(f"customers:{name}", args=args)


def profile(customer, **changes) -> dict:
    data = {
        "email": customer.email,
        "name": customer.name,
        "external_id": customer.external_id or "",
        "version": customer.version,
    }
    data.update(changes)
    return data


# --- create -------------------------------------------------------------------------


def test_creating_a_customer_with_typed_metadata(merchant, organization):
    response = merchant.post(
        url("create", organization=organization),
        {
            "email": "ada@example.com",
            "name": "Ada",
            "external_id": "usr_1",
            "metadata_key": ["plan", "seats", "beta", "score", ""],
            "metadata_type": ["string", "integer", "boolean", "float", "string"],
            "metadata_value": ["pro", "3", "true", "4.5", ""],
        },
    )
    customer = Customer.objects.for_org(organization).get(email="ada@example.com")
    assert response.status_code == 302
    assert response.url == url("detail", customer)
    assert customer.external_id == "usr_1"
    assert customer.metadata == {"plan": "pro", "seats": 3, "beta": True, "score": 4.5}


def test_create_shows_a_duplicate_email_next_to_the_field(merchant, organization):
    CustomerFactory(organization=organization, email="ada@example.com")
    response = merchant.post(url("create", organization=organization), {"email": "ADA@example.com"})
    assert response.status_code == 422
    assert response.context["form"].errors == {
        "email": ["A customer with this email already exists."]
    }


def test_create_marks_each_bad_metadata_row(merchant, organization):
    response = merchant.post(
        url("create", organization=organization),
        {
            "email": "ada@example.com",
            "metadata_key": ["k" * 41, "seats"],
            "metadata_type": ["string", "integer"],
            "metadata_value": ["v", "three"],
        },
    )
    assert response.status_code == 422
    rows = response.context["form"].metadata_rows
    assert rows[0]["errors"] == [
        f"Metadata key {'k' * 41!r} is 41 characters long; keys can be at most 40."
    ]
    assert rows[1]["errors"] == ["Enter a whole number, such as 42."]
    assert "Enter a whole number" in response.text
    assert not Customer.objects.filter(email="ada@example.com").exists()


# --- edit ---------------------------------------------------------------------------


def test_editing_the_profile(merchant, organization):
    customer = CustomerFactory(organization=organization, name="Ada")
    response = merchant.post(
        url("edit", customer), profile(customer, name="Ada Lovelace", billing_address_country="gb")
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.billing_address_country) == ("Ada Lovelace", "GB")


def test_an_invalid_country_is_reported_next_to_the_field(merchant, organization):
    customer = CustomerFactory(organization=organization)
    response = merchant.post(url("edit", customer), profile(customer, billing_address_country="1"))
    assert response.status_code == 422
    assert response.context["form"].errors == {
        "billing_address_country": [
            "Choose a country from the list: '1' is not an ISO 3166-1 country code."
        ]
    }


def test_an_empty_external_id_can_be_set_once_then_is_locked(merchant, organization):
    customer = CustomerFactory(organization=organization)
    assert (
        merchant.post(url("edit", customer), profile(customer, external_id="usr_9")).status_code
        == 302
    )
    customer.refresh_from_db()
    assert customer.external_id == "usr_9"

    page = merchant.get(url("edit", customer)).text
    assert "can never change once set" in page
    assert 'name="external_id"' not in page  # shown, but not a field that is sent

    # A hand-crafted POST cannot change it either: the disabled field ignores it.
    response = merchant.post(url("edit", customer), profile(customer, external_id="usr_x"))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.external_id == "usr_9"


def test_a_stale_profile_edit_is_refused_and_shows_the_current_value(merchant, organization):
    customer = CustomerFactory(organization=organization, name="Ada")
    seen_version = customer.version
    services.customer_update(customer=customer, name="Changed by a teammate")

    response = merchant.post(
        url("edit", customer), profile(customer, name="My edit", version=seen_version)
    )
    assert response.status_code == 409
    assert "Someone else saved changes" in response.text
    assert "Changed by a teammate" in response.text
    customer.refresh_from_db()
    assert customer.name == "Changed by a teammate"
    # The form now carries the current version, so saving again goes through.
    form_version = response.context["form"]["version"].value()
    again = merchant.post(
        url("edit", customer), profile(customer, name="My edit", version=form_version)
    )
    assert again.status_code == 302


# --- delete -------------------------------------------------------------------------


def test_the_delete_page_explains_the_consequences(merchant, organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    SubscriptionFactory(customer=customer)
    page = merchant.get(url("delete", customer)).text
    assert "cancels 1 subscription immediately" in page
    assert "frees the external ID" in page
    assert "keeps their orders" in page


def test_delete_needs_the_email_typed(merchant, organization):
    customer = CustomerFactory(organization=organization, email="ada@example.com")
    response = merchant.post(url("delete", customer), {"confirm_email": "bob@example.com"})
    assert response.status_code == 422
    assert "Type the customer&#x27;s email exactly" in response.text
    customer.refresh_from_db()
    assert customer.deleted_at is None

    response = merchant.post(url("delete", customer), {"confirm_email": " ADA@example.com "})
    assert response.status_code == 302
    assert response.url == url("list", organization=organization)
    customer.refresh_from_db()
    assert customer.deleted_at is not None


# --- the version that guards against lost updates ----------------------------------


@pytest.mark.parametrize("version", [None, "", "abc", "0", "-1"])
def test_a_profile_edit_without_a_valid_version_is_refused_not_saved(
    merchant, organization, version
):
    customer = CustomerFactory(organization=organization, name="Ada")
    services.customer_update(customer=customer, name="Changed by a teammate")
    data = profile(customer, name="My edit")
    if version is None:
        del data["version"]
    else:
        data["version"] = version

    response = merchant.post(url("edit", customer), data)

    assert response.status_code == 400
    assert "Reload the page and make your change again" in response.text
    customer.refresh_from_db()
    assert customer.name == "Changed by a teammate"
