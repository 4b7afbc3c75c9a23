"""A customer's Figures section in a real browser: it loads into the customer page, a
merchant changes the range (the page's URL follows, so a reload keeps it), reads a figure
and the table view; a customer with one order gets narrow bars on an axis of every day;
the section keeps to the CSP, also when the back button restores it; without JavaScript
the link leads to a page of its own; and screenshots at a desktop's and a phone's width
(test-artifacts/customer-figures-*.png)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Order
from tests.browser.conftest import ARTIFACTS_DIR, wait_for_htmx
from tests.browser.test_csp import visit
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

PAINTED_PIXELS = """canvas => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let alpha = 3; alpha < data.length; alpha += 4) if (data[alpha]) painted++;
    return painted;
}"""
# The widest bar Chart.js drew, in CSS pixels.
WIDEST_BAR = """canvas => {
    const chart = window.Chart.getChart(canvas);
    return Math.max(...chart.data.datasets.flatMap((_, i) =>
        chart.getDatasetMeta(i).data.map(bar => bar.width)));
}"""


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def card(page, slug):
    return page.locator(f'#customer-figures [data-card="{slug}"] [data-figure]')


@pytest.fixture
def regular(organization):
    """A customer of a year and a half: an order a month, a monthly plan, one euro order."""
    now = timezone.now()
    customer = CustomerFactory(organization=organization, name="Ada Lovelace",
                               created_at=now - timedelta(days=540))  # fmt: skip
    guide = ProductFactory(organization=organization, name="Field guide", price_amount=1900,
                           recurring_interval=None)  # fmt: skip
    plan = ProductFactory(organization=organization, name="Pro monthly", price_amount=4900)
    for month in range(18):
        OrderFactory(customer=customer, product=guide, subtotal_amount=1900 + 300 * (month % 5),
                     created_at=now - timedelta(days=30 * month + 3))  # fmt: skip
    subscription = SubscriptionFactory(customer=customer, product=plan,
                                       started_at=now - timedelta(days=60))  # fmt: skip
    for days in (60, 30, 0):
        OrderFactory(customer=customer, product=plan, subscription=subscription,
                     billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE,
                     created_at=now - timedelta(days=days, minutes=5))  # fmt: skip
    euros = ProductFactory(organization=organization, price_currency="eur", price_amount=1700,
                           recurring_interval=None)  # fmt: skip
    OrderFactory(customer=customer, product=euros, created_at=now - timedelta(days=100))
    return customer


@pytest.fixture
def one_order(organization):
    now = timezone.now()
    customer = CustomerFactory(organization=organization, name="Grace Hopper",
                               created_at=now - timedelta(days=3))  # fmt: skip
    OrderFactory(customer=customer, subtotal_amount=4900, created_at=now - timedelta(days=2))
    return customer


def test_a_merchant_changes_the_range_and_the_page_keeps_it(owner_page, regular):
    page = owner_page
    page.goto(detail_url(regular))
    section = page.get_by_role("region", name="Figures", exact=True)
    expect(section.get_by_label("Range", exact=True)).to_have_value("lifetime")
    expect(page.locator("[data-figures-summary]")).to_contain_text("by month")
    expect(section.locator("[data-other-currencies]")).to_contain_text("EUR 17.00 in 1 order")
    chart = page.locator("canvas#revenue-chart")
    expect(chart).to_have_attribute("data-drawn", "1")
    assert chart.evaluate(PAINTED_PIXELS) > 1000, "the revenue chart is blank"

    section.get_by_label("Range", exact=True).select_option(label="Last 7 days")
    wait_for_htmx(page)
    expect(page.locator("[data-figures-summary]")).to_contain_text("by month")  # kept
    section.get_by_label("By", exact=True).select_option("day")
    wait_for_htmx(page)
    expect(page.locator("[data-figures-summary]")).to_contain_text("by day")
    # The last 7 days: the guide of three days ago (19.00) and today's renewal (49.00).
    expect(card(page, "orders")).to_have_text("2")
    expect(card(page, "revenue")).to_have_text("USD 68.00")
    assert f"{detail_url(regular)}?" in page.url and "range=7d" in page.url  # pushed
    expect(page.locator("canvas#revenue-chart")).to_have_attribute("data-drawn", "1")

    # The table view has the same numbers, a row per day.
    table = section.locator("details.chart-table")
    table.locator("summary").click()
    expect(table.get_by_role("row")).to_have_count(8)  # the header and seven days

    # A reload keeps the range; so does the back button's page.
    page.reload()
    section = page.get_by_role("region", name="Figures", exact=True)
    expect(section.get_by_label("Range", exact=True)).to_have_value("7d")
    expect(card(page, "orders")).to_have_text("2")


def test_one_order_draws_narrow_bars_on_an_axis_of_every_day(owner_page, one_order):
    page = owner_page
    page.goto(detail_url(one_order))
    section = page.get_by_role("region", name="Figures", exact=True)
    expect(section.get_by_label("Range", exact=True)).to_have_value("30d")
    chart = page.locator("canvas#revenue-chart")
    expect(chart).to_have_attribute("data-drawn", "1")
    assert chart.evaluate("c => window.Chart.getChart(c).data.labels.length") == 30
    assert chart.evaluate(WIDEST_BAR) <= 36
    # Even a range of one period (the order's day) keeps its bars narrow.
    day = (timezone.now() - timedelta(days=2)).date().isoformat()
    page.goto(f"{detail_url(one_order)}?range=custom&start={day}&end={day}&interval=day")
    chart = page.locator("canvas#revenue-chart")
    expect(chart).to_have_attribute("data-drawn", "1")
    assert chart.evaluate("c => window.Chart.getChart(c).data.labels.length") == 1
    assert chart.evaluate(WIDEST_BAR) <= 36
    expect(card(page, "revenue")).to_have_text("USD 49.00")


def test_bad_dates_show_the_error_beside_the_field(owner_page, browser_errors, regular):
    browser_errors.expect_http_status(422)
    page = owner_page
    page.goto(detail_url(regular))
    section = page.get_by_role("region", name="Figures", exact=True)
    section.get_by_label("From", exact=True).fill("2026-03-30")
    wait_for_htmx(page)
    section.get_by_label("To", exact=True).fill("2026-03-01")
    wait_for_htmx(page)
    expect(page.locator("#figures-end-error")).to_contain_text("comes before the first")
    expect(page.get_by_text("Correct the range above")).to_be_visible()


def test_the_section_keeps_to_the_policy(owner_page, regular):
    page = owner_page
    visit(page, detail_url(regular) + "?range=90d")
    expect(page.locator("canvas#revenue-chart")).to_have_attribute("data-drawn", "1")
    page.get_by_role("region", name="Figures", exact=True).get_by_label(
        "By", exact=True
    ).select_option("week")
    wait_for_htmx(page)
    expect(page.locator("[data-figures-summary]")).to_contain_text("by week")
    expect(page.locator("canvas#revenue-chart")).to_have_attribute("data-drawn", "1")
    assert page.evaluate("window.__cspViolations") == []


def test_without_javascript_the_link_leads_to_the_figures(
    browser, live_server, sign_in, owner, regular
):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, owner)
        page.goto(detail_url(regular))
        page.get_by_role("link", name="Figures and revenue chart").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Figures of Ada Lovelace")
        page.get_by_label("Range", exact=True).select_option("7d")
        page.get_by_label("By", exact=True).select_option("day")
        page.get_by_role("button", name="Show").click()
        expect(card(page, "orders")).to_have_text("2")
        page.locator("details.chart-table summary").click()
        expect(page.locator("details.chart-table").get_by_role("row")).to_have_count(8)
        page.get_by_role("link", name="← Back to Ada Lovelace").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
        assert "range=7d" in page.url
    finally:
        context.close()


def test_screenshots_of_the_customer_figures(new_page, sign_in, owner, regular, one_order):
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    for name, customer in (("regular", regular), ("one-order", one_order)):
        for width, height in ((1280, 900), (390, 844)):
            page = new_page(viewport={"width": width, "height": height})
            sign_in(page, owner)
            page.goto(detail_url(customer))
            chart = page.locator("canvas#revenue-chart")
            expect(chart).to_have_attribute("data-drawn", "1")
            assert chart.evaluate(PAINTED_PIXELS) > 500, "the revenue chart is blank"
            page.screenshot(
                path=ARTIFACTS_DIR / f"customer-figures-{name}-{width}.png", full_page=True
            )
            section = page.locator("#customer-figures")
            section.screenshot(path=ARTIFACTS_DIR / f"customer-figures-{name}-section-{width}.png")


def test_back_restores_the_previous_range_with_its_chart(owner_page, regular):
    page = owner_page
    visit(page, detail_url(regular))
    expect(page.locator("canvas#revenue-chart")).to_have_attribute("data-drawn", "1")
    section = page.get_by_role("region", name="Figures", exact=True)
    section.get_by_label("Range", exact=True).select_option(label="Last 90 days")
    wait_for_htmx(page)
    expect(section.get_by_label("Range", exact=True)).to_have_value("90d")
    assert "range=90d" in page.url
    page.go_back()
    expect(
        page.get_by_role("region", name="Figures", exact=True).get_by_label("Range", exact=True)
    ).to_have_value("lifetime")
    chart = page.locator("canvas#revenue-chart")
    expect(chart).to_have_attribute("data-drawn", "1")
    page.wait_for_function("c => window.Chart.getChart(c)", arg=chart.element_handle())
    assert chart.evaluate(PAINTED_PIXELS) > 1000, "the restored chart is blank"
    assert page.evaluate("window.__cspViolations") == []
