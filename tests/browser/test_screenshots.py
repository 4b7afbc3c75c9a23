"""Full-page screenshots of the main pages, saved to test-artifacts/ for a human to look at,
and the layout at a desktop's and a phone's width.

Every page a browser test opens is screenshotted at 1440x900 and 390x844 and checked for
sideways scrolling on the phone by the conftest's `goto`; the last test here opens every
page of the product, so each is pictured and checked. The others assert what makes a
screenshot worth looking at (the data is on the page, the chart drawn) and the layout: the
phone's top bar menu, the detail page's order, the buyer's pages without the dashboard.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Order, Subscription
from tests.browser.conftest import ARTIFACTS_DIR, safe_file_name
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

# Counts the pixels the chart painted (any not fully transparent).
PAINTED_PIXELS = """canvas => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let alpha = 3; alpha < data.length; alpha += 4) if (data[alpha]) painted++;
    return painted;
}"""


@pytest.fixture
def customer_with_history(organization):
    """A customer with a year of paid orders, subscriptions and metadata."""
    now = timezone.now()
    customer = CustomerFactory(
        organization=organization,
        name="Ada Lovelace",
        email="ada@analytical.example",
        external_id="crm-1815",
        billing_name="Analytical Engines Ltd",
        billing_address_line1="12 St James's Square",
        billing_address_postal_code="SW1Y 4JH",
        billing_address_city="London",
        billing_address_country="GB",
        tax_id="GB123456789",
        locale="en-GB",
        created_at=now - timedelta(days=400),
        metadata={"plan": "pro", "seats": 12, "beta": True, "discount": 0.15},
    )
    monthly = ProductFactory(organization=organization, name="Pro monthly", price_amount=4900)
    subscription = SubscriptionFactory(
        customer=customer,
        product=monthly,
        started_at=now - timedelta(days=330),
        current_period_start=now - timedelta(days=10),
    )
    yearly = ProductFactory(
        organization=organization, name="Team yearly", price_amount=39000, recurring_interval="year"
    )
    SubscriptionFactory(
        customer=customer,
        product=yearly,
        status=Subscription.Status.CANCELED,
        recurring_interval="year",
        started_at=now - timedelta(days=390),
        current_period_end=now - timedelta(days=25),
        ended_at=now - timedelta(days=25),
    )
    for months_ago in range(11, -1, -1):
        OrderFactory(
            customer=customer,
            product=monthly,
            subscription=subscription,
            billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE,
            created_at=now - timedelta(days=30 * months_ago + 1),
        )
    add_on = ProductFactory(
        organization=organization, name="Onboarding", price_amount=15000, recurring_interval=None
    )
    OrderFactory(customer=customer, product=add_on, created_at=now - timedelta(days=200))
    return customer


@pytest.fixture
def list_of_customers(organization, customer_with_history):
    for name, email, external_id in [
        ("Grace Hopper", "grace@navy.example", "crm-1906"),
        ("Alan Turing", "alan@bletchley.example", None),
        ("", "anonymous@example.com", None),
        ("Katherine Johnson", "katherine@nasa.example", "crm-1918"),
        ("Edsger Dijkstra", "edsger@eindhoven.example", None),
    ]:
        customer = CustomerFactory(
            organization=organization, name=name, email=email, external_id=external_id
        )
        if external_id:
            SubscriptionFactory(customer=customer)
    return customer_with_history


def expect_revenue_chart_drawn(page) -> None:
    chart = page.locator("canvas#revenue-chart")
    expect(chart).to_have_attribute("data-drawn", "1")
    assert chart.evaluate(PAINTED_PIXELS) > 1000, "the revenue chart is blank"


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def test_screenshot_of_the_customer_list(
    owner_page, organization, list_of_customers, artifacts_dir
):
    page = owner_page
    page.goto(reverse("customers:list", args=[organization.slug]))
    expect(page.locator("#customer-rows a.customer-cell")).to_have_count(6)
    expect(page.locator("#customer-rows .badge.success")).to_have_count(3)

    page.screenshot(path=artifacts_dir / "customer-list.png", full_page=True)


def test_screenshot_of_the_customer_detail(owner_page, customer_with_history, artifacts_dir):
    page = owner_page
    page.goto(detail_url(customer_with_history))
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    expect(page.locator("#metadata-panel .counter")).to_have_text("4 / 50 keys")
    expect(page.get_by_role("region", name="Subscriptions").get_by_role("row")).to_have_count(3)
    expect(page.locator("#order-rows tr")).to_have_count(11)  # 10 orders and "Older orders"
    expect_revenue_chart_drawn(page)

    page.screenshot(path=artifacts_dir / "customer-detail.png", full_page=True)


def test_screenshot_of_the_customer_detail_on_a_phone(
    new_page, sign_in, owner, customer_with_history, artifacts_dir
):
    page = new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    sign_in(page, owner)
    page.goto(detail_url(customer_with_history))
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    expect_revenue_chart_drawn(page)

    page.screenshot(path=artifacts_dir / "customer-detail-phone.png", full_page=True)


def test_the_customer_detail_fits_a_phone_screen(new_page, sign_in, owner, customer_with_history):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(page, owner)
    page.goto(detail_url(customer_with_history))
    expect(page.locator("#metadata-panel td.key")).to_have_count(4)

    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390, f"the page is {page_width}px wide on a 390px screen"


def phone_page(new_page, **options):
    return new_page(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, **options
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_on_a_phone_the_top_bar_is_one_row_with_a_menu(
    new_page, sign_in, owner, organization, javascript
):
    page = phone_page(new_page, java_script_enabled=javascript)
    sign_in(page, owner)
    page.goto(reverse("customers:list", args=[organization.slug]))
    topbar = page.locator("header.topbar")
    assert topbar.bounding_box()["height"] < 60, "the top bar wraps onto several rows"
    products = topbar.get_by_role("link", name="Products")
    expect(products).to_be_hidden()
    expect(topbar.get_by_role("button", name="Sign out")).to_be_hidden()

    topbar.locator("summary", has_text="Menu").click()
    expect(products).to_be_visible()
    expect(topbar.get_by_role("button", name="Sign out")).to_be_visible()
    products.click()
    expect(page.get_by_role("heading", name="Products", level=1)).to_be_visible()


def test_on_a_desktop_the_top_bar_shows_every_link_without_a_menu(owner_page, organization):
    page = owner_page
    page.goto(reverse("customers:list", args=[organization.slug]))
    topbar = page.locator("header.topbar")
    expect(topbar.locator("summary", has_text="Menu")).to_be_hidden()
    nav = topbar.get_by_role("navigation", name="Dashboard")
    for name in ("Customers", "Products", "Settings", "Webhooks"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(topbar.get_by_role("link", name="Password")).to_be_visible()
    assert topbar.bounding_box()["height"] < 60


def test_on_a_phone_the_key_figures_and_subscriptions_come_before_the_details(
    new_page, sign_in, owner, customer_with_history
):
    page = phone_page(new_page)
    sign_in(page, owner)
    page.goto(detail_url(customer_with_history))

    def top(name):
        return page.get_by_role("region", name=name).bounding_box()["y"]

    assert top("Key figures") < top("Subscriptions") < top("Details")


# --- Buyer-facing pages: the merchant's brand, never the merchant's own menu -------------


def expect_buyer_chrome(page, organization) -> None:
    topbar = page.locator("header.topbar")
    expect(topbar).to_contain_text(organization.name)
    for merchant_only in ("Sign out", "Password", "Menu", "Products", "owner"):
        expect(topbar.get_by_text(merchant_only, exact=True)).to_have_count(0)


def test_buyer_pages_show_the_merchants_brand_not_the_dashboard_menu(
    owner_page, organization, browser_errors
):
    # Signed in as the merchant, as when trying their own checkout: still the buyer's view.
    from checkouts.services import checkout_confirm, checkout_create

    page = owner_page
    product = ProductFactory(organization=organization, name="Pro monthly")
    checkout = checkout_create(organization=organization, product=product)
    page.goto(reverse("checkouts:page", args=[checkout.client_secret]))
    expect(page.get_by_role("heading", name="Pro monthly")).to_be_visible()
    expect_buyer_chrome(page, organization)

    done = checkout_create(organization=organization, product=product)
    checkout_confirm(
        checkout=done, customer_email="buyer@example.com", payment_token="tok_test_success"
    )
    page.goto(reverse("checkouts:done", args=[done.client_secret]))
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    expect_buyer_chrome(page, organization)

    expired = checkout_create(organization=organization, product=product)
    type(expired).objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    browser_errors.expect_http_status(410)
    page.goto(reverse("checkouts:page", args=[expired.client_secret]))
    expect(page.get_by_role("heading", name="This checkout has expired")).to_be_visible()
    expect_buyer_chrome(page, organization)


def test_try_checkout_opens_the_hosted_page_in_a_new_tab(owner_page, organization):
    page = owner_page
    ProductFactory(organization=organization, name="Pro monthly")
    page.goto(reverse("orders:products", args=[organization.slug]))
    with page.context.expect_page() as new_tab:
        page.get_by_role("button", name="Try checkout for Pro monthly").click()
    buyer = new_tab.value
    expect(buyer.get_by_role("heading", name="Pro monthly")).to_be_visible()
    expect_buyer_chrome(buyer, organization)
    assert buyer.evaluate("window.opener") is None  # rel=noopener
    expect(page.get_by_role("heading", name="Products", level=1)).to_be_visible()


# --- Every page, at both widths (the conftest's goto screenshots and checks each one) ---


@pytest.fixture
def every_page(organization, other_organization, owner, list_of_customers):
    """Data behind every page: customers with history, products, a webhook endpoint with
    deliveries, checkouts open, paid and expired, and a second organization to choose."""
    from checkouts.services import checkout_confirm, checkout_create
    from customers import services as customer_services
    from tests.factories import MembershipFactory
    from webhooks.models import WebhookEndpoint

    MembershipFactory(user=owner, organization=other_organization, role="member")
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url="https://hooks.example.com/customers",
        events=["customer.created", "customer.updated"],
    )
    customer_services.customer_create(
        organization=organization, email="webhooks@example.com", name="Webhook Watcher"
    )
    product = ProductFactory(organization=organization, name="Pro monthly", price_amount=4900)
    ProductFactory(organization=organization, name="Lifetime", recurring_interval=None)
    open_checkout = checkout_create(organization=organization, product=product)
    paid = checkout_create(organization=organization, product=product)
    checkout_confirm(
        checkout=paid, customer_email="buyer@example.com", payment_token="tok_test_success"
    )
    expired = checkout_create(organization=organization, product=product)
    type(expired).objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    slug, pk = organization.slug, list_of_customers.pk
    from portal.services import customer_session_create

    # The merchant's portal link: it signs Ada in, and the page lands on her account.
    _, portal_token = customer_session_create(customer=list_of_customers)
    portal_home = reverse("portal:home", args=[slug])
    # name: (url, heading, status, signed in)
    return {
        "overview": (reverse("analytics:overview", args=[slug]), "Overview", 200, True),
        "list": (reverse("customers:list", args=[slug]), "Customers", 200, True),
        "list-filtered": (
            reverse("customers:list", args=[slug]) + "?query=a&metadata[plan]=pro",
            "Customers",
            200,
            True,
        ),
        "detail": (reverse("customers:detail", args=[slug, pk]), "Ada Lovelace", 200, True),
        "edit": (reverse("customers:edit", args=[slug, pk]), "Edit profile", 200, True),
        "create": (reverse("customers:create", args=[slug]), "New customer", 200, True),
        "delete": (
            reverse("customers:delete", args=[slug, pk]),
            "Delete Ada Lovelace?",
            200,
            True,
        ),
        "orders": (reverse("customers:orders", args=[slug, pk]), "Older orders", 200, True),
        "products": (reverse("orders:products", args=[slug]), "Products", 200, True),
        "tokens": (reverse("organizations:tokens", args=[slug]), "API access tokens", 200, True),
        "webhooks": (reverse("webhooks:endpoints", args=[slug]), "Webhooks", 200, True),
        "webhook-log": (
            reverse("webhooks:endpoint", args=[slug, endpoint.pk]),
            "Delivery log",
            200,
            True,
        ),
        "webhook-edit": (
            reverse("webhooks:endpoint_edit", args=[slug, endpoint.pk]),
            "Edit https://hooks.example.com/customers",
            200,
            True,
        ),
        "checkout": (
            reverse("checkouts:page", args=[open_checkout.client_secret]),
            "Pro monthly",
            200,
            False,
        ),
        "done": (reverse("checkouts:done", args=[paid.client_secret]), "Thank you!", 200, False),
        "expired": (
            reverse("checkouts:page", args=[expired.client_secret]),
            "This checkout has expired",
            410,
            False,
        ),
        "chooser": (reverse("home"), "Choose an organization", 200, True),
        "login": (reverse("login"), "Sign in", 200, False),
        "password": (reverse("password_change"), "Change your password", 200, True),
        "not-found": ("/dashboard/acme/no-such-page/", "Page not found", 404, True),
        "portal-sign-in": (portal_home, "Your account", 200, False),
        "portal-home": (
            f"{portal_home}?customer_session_token={portal_token}",
            "Your account",
            200,
            False,
        ),
    }


EVERY_PAGE = [
    "list",
    "list-filtered",
    "detail",
    "edit",
    "create",
    "delete",
    "orders",
    "products",
    "tokens",
    "webhooks",
    "webhook-log",
    "webhook-edit",
    "checkout",
    "done",
    "expired",
    "chooser",
    "login",
    "password",
    "not-found",
    "portal-sign-in",
    "portal-home",
]


@pytest.mark.parametrize("name", EVERY_PAGE)
def test_every_page_at_a_desktops_and_a_phones_width(
    page, sign_in, owner, every_page, name, browser_errors, request
):
    url, heading, status, signed_in = every_page[name]
    if signed_in:
        sign_in(page, owner)
    if status >= 400:
        browser_errors.expect_http_status(status)
    response = page.goto(url)  # screenshots at 1440 and 390 px, fails on sideways scrolling
    assert response.status == status
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    folder = ARTIFACTS_DIR / safe_file_name(request.node.name)
    assert len(list(folder.glob("01-*-1440.png"))) == len(list(folder.glob("01-*-390.png"))) == 1


@pytest.mark.parametrize(("width", "menu"), [(820, True), (1024, True), (1100, False)])
def test_between_a_phone_and_a_desktop_the_top_bar_is_one_row_too(
    new_page, sign_in, owner, organization, width, menu
):
    page = new_page(viewport={"width": width, "height": 800})
    sign_in(page, owner)
    page.goto(reverse("webhooks:endpoints", args=[organization.slug]))
    topbar = page.locator("header.topbar")
    assert topbar.bounding_box()["height"] < 60
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    expect(topbar.locator("summary", has_text="Menu")).to_be_visible(visible=menu)
    expect(topbar.get_by_role("button", name="Sign out")).to_be_visible(visible=not menu)
