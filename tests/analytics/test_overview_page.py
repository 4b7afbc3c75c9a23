"""The overview page: the `shop` fixture's figures, their change against the previous
range, the customer lists, bad controls, access, and the page's query count."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.urls import reverse

from orders.models import Subscription
from tests.analytics.conftest import NOW, utc
from tests.factories import CustomerFactory, OrderFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

CUSTOM = {"range": "custom", "start": "2026-03-28", "end": "2026-03-30", "interval": "day"}


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    """The page's now is the fixture's: the 30th is partial."""
    monkeypatch.setattr("analytics.views.timezone.now", lambda: NOW)


def url(organization):
    return reverse("analytics:overview", args=[organization.slug])


def card(response, slug):
    return next(c for c in response.context["page"].main.cards if c.spec.slug == slug)


def test_it_shows_the_shops_figures_for_a_custom_range(client, owner, organization, shop):
    client.force_login(owner)
    response = client.get(url(organization), CUSTOM)
    assert response.status_code == 200
    page = response.context["page"]
    assert page.tz_name == "Europe/Paris"
    assert card(response, "revenue").shown == "USD 125.00"
    assert card(response, "net_revenue").shown == "USD 95.00"
    assert card(response, "orders").shown == "4"
    assert card(response, "average_order_value").shown == "USD 31.25"
    assert card(response, "monthly_recurring_revenue").shown == "USD 20.00"
    assert card(response, "annual_recurring_revenue").shown == "USD 240.00"
    assert card(response, "active_subscriptions").shown == "2"
    assert card(response, "churned_subscriptions").shown == "1"
    assert card(response, "churn_rate").shown == "100.0%"
    assert card(response, "checkouts_conversion").shown == "66.7%"
    assert card(response, "new_customers").shown == "2"
    renewals = card(response, "renewed_subscriptions")
    assert (renewals.shown, renewals.secondary_shown) == ("1", "USD 10.00")
    one_time = card(response, "one_time_products")
    assert (one_time.shown, one_time.secondary_shown) == ("1", "USD 5.00")
    html = response.content.decode()
    assert "USD 125.00" in html and "Europe/Paris" in html
    assert "(so far)" in html  # the 30th, in the charts' table views
    assert 'id="revenue-data-usd"' in html and 'id="mrr-data-usd"' in html
    chart = page.main.revenue_chart
    assert chart["labels"] == ["Mar 28", "Mar 29", "Mar 30"]
    assert chart["partial"] == [False, False, True]
    assert chart["series"][0]["values"] == [500, 1000, 11000]


def test_the_change_against_the_previous_range(client, owner, organization, shop):
    # The 25th-27th, just before: one paid order of 2,500 (revenue 12,500 is then +400%).
    OrderFactory(customer=shop["ada"], product=shop["book"], subtotal_amount=2500,
                 total_amount=2500, created_at=utc(26, 12))  # fmt: skip
    client.force_login(owner)
    response = client.get(url(organization), CUSTOM)
    page = response.context["page"]
    assert (page.previous_start.isoformat(), page.previous_end.isoformat()) == (
        "2026-03-25",
        "2026-03-27",
    )
    revenue = card(response, "revenue")
    assert revenue.previous == 2500
    assert revenue.change.text == "▲ 400%" and revenue.tone == "good"
    # Stocks compare the ranges' ends: one active plan (February's) on the 27th, two now.
    active = card(response, "active_subscriptions")
    assert (active.previous, active.change.text) == (1, "▲ 100%")
    # Nothing churned before: no change to show.
    assert card(response, "churned_subscriptions").change.text == "—"
    assert "▲ 400%" in response.content.decode()


def test_another_currency_gets_its_own_section(client, owner, organization, shop):
    client.force_login(owner)
    response = client.get(url(organization), CUSTOM)
    page = response.context["page"]
    assert [s.currency for s in page.others] == ["eur"]
    eur = {c.spec.slug: c.shown for c in page.others[0].cards}
    assert eur["revenue"] == "EUR 7.00" and eur["orders"] == "1"
    assert "In EUR" in response.content.decode()


def test_filters_narrow_the_figures(client, owner, organization, shop):
    client.force_login(owner)
    response = client.get(url(organization), {**CUSTOM, "billing_type": "one_time"})
    assert card(response, "orders").shown == "1"
    response = client.get(url(organization), {**CUSTOM, "product": str(shop["yearly"].pk)})
    assert card(response, "monthly_recurring_revenue").shown == "USD 10.00"


def test_the_customer_lists(client, owner, organization, shop):
    late = CustomerFactory(organization=organization, name="Late Payer")
    SubscriptionFactory(customer=late, product=shop["monthly"], status=Subscription.Status.PAST_DUE,
                        started_at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    client.force_login(owner)
    response = client.get(url(organization), CUSTOM)
    page = response.context["page"]
    # By lifetime revenue, among those who paid in the range. Bob: 10,000 - 3,000
    # refunded; Ada: 500 + 1,000 + 1,000 (in USD: her EUR order is another currency's).
    assert [(r["id"], r["lifetime_revenue"]) for r in page.top_customers] == [
        (shop["bob"].pk, 7000),
        (shop["ada"].pk, 2500),
    ]
    reasons = {s.customer_id: reason for s, reason in page.at_risk}
    assert reasons == {late.pk: "Payment past due", shop["bob"].pk: "Cancels at period end"}
    # Bob's first paid order is on the 30th; Ada's on the 28th (23:30 Paris time).
    assert [r["customer"].pk for r in page.new_customers] == [shop["bob"].pk, shop["ada"].pk]
    html = response.content.decode()
    detail = reverse("customers:detail", args=[organization.slug, late.pk])
    assert detail in html and "Late Payer" in html
    listed = reverse("customers:list", args=[organization.slug])
    dates = "2026-03-28&amp;ordered_to=2026-03-30"
    assert f'href="{listed}?ordered_from={dates}&amp;sorting=-lifetime_revenue"' in html
    assert f'href="{listed}?at_risk=1"' in html
    assert f'href="{listed}?first_order_from=2026-03-28&amp;first_order_to=2026-03-30"' in html


def test_a_named_range_uses_the_organizations_today(client, owner, organization, shop):
    client.force_login(owner)
    response = client.get(url(organization), {"range": "7d"})
    page = response.context["page"]
    assert (page.start.isoformat(), page.end.isoformat(), page.interval) == (
        "2026-03-24",
        "2026-03-30",
        "day",
    )
    assert card(response, "orders").shown == "4"
    # The inputs show the range's days.
    assert 'value="2026-03-24"' in response.content.decode()


def test_the_default_is_the_last_30_days_by_day(client, member, organization, shop):
    client.force_login(member)  # members see the overview too
    response = client.get(url(organization))
    page = response.context["page"]
    assert (page.start.isoformat(), page.end.isoformat(), page.interval) == (
        "2026-03-01",
        "2026-03-30",
        "day",
    )


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"range": "custom", "start": "2026-03-30", "end": "2026-03-01"}, "end", "comes before"),
        ({"range": "custom", "start": "not a date", "end": "2026-03-01"}, "start", "valid date"),
        ({"range": "custom", "end": "2026-03-01"}, "start", "first day"),
        (
            {"range": "custom", "start": "2020-01-01", "end": "2026-03-01", "interval": "day"},
            "interval",
            "at most 400 days",
        ),
        ({"interval": "hour"}, "interval", "valid choice"),
    ],
)
def test_bad_controls_show_the_error_beside_the_field(
    client, owner, organization, params, field, message
):
    client.force_login(owner)
    response = client.get(url(organization), params)
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    assert message in str(response.context["page"].form.errors[field])
    assert "Correct the range above" in html


def test_htmx_gets_the_partial(client, owner, organization, shop):
    client.force_login(owner)
    response = client.get(url(organization), CUSTOM, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="overview"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_it_works_with_no_data(client, owner, organization):
    client.force_login(owner)
    response = client.get(url(organization))
    assert response.status_code == 200
    assert card(response, "revenue").shown == "USD 0.00"
    assert "No paid orders in this range." in response.content.decode()


def test_another_organizations_slug_is_404(client, owner, organization, other_organization):
    client.force_login(owner)
    assert client.get(url(other_organization)).status_code == 404


def test_signed_out_visitors_go_to_sign_in(client, organization):
    response = client.get(url(organization))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_nav_leads_with_the_overview(client, owner, organization):
    client.force_login(owner)
    html = client.get(url(organization)).content.decode()
    nav = html[html.index('class="main-nav"') :]
    assert nav.index(">Overview<") < nav.index(">Customers<")
    assert f'href="{url(organization)}" aria-current="page"' in html


def test_the_page_query_count(client, owner, organization, shop, django_assert_num_queries):
    client.force_login(owner)
    kept = connection.vendor == "postgresql"  # compute reads the kept daily figures there
    # 1 session, 2 user, 3 memberships (access helper), 4 products (filter menu and the
    # currencies sold in).
    # Each compute, on PostgreSQL: orders, subscription events (started, ended, canceled
    # in one), subscriptions standing at the start, checkouts, new customers; on SQLite,
    # from the tables: orders, started, ended, canceled, standing, checkouts, customers.
    # USD asks for all of them, for the range and the previous range; EUR (its own
    # section) for orders and subscriptions only, also twice.
    usd = 5 if kept else 7
    eur = 3 if kept else 5
    # Then the lists: top customers, at risk, new customers.
    with django_assert_num_queries(4 + 2 * usd + 2 * eur + 3):
        response = client.get(url(organization), CUSTOM)
    assert response.status_code == 200


def test_a_customer_who_paid_before_the_range_is_not_new(client, owner, organization, shop):
    client.force_login(owner)
    response = client.get(url(organization), {**CUSTOM, "start": "2026-03-29"})
    # Ada paid on the 28th and again on the 29th and 30th; Bob's first is the 30th.
    assert [r["customer"].pk for r in response.context["page"].new_customers] == [shop["bob"].pk]


def test_two_first_orders_at_the_same_instant_list_the_customer_once(
    client, owner, organization, shop
):
    grace = CustomerFactory(organization=organization, name="Grace")
    for _ in range(2):
        OrderFactory(customer=grace, product=shop["book"], created_at=utc(30, 8))
    client.force_login(owner)
    response = client.get(url(organization), CUSTOM)
    listed = [r["customer"].pk for r in response.context["page"].new_customers]
    assert listed == [shop["bob"].pk, grace.pk, shop["ada"].pk]


def test_top_customers_rank_by_lifetime_revenue_among_those_who_paid_in_the_range(
    client, owner, organization, shop
):
    # Old: a big order in January only, none in the range: not listed.
    old = CustomerFactory(organization=organization, name="Old Whale")
    OrderFactory(customer=old, product=shop["book"], subtotal_amount=90_000,
                 total_amount=90_000, created_at=datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    # Carol: 50,000 in January and 100 in the range: first, by her lifetime revenue.
    carol = CustomerFactory(organization=organization, name="Carol")
    OrderFactory(customer=carol, product=shop["book"], subtotal_amount=50_000,
                 total_amount=50_000, created_at=datetime(2026, 1, 6, tzinfo=UTC))  # fmt: skip
    OrderFactory(customer=carol, product=shop["book"], subtotal_amount=100,
                 total_amount=100, created_at=utc(29, 12))  # fmt: skip
    # Gone: deleted customers are never listed.
    gone = CustomerFactory(organization=organization, name="Gone")
    OrderFactory(customer=gone, product=shop["book"], subtotal_amount=70_000,
                 total_amount=70_000, created_at=utc(29, 13))  # fmt: skip
    gone.deleted_at = NOW
    gone.save(update_fields=["deleted_at"])
    client.force_login(owner)
    page = client.get(url(organization), CUSTOM).context["page"]
    assert [(r["id"], r["lifetime_revenue"]) for r in page.top_customers] == [
        (carol.pk, 50_100),
        (shop["bob"].pk, 7000),
        (shop["ada"].pk, 2500),
    ]
    # With the one-time filter only one-time orders in the range qualify: Bob's range
    # order is a subscription's, Carol's and Ada's book are purchases.
    page = client.get(url(organization), {**CUSTOM, "billing_type": "one_time"}).context["page"]
    assert [r["id"] for r in page.top_customers] == [carol.pk, shop["ada"].pk]
