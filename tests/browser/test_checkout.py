"""A buyer completes a checkout on the hosted page, as the merchant's backend set it up
through polar-sdk: the customer appears with the checkout's external ID and metadata."""

import re

from playwright.sync_api import expect
from polar.v2026_10 import Polar

from customers.models import Customer
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, ProductFactory


def test_a_buyer_pays_on_the_hosted_page_and_becomes_a_customer(
    page, live_server, token, organization
):
    product = ProductFactory(
        organization=organization, name="Pro monthly", price_amount=2900, recurring_interval="month"
    )
    with Polar(token, base_url=live_server.url, timeout=30) as polar:
        checkout = polar.checkouts.create(
            products=[str(product.pk)],
            external_customer_id="usr_bea",
            customer_metadata={"source": "newsletter", "seats": 3},
        )

    page.goto(checkout.url)
    expect(page.get_by_role("heading", name="Pro monthly")).to_be_visible()
    expect(page.get_by_text("Test mode.")).to_be_visible()
    page.get_by_label("Email").fill("bea@example.com")
    page.get_by_label("Full name").fill("Bea Buyer")
    page.get_by_label("Payment succeeds").check()
    page.get_by_role("button", name=re.compile("^Pay ")).click()

    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    customer = Customer.objects.for_org(organization).get(email="bea@example.com")
    assert (customer.external_id, customer.name) == ("usr_bea", "Bea Buyer")
    assert customer.metadata == {"source": "newsletter", "seats": 3}
    assert Subscription.objects.filter(customer=customer, status="active").count() == 1
    assert Order.objects.filter(customer=customer).count() == 1


def test_a_declined_card_shows_the_error_and_creates_nothing(page, browser_errors, organization):
    from checkouts.services import checkout_create

    product = ProductFactory(organization=organization, recurring_interval=None)
    checkout = checkout_create(organization=organization, product=product)
    page.goto(f"/checkout/{checkout.client_secret}/")
    page.get_by_label("Email").fill("dan@example.com")
    page.get_by_label("Card is declined").check()
    browser_errors.expect_http_status(402)  # the page answers a declined payment with 402
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page.get_by_role("alert")).to_contain_text("Your card was declined.")
    assert not Customer.objects.filter(email="dan@example.com").exists()


def test_a_second_purchase_merges_the_checkouts_metadata(page, organization):
    from checkouts.services import checkout_create

    CustomerFactory(organization=organization, email="bea@example.com", metadata={"plan": "pro"})
    product = ProductFactory(organization=organization, recurring_interval=None)
    checkout = checkout_create(
        organization=organization, product=product, customer_metadata={"plan": "team", "n": 1}
    )
    page.goto(f"/checkout/{checkout.client_secret}/")
    page.get_by_label("Email").fill("BEA@example.com")
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    customer = Customer.objects.for_org(organization).get()
    assert customer.metadata == {"plan": "team", "n": 1}
