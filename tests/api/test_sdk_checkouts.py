"""Checkouts through polar-sdk against a live server: the merchant's backend creates a
checkout, the buyer completes it through the client endpoints."""

import pytest
from polar.base import PolarClientError
from polar.v2026_10 import errors

from customers.models import Customer
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def monthly(organization):
    return ProductFactory(organization=organization, price_amount=2900, recurring_interval="month")


def test_a_checkout_creates_the_customer_with_its_metadata_and_external_id(sdk, monthly):
    checkout = sdk.checkouts.create(
        products=[str(monthly.pk)],
        customer_email="bea@example.com",
        external_customer_id="usr_bea",
        customer_metadata={"source": "sdk", "seats": 2, "beta": True},
        metadata={"campaign": "winter"},
        success_url="https://shop.example.com/thanks",
    )
    assert checkout.status == "open"
    assert checkout.url.endswith(f"/checkout/{checkout.client_secret}/")
    assert checkout.customer_metadata == {"source": "sdk", "seats": 2, "beta": True}
    assert checkout.total_amount == 2900

    public = sdk.checkouts.client_update(checkout.client_secret, customer_name="Bea")
    assert (public.customer_name, public.organization.slug) == ("Bea", "acme")
    confirmed = sdk.checkouts.client_confirm(
        checkout.client_secret, confirmation_token_id="tok_test_success"
    )
    assert confirmed.status == "confirmed"
    assert sdk.checkouts.get(checkout.id).status == "succeeded"

    customer = sdk.customers.get_external("usr_bea")
    assert customer.metadata == {"source": "sdk", "seats": 2, "beta": True}
    assert customer.name == "Bea"
    subscriptions = sdk.subscriptions.list(external_customer_id="usr_bea").items
    assert [s.status for s in subscriptions] == ["active"]
    orders = sdk.orders.list(external_customer_id="usr_bea").items
    assert [o.billing_reason for o in orders] == ["subscription_create"]


def test_a_second_checkout_for_the_same_email_merges_metadata(sdk, organization, monthly):
    CustomerFactory(
        organization=organization, email="bea@example.com", metadata={"plan": "pro", "seats": 1}
    )
    checkout = sdk.checkouts.create(
        products=[str(monthly.pk)],
        customer_email="BEA@example.com",
        customer_metadata={"seats": 4},
    )
    sdk.checkouts.client_confirm(checkout.client_secret, confirmation_token_id="tok_test_success")
    customer = Customer.objects.for_org(organization).get()
    assert customer.metadata == {"plan": "pro", "seats": 4}


def test_a_declined_payment_is_a_payment_error_and_creates_nothing(sdk, monthly):
    checkout = sdk.checkouts.create(products=[str(monthly.pk)], customer_email="c@example.com")
    with pytest.raises(errors.PaymentError) as error:
        sdk.checkouts.client_confirm(
            checkout.client_secret, confirmation_token_id="tok_test_decline"
        )
    assert error.value.status_code == 400
    assert "declined" in error.value.error.detail
    assert (Customer.objects.count(), Order.objects.count(), Subscription.objects.count()) == (
        0,
        0,
        0,
    )
    assert sdk.checkouts.client_get(checkout.client_secret).status == "open"


def test_invalid_customer_metadata_is_a_422_naming_the_key(sdk, monthly):
    with pytest.raises(errors.HTTPValidationError) as error:
        sdk.checkouts.create(products=[str(monthly.pk)], customer_metadata={"plan": ""})
    (detail,) = error.value.error.detail
    assert detail.loc == ["body", "customer_metadata", "plan"]
    assert detail.msg == "Metadata value for 'plan' must not be an empty string."


def test_an_external_id_of_another_customer_is_refused_at_confirm(sdk, organization, monthly):
    CustomerFactory(organization=organization, email="owner@example.com", external_id="usr_1")
    checkout = sdk.checkouts.create(
        products=[str(monthly.pk)], customer_email="new@example.com", external_customer_id="usr_1"
    )
    with pytest.raises(errors.HTTPValidationError) as error:
        sdk.checkouts.client_confirm(
            checkout.client_secret, confirmation_token_id="tok_test_success"
        )
    assert error.value.error.detail[0].loc == ["body", "external_customer_id"]
    assert Order.objects.count() == 0


def test_confirming_twice_creates_one_order(sdk, monthly):
    checkout = sdk.checkouts.create(products=[str(monthly.pk)], customer_email="d@example.com")
    for _ in range(2):
        sdk.checkouts.client_confirm(
            checkout.client_secret, confirmation_token_id="tok_test_success"
        )
    assert Order.objects.count() == 1


def test_checkout_scopes_are_required(live_server, make_token, organization, monthly):
    from polar.v2026_10 import Polar

    token = make_token(organization, ["customers:read"])
    with (
        Polar(token, base_url=live_server.url) as polar,
        pytest.raises(PolarClientError) as error,
    ):
        polar.checkouts.create(products=[str(monthly.pk)])
    assert error.value.status_code == 403


def test_another_organizations_product_cannot_be_sold(outsider_sdk, monthly):
    with pytest.raises(errors.HTTPValidationError):
        outsider_sdk.checkouts.create(products=[str(monthly.pk)])


@pytest.mark.django_db
def test_an_unknown_billing_country_is_refused_when_the_checkout_is_updated(api, organization):
    from checkouts import services as checkout_services

    product = ProductFactory(organization=organization)
    checkout = checkout_services.checkout_create(organization=organization, product=product)
    address = {"country": "ZZ", "line1": "1 Main St"}
    response = api.patch(
        f"/v1/checkouts/client/{checkout.client_secret}",
        data={"customer_billing_address": address},
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert "ISO 3166-1" in str(response.json()["detail"])
    checkout.refresh_from_db()
    assert checkout.customer_billing_address_country == ""
