"""Completing a checkout: the customer, order and subscription a purchase creates."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from checkouts import services
from checkouts.models import Checkout, CheckoutError
from customers.models import Customer
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db
PAY = "tok_test_success"
DECLINE = "tok_test_decline"


@pytest.fixture
def monthly(organization):
    return ProductFactory(organization=organization, price_amount=2900, recurring_interval="month")


@pytest.fixture
def ebook(organization):
    return ProductFactory(organization=organization, price_amount=1900, recurring_interval=None)


def open_checkout(organization, product, **kwargs):
    kwargs.setdefault("customer_email", "ada@example.com")
    return services.checkout_create(organization=organization, product=product, **kwargs)


def counts():
    return Customer.objects.count(), Order.objects.count(), Subscription.objects.count()


def test_a_first_purchase_creates_the_customer_with_external_id_and_metadata(organization, monthly):
    checkout = open_checkout(
        organization,
        monthly,
        customer_name="Ada",
        external_customer_id="usr_1",
        customer_metadata={"source": "ads", "seats": 3},
    )
    done = services.checkout_confirm(checkout=checkout, payment_token=PAY)

    customer = Customer.objects.for_org(organization).get(email="ada@example.com")
    assert (customer.name, customer.external_id) == ("Ada", "usr_1")
    assert customer.metadata == {"source": "ads", "seats": 3}
    assert done.status == Checkout.Status.SUCCEEDED
    assert done.order.billing_reason == Order.BillingReason.SUBSCRIPTION_CREATE
    assert done.order.total_amount == 2900
    assert done.subscription.status == Subscription.Status.ACTIVE
    assert done.subscription.payment_method_token == PAY
    assert done.order.subscription == done.subscription


def test_a_one_time_product_creates_a_purchase_order_and_no_subscription(organization, ebook):
    done = services.checkout_confirm(checkout=open_checkout(organization, ebook), payment_token=PAY)
    assert done.order.billing_reason == Order.BillingReason.PURCHASE
    assert done.subscription is None
    assert Subscription.objects.count() == 0


def test_a_returning_buyer_gets_metadata_merged_with_the_checkouts_keys_winning(
    organization, ebook
):
    customer = CustomerFactory(
        organization=organization,
        email="Ada@Example.com",
        name="Ada Lovelace",
        external_id="usr_1",
        metadata={"plan": "pro", "seats": 1},
    )
    checkout = open_checkout(
        organization,
        ebook,
        customer_email="ada@example.COM",
        customer_name="Someone Else",
        customer_billing_address_country="gb",
        customer_billing_address_city="London",
        customer_metadata={"seats": 5, "source": "newsletter"},
    )
    services.checkout_confirm(checkout=checkout, payment_token=PAY)

    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro", "seats": 5, "source": "newsletter"}
    assert customer.name == "Ada Lovelace"  # filled only when empty
    assert customer.external_id == "usr_1"
    assert (customer.billing_address_country, customer.billing_address_city) == ("GB", "London")
    assert Customer.objects.count() == 1


def test_a_returning_buyer_without_an_external_id_gets_the_checkouts(organization, ebook):
    customer = CustomerFactory(organization=organization, email="ada@example.com", name="")
    checkout = open_checkout(organization, ebook, external_customer_id="usr_9", customer_name="Ada")
    services.checkout_confirm(checkout=checkout, payment_token=PAY)
    customer.refresh_from_db()
    assert (customer.external_id, customer.name) == ("usr_9", "Ada")


@pytest.mark.parametrize("conflict", ["buyer_has_another_id", "id_held_by_someone_else"])
def test_an_external_id_naming_a_different_customer_fails_and_writes_nothing(
    organization, ebook, conflict
):
    if conflict == "buyer_has_another_id":
        CustomerFactory(organization=organization, email="ada@example.com", external_id="usr_1")
    else:
        CustomerFactory(organization=organization, email="bob@example.com", external_id="usr_2")
    checkout = open_checkout(organization, ebook, external_customer_id="usr_2")
    before = counts()
    with pytest.raises(CheckoutError, match="belongs to another customer") as error:
        services.checkout_confirm(checkout=checkout, payment_token=PAY)
    assert error.value.field == "external_customer_id"
    assert counts() == before
    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.OPEN


def test_completing_twice_creates_one_order(organization, monthly):
    checkout = open_checkout(organization, monthly)
    services.checkout_confirm(checkout=checkout, payment_token=PAY)
    services.checkout_confirm(checkout=checkout, payment_token=PAY)
    assert counts() == (1, 1, 1)


def test_a_declined_payment_writes_nothing_and_leaves_the_checkout_open(organization, monthly):
    checkout = open_checkout(organization, monthly, customer_metadata={"a": 1})
    with pytest.raises(CheckoutError, match="declined") as error:
        services.checkout_confirm(checkout=checkout, payment_token=DECLINE)
    assert (error.value.error, error.value.status) == ("PaymentError", 400)
    assert counts() == (0, 0, 0)
    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.OPEN
    services.checkout_confirm(checkout=checkout, payment_token=PAY)  # a second try pays
    assert counts() == (1, 1, 1)


def test_merged_metadata_over_50_keys_is_refused_before_any_charge(organization, ebook):
    CustomerFactory(
        organization=organization,
        email="ada@example.com",
        metadata={f"k{i}": i for i in range(50)},
    )
    checkout = open_checkout(organization, ebook, customer_metadata={"one_more": 1})
    with pytest.raises(ValidationError) as error:
        services.checkout_confirm(checkout=checkout, payment_token=PAY)
    assert "at most 50 keys" in str(error.value.message_dict["customer_metadata"])
    assert Order.objects.count() == 0


def test_invalid_customer_metadata_is_refused_at_creation(organization, ebook):
    with pytest.raises(ValidationError) as error:
        open_checkout(organization, ebook, customer_metadata={"k" * 41: 1})
    assert "keys can be at most 40" in str(error.value.message_dict["customer_metadata"])


def test_an_email_is_required_to_pay(organization, ebook):
    checkout = open_checkout(organization, ebook, customer_email="")
    with pytest.raises(ValidationError) as error:
        services.checkout_confirm(checkout=checkout, payment_token=PAY)
    assert error.value.message_dict == {"customer_email": ["Enter your email address."]}


def test_an_expired_checkout_cannot_be_paid_or_changed(organization, ebook):
    checkout = open_checkout(organization, ebook)
    Checkout.objects.filter(pk=checkout.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CheckoutError) as error:
        services.checkout_confirm(checkout=checkout, payment_token=PAY)
    assert (error.value.error, error.value.status) == ("ExpiredCheckoutError", 410)
    with pytest.raises(CheckoutError):
        services.checkout_update(checkout=checkout, customer_name="Late")


def test_a_completed_checkout_is_locked_against_changes(organization, ebook):
    checkout = open_checkout(organization, ebook)
    services.checkout_confirm(checkout=checkout, payment_token=PAY)
    with pytest.raises(CheckoutError) as error:
        services.checkout_update(checkout=checkout, customer_name="Changed")
    assert (error.value.error, error.value.status) == ("CheckoutLocked", 409)


def test_archived_and_foreign_products_cannot_be_sold(organization, other_organization):
    archived = ProductFactory(organization=organization, is_archived=True)
    theirs = ProductFactory(organization=other_organization)
    for product, message in ((archived, "archived"), (theirs, "another organization")):
        with pytest.raises(ValidationError, match=message):
            services.checkout_create(organization=organization, product=product)
