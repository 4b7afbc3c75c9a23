"""One customer's figures (analytics:customer_figures, loaded into the customer page):
hand-computed figures and changes, the default range for a new and an old customer, the
chart's periods, no orders, bad controls, access, the page without JavaScript, the htmx
section and its pushed URL, and the query count."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.compute import Filters, compute
from analytics.customer_figures import FORM_ID, lifetime_dates
from customers import services
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 30, 15, 0, tzinfo=UTC)  # the 30th is partial
# Two weeks, against the two weeks before (1-14 March).
CUSTOM = {"range": "custom", "start": "2026-03-15", "end": "2026-03-28", "interval": "week"}


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setattr("analytics.views.timezone.now", lambda: NOW)


def at(month, day, hour=12):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def url(customer):
    return reverse("analytics:customer_figures", args=[customer.organization.slug, customer.pk])


def detail_url(customer):
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def cards(response) -> dict:
    return {c.spec.slug: c for c in response.context["page"].section.cards}


@pytest.fixture
def ada(organization):
    """Two paid orders in 1-14 March, three in 15-28 March (USD); a yearly plan that ended
    on the 20th and a monthly one from the 27th; plus what never counts."""
    ada = CustomerFactory(organization=organization, name="Ada Lovelace", created_at=at(1, 10))
    book = ProductFactory(organization=organization, price_amount=2000, recurring_interval=None)
    monthly = ProductFactory(organization=organization, price_amount=1000)
    yearly = ProductFactory(
        organization=organization, price_amount=12000, recurring_interval="year"
    )
    # The previous range: 2,000 and 1,000 (500 of it refunded).
    OrderFactory(customer=ada, product=book, created_at=at(3, 5))
    OrderFactory(customer=ada, product=book, subtotal_amount=1000, refunded_amount=500,
                 status=Order.Status.PARTIALLY_REFUNDED, created_at=at(3, 10))  # fmt: skip
    # The range: 2,000, 4,000 less 1,000 discount, and a monthly plan's first 1,000.
    OrderFactory(customer=ada, product=book, created_at=at(3, 16))
    OrderFactory(customer=ada, product=book, subtotal_amount=4000, discount_amount=1000,
                 created_at=at(3, 20))  # fmt: skip
    plan = SubscriptionFactory(customer=ada, product=monthly, started_at=at(3, 27))
    OrderFactory(customer=ada, product=monthly, subscription=plan, subtotal_amount=1000,
                 billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
                 created_at=at(3, 27))  # fmt: skip
    # The yearly plan (1,000 a month) stood at the end of the previous range, not this one.
    SubscriptionFactory(customer=ada, product=yearly, recurring_interval="year",
                        started_at=at(2, 1), status=Subscription.Status.CANCELED,
                        ended_at=at(3, 20))  # fmt: skip
    # Never counted: a pending order, an order in euros, another customer's order.
    OrderFactory(customer=ada, product=book, status=Order.Status.PENDING, created_at=at(3, 18))
    euros = ProductFactory(
        organization=organization, price_currency="eur", price_amount=700, recurring_interval=None
    )
    OrderFactory(customer=ada, product=euros, created_at=at(3, 18))
    OrderFactory(customer=CustomerFactory(organization=organization), product=book,
                 created_at=at(3, 18))  # fmt: skip
    return ada


def test_the_figures_of_a_range_against_the_previous_one(client, member, ada):
    client.force_login(member)
    response = client.get(url(ada), CUSTOM)
    assert response.status_code == 200
    page = response.context["page"]
    assert page.currency == "usd"  # five paid orders in USD, one in EUR
    figures = cards(response)
    # Revenue 6,000 against 3,000; net 6,000 against 2,500.
    assert (figures["revenue"].shown, figures["revenue"].change.text) == ("USD 60.00", "▲ 100%")
    assert figures["revenue"].previous_shown == "USD 30.00"
    assert (figures["net_revenue"].shown, figures["net_revenue"].change.text) == (
        "USD 60.00",
        "▲ 140%",
    )
    assert (figures["orders"].shown, figures["orders"].change.text) == ("3", "▲ 50%")
    # 6,000 / 3 against 3,000 / 2.
    aov = figures["average_order_value"]
    assert (aov.shown, aov.previous_shown, aov.change.text) == ("USD 20.00", "USD 15.00", "▲ 33%")
    # Stocks at each range's end: the yearly plan on the 14th, the monthly one on the 28th.
    mrr = figures["monthly_recurring_revenue"]
    assert (mrr.shown, mrr.previous_shown) == ("USD 10.00", "USD 10.00")
    assert mrr.change.direction == "flat"
    active = figures["active_subscriptions"]
    assert (active.value, active.previous, active.change.text) == (1, 1, "0.0%")
    html = response.content.decode()
    assert "▲ 140%" in html and "the currency Ada Lovelace paid most in" in html
    # The other currency: a line of its own, never added in.
    assert "EUR 7.00 in 1 order" in html


def test_the_figures_are_the_metrics_apis(client, member, organization, ada):
    client.force_login(member)
    figures = cards(client.get(url(ada), CUSTOM))
    api = compute(
        organization=organization,
        start_date=date(2026, 3, 15),
        end_date=date(2026, 3, 28),
        interval="week",
        tz=ZoneInfo("UTC"),
        filters=Filters(currency="usd", customer_ids=(ada.pk,)),
        now=NOW,
    )
    assert {slug: card.value for slug, card in figures.items()} == {
        slug: api.totals[slug] for slug in figures
    }


def test_the_chart_has_every_period_of_the_interval(client, member, ada):
    client.force_login(member)
    response = client.get(url(ada), CUSTOM)
    chart = response.context["page"].section.revenue_chart
    # Weeks from Monday: the 9th (from the 15th only), the 16th and the 23rd.
    assert chart["labels"] == ["Week of Mar 9", "Week of Mar 16", "Week of Mar 23"]
    assert chart["series"][0]["values"] == [0, 5000, 1000]
    html = response.content.decode()
    assert 'data-customer-chart="revenue-data-usd"' in html and 'id="revenue-data-usd"' in html
    assert "Week of Mar 16, 2026" in html  # the table view
    by_day = client.get(url(ada), {**CUSTOM, "interval": "day"})
    assert len(by_day.context["page"].section.revenue_chart["labels"]) == 14


def test_a_new_customer_with_one_order_opens_on_the_last_30_days(client, member, organization):
    grace = CustomerFactory(organization=organization, created_at=at(3, 29, 9))
    OrderFactory(customer=grace, subtotal_amount=4900, created_at=at(3, 29, 10))
    client.force_login(member)
    response = client.get(url(grace))
    assert response.status_code == 200
    page = response.context["page"]
    assert (page.range_key, page.start, page.end, page.interval) == (
        "30d",
        date(2026, 3, 1),
        date(2026, 3, 30),
        "day",
    )
    # Thirty days on the axis, the order on the 29th: not one bar across the plot.
    values = page.section.revenue_chart["series"][0]["values"]
    assert len(values) == 30 and values[-2] == 4900 and sum(values) == 4900
    assert cards(response)["orders"].change.text == "—"  # nothing before to compare with


def test_an_older_customer_opens_on_their_lifetime(client, member, organization):
    # Created in December (imported with an earlier order): lifetime from the first order.
    grace = CustomerFactory(organization=organization, created_at=datetime(2025, 12, 1, tzinfo=UTC))
    OrderFactory(
        customer=grace, subtotal_amount=4900, created_at=datetime(2025, 10, 20, tzinfo=UTC)
    )
    client.force_login(member)
    response = client.get(url(grace))
    page = response.context["page"]
    assert (page.range_key, page.start, page.end, page.interval) == (
        "lifetime",
        date(2025, 10, 20),
        date(2026, 3, 30),
        "month",
    )
    chart = page.section.revenue_chart
    assert chart["labels"] == [
        "Oct 2025", "Nov 2025", "Dec 2025", "Jan 2026", "Feb 2026", "Mar 2026"
    ]  # fmt: skip
    assert chart["series"][0]["values"] == [4900, 0, 0, 0, 0, 0]
    assert 'value="lifetime" selected' in response.content.decode()


def test_lifetime_stays_within_ten_years_by_month():
    today = date(2026, 3, 30)
    # 3,660 days by month at most (MAX_DAYS), so the default never needs correcting.
    assert lifetime_dates(date(2001, 1, 1), today) == (date(2016, 3, 23), today)
    assert lifetime_dates(date(2026, 4, 2), today) == (today, today)  # a date ahead: today


def test_a_customer_without_orders(client, member, organization):
    nobody = CustomerFactory(organization=organization, created_at=at(3, 1))
    client.force_login(member)
    response = client.get(url(nobody))
    assert response.status_code == 200
    figures = cards(response)
    assert figures["revenue"].shown == "USD 0.00" and figures["revenue"].change.text == "—"
    assert figures["active_subscriptions"].shown == "0"
    html = response.content.decode()
    assert "No paid orders in this range." in html
    assert "data-customer-chart" not in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"range": "custom", "start": "2026-03-30", "end": "2026-03-01"}, "end", "comes before"),
        ({"range": "custom", "start": "not a date", "end": "2026-03-01"}, "start", "valid date"),
        ({"range": "custom", "end": "2026-03-01"}, "start", "first day"),
        ({"range": "forever"}, "range", "valid choice"),
        ({"interval": "hour"}, "interval", "valid choice"),
        ({"range": "12m", "interval": "day"}, None, None),  # 365 days by day: fine
        (
            {"range": "custom", "start": "2020-01-01", "end": "2026-03-01", "interval": "day"},
            "interval",
            "at most 400 days",
        ),
    ],
)
def test_bad_controls_show_the_error_beside_the_field(client, member, ada, params, field, message):
    client.force_login(member)
    response = client.get(url(ada), params)
    html = response.content.decode()
    if field is None:
        assert response.status_code == 200
        return
    assert response.status_code == 422
    assert f'id="figures-{field}-error"' in html
    assert f'aria-describedby="figures-{field}-error"' in html
    assert message in str(response.context["page"].form.errors[field])
    assert "Correct the range above" in html


def test_without_javascript_it_is_a_page_of_its_own(client, member, ada):
    client.force_login(member)
    response = client.get(url(ada), {"range": "90d"})
    html = response.content.decode()
    assert "<html" in html and "<h1>Figures of Ada Lovelace</h1>" in html
    assert f'href="{detail_url(ada)}?range=90d">← Back to Ada Lovelace' in html
    # A plain GET form to this page.
    assert f'action="{url(ada)}"' in html and "hx-get" not in html.split("<form")[2]
    # The customer page links here (and loads the section with htmx).
    page = client.get(detail_url(ada), {"range": "90d"}).content.decode()
    assert f'hx-get="{url(ada)}?range=90d" hx-trigger="load"' in page
    assert f'<a href="{url(ada)}?range=90d">Figures and revenue chart</a>' in page


def test_htmx_gets_the_section_and_the_controls_push_the_customer_pages_url(client, member, ada):
    client.force_login(member)
    # The customer page loading it: no new history entry.
    response = client.get(url(ada), {"range": "90d"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="customer-figures"')
    assert "<html" not in html and 'hx-target="#customer-figures"' in html
    assert "HX-Request" in response["Vary"]
    assert "HX-Push-Url" not in response
    # The controls: the customer page's URL with the range, so a reload keeps it.
    response = client.get(url(ada), CUSTOM, headers={"HX-Request": "true", "HX-Trigger": FORM_ID})
    pushed = response["HX-Push-Url"]
    assert pushed.startswith(f"{detail_url(ada)}?") and "range=custom" in pushed
    assert "start=2026-03-15" in pushed and "interval=week" in pushed
    # Bad controls swap in the section with the errors (htmx swaps a 422 here).
    response = client.get(
        url(ada), {"range": "nope"}, headers={"HX-Request": "true", "HX-Trigger": FORM_ID}
    )
    assert response.status_code == 422
    assert response.content.decode().lstrip().startswith('<section id="customer-figures"')


def test_another_organizations_customer_is_404(client, owner, other_organization):
    stranger = CustomerFactory(organization=other_organization)
    client.force_login(owner)
    wrong = reverse("analytics:customer_figures", args=["acme", stranger.pk])
    assert client.get(wrong).status_code == 404
    assert client.get(url(stranger)).status_code == 404  # not a member there


def test_an_outsider_gets_404(client, outsider, ada):
    client.force_login(outsider)
    assert client.get(url(ada)).status_code == 404


def test_a_deleted_customer_is_404(client, member, ada):
    services.customer_delete(customer=ada)
    client.force_login(member)
    assert client.get(url(ada)).status_code == 404


def test_signed_out_visitors_go_to_sign_in(client, ada):
    response = client.get(url(ada))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_query_count_does_not_grow_with_orders(client, member, ada):
    client.force_login(member)
    # 16 on SQLite and PostgreSQL alike (one customer's figures come from the tables):
    # 1 session, 2 user, 3 memberships (access helper), 4 the customer, 5 revenue by
    # currency, 6 MRR by currency (orders.metrics: the main currency, the first order);
    # then for the range and for the previous one (compute): orders, subscriptions
    # started, ended, canceled, and those standing at the start: 5 + 5.
    with CaptureQueriesContext(connection) as first:
        client.get(url(ada), CUSTOM, headers={"HX-Request": "true"})
    OrderFactory.create_batch(30, customer=ada, created_at=at(3, 21))
    with CaptureQueriesContext(connection) as second:
        response = client.get(url(ada), CUSTOM, headers={"HX-Request": "true"})
    assert cards(response)["orders"].value == 33
    assert len(first) == len(second) <= 16
