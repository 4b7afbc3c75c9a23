"""No dead ends (issue 14): a merchant opens an order from the customer page, goes on to
its subscription, cancels it and takes that back, revokes it; each action is confirmed in
the page first. The customer's email, ID and external ID can be copied."""

import re

from django.urls import reverse
from playwright.sync_api import expect

from orders.models import Order, Subscription
from tests.browser.conftest import ARTIFACTS_DIR, check_page, wait_for_htmx
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def subscription_url(subscription) -> str:
    return reverse(
        "orders:subscription_detail", args=[subscription.organization.slug, subscription.pk]
    )


def make_subscription(organization):
    customer = CustomerFactory(
        organization=organization,
        name="Ada Lovelace",
        email="ada@example.com",
        external_id="crm-42",
    )
    product = ProductFactory(organization=organization, name="Pro monthly", price_amount=2900)
    subscription = SubscriptionFactory(customer=customer, product=product)
    order = OrderFactory(
        customer=customer,
        product=product,
        subscription=subscription,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
        subtotal_amount=2900,
        discount_amount=500,
        tax_amount=480,
    )
    return customer, subscription, order


def stored(subscription) -> Subscription:
    subscription.refresh_from_db()
    return subscription


def test_an_order_opens_from_the_customer_page_and_leads_to_its_subscription(
    owner_page, organization
):
    page = owner_page
    customer, subscription, order = make_subscription(organization)
    page.goto(detail_url(customer))

    orders = page.get_by_role("region", name="Orders")
    orders.get_by_role("link", name=re.compile(r"^Order of .*: Pro monthly$")).click()
    expect(page).to_have_url(re.compile(rf"/orders/{order.pk}/$"))
    amounts = page.get_by_role("region", name="Amounts")
    expect(amounts).to_contain_text("USD 29.00")
    expect(amounts).to_contain_text("\u2212 USD 5.00")
    expect(amounts).to_contain_text("USD 4.80")
    expect(amounts).to_contain_text("USD 28.80")
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("Subscription created")
    expect(details).to_contain_text("Paid")
    page.goto(page.url)  # screenshots of the order page
    page.get_by_role("link", name="billing entries of Ada Lovelace").click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/timeline/\?kind=billing$"))
    expect(page.get_by_role("heading", name="Timeline", exact=True)).to_be_visible()
    page.go_back()

    details.get_by_role("link", name=re.compile("^Pro monthly")).click()
    expect(page).to_have_url(re.compile(rf"/subscriptions/{subscription.pk}/$"))
    expect(page.get_by_role("heading", name="Pro monthly", level=1)).to_be_visible()
    status = page.get_by_role("region", name="Status")
    expect(status).to_contain_text("Active")
    renewals = page.get_by_role("region", name="Periods and renewals")
    expect(renewals.get_by_role("row")).to_have_count(2)  # the header and the one order
    page.goto(page.url)  # screenshots of the subscription page

    # Back to the customer page through the subscription's own link.
    page.get_by_role("link", name="Ada Lovelace").first.click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    page.get_by_role("region", name="Subscriptions").get_by_role("link", name="Pro monthly").click()
    expect(page).to_have_url(re.compile(rf"/subscriptions/{subscription.pk}/$"))


def test_cancel_then_undo_then_revoke_each_asked_in_the_page(owner_page, organization, request):
    page = owner_page
    _customer, subscription, _order = make_subscription(organization)
    page.goto(subscription_url(subscription))
    status = page.get_by_role("region", name="Status")

    confirm = status.get_by_role("button", name="Yes, cancel at period end")
    expect(confirm).to_be_hidden()  # nothing is sent before the question is answered
    status.locator("summary", has_text="Cancel at period end").click()
    expect(confirm).to_be_visible()
    check_page(page, ARTIFACTS_DIR / request.node.name / "cancel-question-open")
    status.get_by_role("button", name="Yes, cancel at period end").click()
    wait_for_htmx(page)
    expect(status.get_by_role("status")).to_contain_text(
        "will be canceled at the end of the current period"
    )
    expect(status).to_contain_text("Set to cancel at the end of the period")
    assert stored(subscription).cancel_at_period_end is True

    status.locator("summary", has_text="Undo cancellation").click()
    status.get_by_role("button", name="Yes, keep it running").click()
    wait_for_htmx(page)
    expect(status.get_by_role("status")).to_contain_text("will renew as usual")
    assert stored(subscription).cancel_at_period_end is False

    status.locator("summary", has_text="Revoke now").click()
    status.get_by_role("button", name="Yes, revoke now").click()
    wait_for_htmx(page)
    expect(status.get_by_role("status")).to_contain_text("was revoked and has ended")
    expect(status).to_contain_text("Revoked: ended immediately")
    expect(status.locator("summary")).to_have_count(0)
    assert stored(subscription).status == Subscription.Status.CANCELED


def test_without_javascript_the_questions_open_and_the_actions_work(
    new_page, sign_in, owner, organization
):
    page = new_page(viewport={"width": 1440, "height": 900}, java_script_enabled=False)
    sign_in(page, owner)
    _customer, subscription, _order = make_subscription(organization)
    page.goto(subscription_url(subscription))
    status = page.get_by_role("region", name="Status")
    status.locator("summary", has_text="Cancel at period end").click()
    status.get_by_role("button", name="Yes, cancel at period end").click()
    expect(page).to_have_url(re.compile(rf"/subscriptions/{subscription.pk}/$"))
    expect(page.get_by_role("status")).to_contain_text("will be canceled")
    assert stored(subscription).cancel_at_period_end is True


def test_the_customers_email_is_a_mail_link_and_its_values_can_be_copied(
    new_page, sign_in, owner, organization, live_server
):
    page = new_page(viewport={"width": 1280, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, owner)
    customer, _subscription, _order = make_subscription(organization)
    page.goto(detail_url(customer))
    details = page.get_by_role("region", name="Details")
    expect(details.get_by_role("link", name="ada@example.com")).to_have_attribute(
        "href", "mailto:ada@example.com"
    )
    for label, value in [
        ("Copy email", "ada@example.com"),
        ("Copy customer ID", str(customer.pk)),
        ("Copy external ID", "crm-42"),
    ]:
        button = details.get_by_role("button", name=label)
        expect(button).to_be_visible()
        button.click()
        expect(button).to_have_class(re.compile(r"\bcopied\b"))
        assert page.evaluate("navigator.clipboard.readText()") == value


def test_without_javascript_the_values_are_plain_text(new_page, sign_in, owner, organization):
    page = new_page(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    sign_in(page, owner)
    customer, _subscription, _order = make_subscription(organization)
    page.goto(detail_url(customer))
    details = page.get_by_role("region", name="Details")
    expect(details.get_by_role("button", name="Copy customer ID")).to_be_hidden()
    expect(details).to_contain_text(str(customer.pk))
    expect(details).to_contain_text("crm-42")
