"""The overview page in a real browser: a merchant changes the range, reads a figure, opens
a chart's table view and reads a number from it; and screenshots of a year of data at a
desktop's and a phone's width (test-artifacts/overview-1280.png, overview-390.png)."""

import random
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Order, Subscription
from tests.analytics import conftest as analytics_fixtures
from tests.browser.conftest import ARTIFACTS_DIR, wait_for_htmx
from tests.browser.test_csp import visit
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

# Counts the pixels a chart painted (any not fully transparent).
PAINTED_PIXELS = """canvas => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let alpha = 3; alpha < data.length; alpha += 4) if (data[alpha]) painted++;
    return painted;
}"""


shop = analytics_fixtures.shop  # the hand-computed fixture, 28-30 March 2026 in Paris


def overview_url(organization) -> str:
    return reverse("analytics:overview", args=[organization.slug])


def card(page, slug):
    return page.locator(f'[data-currency-section="usd"] [data-card="{slug}"]')


def test_a_merchant_changes_the_range_and_reads_the_figures(owner_page, organization, shop):
    page = owner_page
    page.goto(overview_url(organization))
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.get_by_text("Days are Europe/Paris days")).to_be_visible()

    # A named range: the menu alone sends the form (htmx), the summary follows.
    page.get_by_label("Range", exact=True).select_option(label="Last 7 days")
    wait_for_htmx(page)
    expect(page.get_by_label("Range", exact=True)).to_have_value("7d")
    expect(page.locator("[data-overview-summary]")).to_contain_text("by day")

    # The fixture's days: typing a date makes the range a custom one.
    page.get_by_label("From", exact=True).fill("2026-03-28")
    wait_for_htmx(page)
    page.get_by_label("To", exact=True).fill("2026-03-30")
    wait_for_htmx(page)
    expect(page.get_by_label("Range", exact=True)).to_have_value("custom")
    expect(page.locator("[data-overview-summary]")).to_contain_text(
        "Mar 28, 2026 \u2013 Mar 30, 2026"
    )
    expect(card(page, "revenue").locator("[data-figure]")).to_have_text("USD 125.00")
    expect(card(page, "net_revenue").locator("[data-figure]")).to_have_text("USD 95.00")
    expect(card(page, "monthly_recurring_revenue").locator("[data-figure]")).to_have_text(
        "USD 20.00"
    )
    assert "/dashboard/acme/?" in page.url and "start=2026-03-28" in page.url  # pushed

    # The charts are drawn; the revenue chart's table view has the 30th's revenue.
    chart = page.locator('canvas[data-overview-chart="revenue-data-usd"]')
    expect(chart).to_have_attribute("data-drawn", "1")
    assert chart.evaluate(PAINTED_PIXELS) > 500, "the revenue chart is blank"
    revenue = page.get_by_role("region", name="Revenue", exact=True)
    table = revenue.locator("details.chart-table")
    expect(table.get_by_role("table")).to_be_hidden()
    table.locator("summary").click()
    row = table.get_by_role("row").filter(has_text="Mar 30, 2026")
    expect(row.get_by_role("cell").first).to_have_text("USD 110.00")
    expect(row.get_by_role("cell").nth(1)).to_have_text("USD 80.00")  # less 30.00 refunded

    # The lists link to the customers.
    top = page.get_by_role("region", name="Top customers")
    top.get_by_role("link", name=shop["bob"].name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(shop["bob"].name)
    assert str(shop["bob"].pk) in page.url


def test_the_overview_and_its_swaps_keep_to_the_policy(owner_page, organization, shop):
    page = owner_page
    visit(page, overview_url(organization) + "?range=custom&start=2026-03-28&end=2026-03-30")
    expect(page.locator('canvas[data-overview-chart="mrr-data-usd"]')).to_have_attribute(
        "data-drawn", "1"
    )
    page.get_by_label("By", exact=True).select_option("week")
    wait_for_htmx(page)
    expect(page.locator("[data-overview-summary]")).to_contain_text("by week")
    expect(page.locator('canvas[data-overview-chart="revenue-data-eur"]')).to_have_attribute(
        "data-drawn", "1"
    )
    assert page.evaluate("window.__cspViolations") == []


def test_back_restores_the_previous_range_with_its_charts(owner_page, organization, shop):
    page = owner_page
    visit(page, overview_url(organization) + "?range=custom&start=2026-03-28&end=2026-03-30")
    chart = page.locator('canvas[data-overview-chart="revenue-data-usd"]')
    expect(chart).to_have_attribute("data-drawn", "1")
    page.get_by_label("By", exact=True).select_option("week")
    wait_for_htmx(page)
    expect(page.locator("[data-overview-summary]")).to_contain_text("by week")
    page.go_back()
    expect(page.get_by_label("By", exact=True)).to_have_value("day")
    page.wait_for_function("c => window.Chart.getChart(c)", arg=chart.element_handle())
    assert chart.evaluate(PAINTED_PIXELS) > 500, "the restored chart is blank"
    assert page.evaluate("window.__cspViolations") == []


def test_without_javascript_the_form_still_works(
    browser, live_server, sign_in, organization, owner, shop
):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, owner)
        page.goto(overview_url(organization))
        page.get_by_label("Range", exact=True).select_option("custom")
        page.get_by_label("From", exact=True).fill("2026-03-28")
        page.get_by_label("To", exact=True).fill("2026-03-30")
        page.get_by_role("button", name="Show").click()
        expect(card(page, "orders").locator("[data-figure]")).to_have_text("4")
        # The table view needs no script: a <details>.
        page.get_by_role("region", name="Revenue", exact=True).locator("summary").click()
        expect(page.get_by_role("row").filter(has_text="Mar 29, 2026").first).to_be_visible()
    finally:
        context.close()


@pytest.fixture
def a_year_of_sales(organization):
    """A shop with two years of orders and subscriptions up to today, and a product in euros."""
    rng = random.Random(17)
    now = timezone.now()
    monthly = ProductFactory(organization=organization, name="Pro monthly", price_amount=2900)
    yearly = ProductFactory(
        organization=organization, name="Team yearly", price_amount=29000, recurring_interval="year"
    )
    ebook = ProductFactory(
        organization=organization, name="Field guide", price_amount=1900, recurring_interval=None
    )
    euro = ProductFactory(organization=organization, name="Guide (EUR)", price_amount=1700,
                          price_currency="eur", recurring_interval=None)  # fmt: skip
    names = [
        "Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov",
        "Donald Knuth", "Margaret Hamilton", "Ken Thompson", "Radia Perlman", "John Backus",
    ]  # fmt: skip
    for index, name in enumerate(names * 3):
        joined = now - timedelta(days=rng.randint(1, 700))
        customer = CustomerFactory(
            organization=organization,
            name=name if index < len(names) else f"{name} {index // len(names) + 1}",
            email=f"customer{index}@example.com",
            created_at=joined,
        )
        if index % 3 == 0:
            product = yearly if index % 2 else monthly
            subscription = SubscriptionFactory(
                customer=customer,
                product=product,
                recurring_interval=product.recurring_interval,
                started_at=joined,
                status=Subscription.Status.PAST_DUE if index == 3 else Subscription.Status.ACTIVE,
                cancel_at_period_end=index == 6,
            )
            OrderFactory(customer=customer, product=product, subscription=subscription,
                         billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
                         created_at=joined)  # fmt: skip
            moment = joined + timedelta(days=30)
            while product == monthly and moment < now:
                OrderFactory(customer=customer, product=product, subscription=subscription,
                             billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE,
                             created_at=moment)  # fmt: skip
                moment += timedelta(days=30)
        for _ in range(rng.randint(0, 3)):
            OrderFactory(customer=customer, product=ebook,
                         created_at=joined + timedelta(days=rng.randint(0, 30)))  # fmt: skip
        if index % 5 == 0:
            OrderFactory(customer=customer, product=euro, created_at=joined)


def test_screenshots_of_the_overview(new_page, sign_in, owner, organization, a_year_of_sales):
    for width, height in ((1280, 900), (390, 844)):
        page = new_page(viewport={"width": width, "height": height})
        sign_in(page, owner)
        page.goto(overview_url(organization) + "?range=12m&interval=month")
        expect(card(page, "revenue").locator("[data-figure]")).not_to_have_text("USD 0.00")
        chart = page.locator('canvas[data-overview-chart="revenue-data-usd"]')
        expect(chart).to_have_attribute("data-drawn", "1")
        assert chart.evaluate(PAINTED_PIXELS) > 1000, "the revenue chart is blank"
        expect(page.get_by_role("heading", name="In EUR", exact=True)).to_be_visible()
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS_DIR / f"overview-{width}.png", full_page=True)
