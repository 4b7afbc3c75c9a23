"""A customer signs in to the hosted portal with a code emailed to them (read from the real
SMTP server on loopback), cancels their subscription at period end, undoes it, and
downloads a receipt as a PDF."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.emails import send_due_emails
from orders.models import Order, Subscription
from tests.browser.conftest import ARTIFACTS_DIR, check_page, safe_file_name
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory


@pytest.fixture
def ada(organization):
    """Ada, with a monthly subscription and its paid first order."""
    customer = CustomerFactory(
        organization=organization, email="ada@example.com", name="Ada Lovelace"
    )
    plan = ProductFactory(organization=organization, name="Pro monthly", price_amount=4900)
    subscription = SubscriptionFactory(customer=customer, product=plan)
    OrderFactory(
        customer=customer,
        product=plan,
        subscription=subscription,
        status=Order.Status.PAID,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
        created_at=timezone.now(),
    )
    return customer


def emailed_code(smtp_server, to: str) -> str:
    """The 6-digit code of the one email the worker delivered to `to`."""
    send_due_emails()
    [message] = [m for m in smtp_server.messages if m["To"] == to]
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"\b(\d{6})\b", text)[1]


def test_a_customer_signs_in_by_emailed_code_cancels_undoes_and_downloads_a_receipt(
    page, ada, organization, smtp_server, request
):
    # The pages reached by clicking are pictured too (at 1440 and 390 px, no sideways
    # scrolling on the phone), beside the ones `goto` opens, in the test's own folder.
    shots = ARTIFACTS_DIR / safe_file_name(request.node.name)
    subscription = Subscription.objects.get(customer=ada)
    page.goto(f"/portal/{organization.slug}/")
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    # The code goes out from the worker, never from the request: nothing has been sent yet.
    assert smtp_server.messages == []
    page.get_by_label("Code").fill(emailed_code(smtp_server, "ada@example.com"))
    page.get_by_role("button", name="Sign in").click()

    subscriptions = page.get_by_role("region", name="Subscriptions")
    expect(subscriptions).to_contain_text("Pro monthly")
    expect(subscriptions).to_contain_text("Renews on")
    expect(page.get_by_text("ada@example.com")).to_be_visible()
    check_page(page, shots / "home")

    # Cancel at period end, through the confirmation page.
    subscriptions.get_by_role("link", name="Cancel subscription").click()
    expect(page.get_by_role("heading", name="Cancel your subscription?")).to_be_visible()
    check_page(page, shots / "cancel")
    page.get_by_role("button", name="Yes, cancel at period end").click()
    expect(subscriptions).to_contain_text("it will not renew")
    check_page(page, shots / "home-canceling")
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end

    # Undo it.
    subscriptions.get_by_role("link", name="Keep subscription").click()
    expect(page.get_by_role("heading", name="Keep your subscription?")).to_be_visible()
    page.get_by_role("button", name="Yes, keep it").click()
    expect(subscriptions).to_contain_text("Renews on")
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end

    # The receipt, then its PDF.
    page.get_by_role("region", name="Orders").get_by_role("link", name="Receipt").click()
    expect(page.get_by_role("heading", name="Receipt", level=1)).to_be_visible()
    expect(page.locator(".receipt")).to_contain_text("USD 49.00")
    check_page(page, shots / "receipt")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename.startswith("receipt-")
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
