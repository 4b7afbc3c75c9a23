"""The customer list's segments, the filters the overview's lists link to: `at_risk=1`,
`first_order_from`/`_to` and `ordered_from`/`_to` (the organization's days, inclusive).
Hand-built data in a non-UTC organization; combined with search, metadata, sorting and
paging; kept by the chips, "Load more" and the export; bad values are a clear 400."""

import csv
import io
import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.urls import reverse

from analytics.periods import range_bounds
from core.timezones import day_range_bounds
from customers import services
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")  # UTC-5 in November, UTC-4 until 1 November
NOVEMBER = {"first_order_from": "2026-11-01", "first_order_to": "2026-11-30"}
ORDERED_NOVEMBER = {"ordered_from": "2026-11-01", "ordered_to": "2026-11-30"}


def local(month, day, hour=12, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def list_url(organization):
    return reverse("customers:list", args=[organization.slug])


@pytest.fixture
def export_url(organization):
    return reverse("customers:export", args=[organization.slug])


@pytest.fixture
def shop(organization, other_organization):
    """Customers of a New York shop and what each one's orders make of it in November."""
    organization.timezone = "America/New_York"
    organization.save()
    product = ProductFactory(organization=organization, recurring_interval=None)

    def customer(email, *orders, **kwargs):
        made = CustomerFactory(organization=organization, email=email, **kwargs)
        for created_at, status in orders:
            OrderFactory(customer=made, product=product, created_at=created_at, status=status)
        return made

    paid = Order.Status.PAID
    shop = {
        "newbie": customer("newbie@x.io", (local(11, 10), paid)),
        # Bought in October and again in November: ordered in November, not new in it.
        "returning": customer("returning@x.io", (local(10, 5), paid), (local(11, 12), paid)),
        # 23:30 on the last day, New York time (04:30 UTC on 1 December): counts.
        "last_evening": customer("last-evening@x.io", (local(11, 30, 23, 30), paid)),
        # 00:30 on 1 December, New York time: the day after, does not count.
        "next_day": customer("next-day@x.io", (local(12, 1, 0, 30), paid)),
        # Midnight starting 1 November counts; a minute before it (still 1 November in
        # UTC, 03:59) does not.
        "first_minute": customer("first-minute@x.io", (local(11, 1, 0, 0), paid)),
        "october_eve": customer("october-eve@x.io", (local(10, 31, 23, 59), paid)),
        # Unpaid orders never count, neither in the range nor before it.
        "unpaid_only": customer(
            "unpaid@x.io", (local(11, 3), Order.Status.PENDING), (local(11, 4), Order.Status.VOID)
        ),
        "pending_before": customer(
            "pending-before@x.io", (local(10, 3), Order.Status.PENDING), (local(11, 6), paid)
        ),
        # A refunded order is still a paid order (Order.PAID_STATUSES): the overview's
        # figures and lists count it too.
        "refunded": customer("refunded@x.io", (local(11, 7), Order.Status.REFUNDED)),
        "nothing": customer("nothing@x.io"),
    }
    gone = customer("gone@x.io", (local(11, 10), paid))
    services.customer_delete(customer=gone)
    theirs = CustomerFactory(organization=other_organization, email="theirs@x.io")
    OrderFactory(customer=theirs, created_at=local(11, 10))
    SubscriptionFactory(customer=theirs, status=Subscription.Status.PAST_DUE)
    return shop


def emails(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [c.email for c in response.context["page"].rows]


def listed(client, url, **params) -> list[str]:
    return sorted(emails(client.get(url, params)))


# --- What each segment holds -------------------------------------------------------------


def test_first_order_is_the_first_paid_order_in_the_organizations_days(merchant, list_url, shop):
    assert listed(merchant, list_url, **NOVEMBER) == [
        "first-minute@x.io",
        "last-evening@x.io",
        "newbie@x.io",
        "pending-before@x.io",
        "refunded@x.io",
    ]


def test_ordered_is_any_paid_order_in_the_organizations_days(merchant, list_url, shop):
    assert listed(merchant, list_url, **ORDERED_NOVEMBER) == [
        "first-minute@x.io",
        "last-evening@x.io",
        "newbie@x.io",
        "pending-before@x.io",
        "refunded@x.io",
        "returning@x.io",
    ]


def test_one_day_and_open_ended_ranges(merchant, list_url, shop):
    assert listed(merchant, list_url, ordered_from="2026-11-30", ordered_to="2026-11-30") == [
        "last-evening@x.io"
    ]
    assert listed(merchant, list_url, ordered_from="2026-12-01") == ["next-day@x.io"]
    # Until 31 October: everyone who had paid by then (their first order is before it).
    assert listed(merchant, list_url, first_order_to="2026-10-31") == [
        "october-eve@x.io",
        "returning@x.io",
    ]
    # From 30 November on: first paid orders on the 30th or later.
    assert listed(merchant, list_url, first_order_from="2026-11-30") == [
        "last-evening@x.io",
        "next-day@x.io",
    ]


def test_a_day_is_the_organizations_day_not_utcs(merchant, list_url, organization, shop):
    organization.timezone = "UTC"
    organization.save()
    # In UTC the New York evening of 30 November is 1 December, and 23:59 on 31 October
    # is 1 November.
    november = listed(merchant, list_url, **ORDERED_NOVEMBER)
    assert "last-evening@x.io" not in november and "october-eve@x.io" in november


def test_the_day_bounds_are_the_overviews(organization):
    for name, first, last in [
        ("America/New_York", date(2026, 11, 1), date(2026, 11, 30)),
        ("Europe/Paris", date(2026, 3, 29), date(2026, 3, 29)),  # 23 hours
        ("America/Santiago", date(2026, 9, 6), date(2026, 9, 6)),  # no midnight
        ("Pacific/Kiritimati", date(2000, 1, 1), date(2099, 12, 31)),
    ]:
        tz = ZoneInfo(name)
        start, end = day_range_bounds(first, last, tz)
        assert (start, end) == range_bounds(first, last, tz), name
        assert start.tzinfo == UTC and end.tzinfo == UTC
    assert day_range_bounds(None, None, NEW_YORK) == (None, None)
    assert day_range_bounds(date(2026, 11, 1), None, NEW_YORK) == (
        datetime(2026, 11, 1, 4, tzinfo=UTC),
        None,
    )


def test_at_risk_follows_the_one_definition(merchant, list_url, organization, shop):
    status = Subscription.Status

    def subscribed(email, **fields):
        customer = CustomerFactory(organization=organization, email=email)
        SubscriptionFactory(customer=customer, **fields)
        return customer

    subscribed("past-due@x.io", status=status.PAST_DUE)
    subscribed("unpaid-sub@x.io", status=status.UNPAID)
    subscribed("retrying@x.io", status=status.ACTIVE, next_attempt_at=local(12, 3))
    subscribed("cancelling@x.io", status=status.ACTIVE, cancel_at_period_end=True)
    subscribed("trial-cancelling@x.io", status=status.TRIALING, cancel_at_period_end=True)
    # Canceled at period end and ended since: nothing left to lose.
    subscribed(
        "ended@x.io",
        status=status.CANCELED,
        cancel_at_period_end=True,
        canceled_at=local(10, 1),
        ended_at=local(11, 1),
    )
    subscribed("healthy@x.io", status=status.ACTIVE)
    # One healthy and one at-risk subscription: listed once.
    both = subscribed("both@x.io", status=status.ACTIVE)
    SubscriptionFactory(customer=both, status=status.PAST_DUE)
    services.customer_delete(customer=subscribed("gone-late@x.io", status=status.PAST_DUE))

    expected = [
        "both@x.io",
        "cancelling@x.io",
        "past-due@x.io",
        "retrying@x.io",
        "trial-cancelling@x.io",
        "unpaid-sub@x.io",
    ]
    assert listed(merchant, list_url, at_risk="1") == expected
    definition = Subscription.objects.for_org(organization).at_risk()
    assert (
        sorted(
            set(
                definition.filter(customer__deleted_at__isnull=True).values_list(
                    "customer__email", flat=True
                )
            )
        )
        == expected
    )
    response = merchant.get(list_url, {"at_risk": "1"})
    assert response.context["count"].text == "6 customers"


def test_segments_combine_with_each_other(merchant, list_url, shop):
    SubscriptionFactory(customer=shop["returning"], status=Subscription.Status.PAST_DUE)
    SubscriptionFactory(customer=shop["newbie"], status=Subscription.Status.PAST_DUE)
    assert listed(merchant, list_url, at_risk="1", **ORDERED_NOVEMBER) == [
        "newbie@x.io",
        "returning@x.io",
    ]
    assert listed(merchant, list_url, at_risk="1", **NOVEMBER) == ["newbie@x.io"]
    assert listed(merchant, list_url, at_risk="1", **NOVEMBER, **ORDERED_NOVEMBER) == [
        "newbie@x.io"
    ]


# --- With the rest of the list ------------------------------------------------------------


def test_segments_combine_with_search_active_metadata_and_sorting(
    merchant, list_url, organization, shop
):
    product = ProductFactory(organization=organization, recurring_interval=None)
    for i, plan in enumerate(["pro", "pro", "team", "pro"]):
        customer = CustomerFactory(
            organization=organization,
            email=f"seg{i}@x.io",
            name=f"Seg {i}",
            metadata={"plan": plan},
        )
        OrderFactory(customer=customer, product=product, subtotal_amount=1000 * (i + 1),
                     total_amount=1000 * (i + 1), created_at=local(11, 20))  # fmt: skip
    SubscriptionFactory(customer=shop["newbie"])
    params = {**ORDERED_NOVEMBER, "metadata[plan]": "pro", "sorting": "-lifetime_revenue"}
    assert emails(merchant.get(list_url, params)) == ["seg3@x.io", "seg1@x.io", "seg0@x.io"]
    assert emails(merchant.get(list_url, {**params, "query": "SEG 1"})) == ["seg1@x.io"]
    assert emails(merchant.get(list_url, {**NOVEMBER, "active": "true"})) == ["newbie@x.io"]
    assert "newbie@x.io" not in emails(merchant.get(list_url, {**NOVEMBER, "active": "false"}))


@pytest.mark.parametrize("sorting", ["-created_at", "email", "-lifetime_revenue", "last_order_at"])
def test_pages_of_a_segment_cover_each_customer_once(merchant, list_url, organization, sorting):
    organization.timezone = "America/New_York"
    organization.save()
    product = ProductFactory(organization=organization, recurring_interval=None)
    expected = set()
    for i in range(130):
        customer = CustomerFactory(organization=organization, email=f"c{i:03}@x.io", name="Same")
        day = 1 + i % 40  # some in November, some in December
        created_at = local(11, day) if day <= 30 else local(12, day - 30)
        OrderFactory(customer=customer, product=product, subtotal_amount=1000 * (i % 3),
                     total_amount=1000 * (i % 3), created_at=created_at)  # fmt: skip
        if day <= 30:
            expected.add(customer.email)
    seen, url, params = [], list_url, {**NOVEMBER, "sorting": sorting}
    while url:
        response = merchant.get(url, params)
        seen += emails(response)
        url, params = response.context["next_url"], None
        if url:
            query = dict(parse_qsl(urlsplit(url).query))
            assert query["first_order_from"] == "2026-11-01"
            assert query["first_order_to"] == "2026-11-30"
    assert len(seen) == len(set(seen)) and set(seen) == expected
    # "Load more" over htmx keeps the segment as well.
    first = merchant.get(list_url, {**NOVEMBER, "sorting": sorting})
    more = merchant.get(first.context["next_url"], headers={"HX-Request": "true"})
    assert set(emails(more)) <= expected


def test_chips_name_each_segment_and_remove_only_it(merchant, list_url, shop):
    params = {"query": "x.io", "at_risk": "1", **NOVEMBER, "ordered_from": "2026-11-30",
              "ordered_to": "2026-11-30", "metadata[plan]": "pro"}  # fmt: skip
    response = merchant.get(list_url, params)
    chips = {c["label"]: c["remove_url"] for c in response.context["segments"]}
    assert list(chips) == [
        "At risk",
        "First order 1 Nov 2026 \u2013 30 Nov 2026",
        "Ordered on 30 Nov 2026",
    ]

    def query_of(url):
        return parse_qsl(urlsplit(url).query)

    assert query_of(chips["At risk"]) == [
        ("query", "x.io"), ("metadata[plan]", "pro"), ("first_order_from", "2026-11-01"),
        ("first_order_to", "2026-11-30"), ("ordered_from", "2026-11-30"),
        ("ordered_to", "2026-11-30"),
    ]  # fmt: skip
    assert query_of(chips["First order 1 Nov 2026 \u2013 30 Nov 2026"]) == [
        ("query", "x.io"), ("metadata[plan]", "pro"), ("at_risk", "1"),
        ("ordered_from", "2026-11-30"), ("ordered_to", "2026-11-30"),
    ]  # fmt: skip
    html = response.content.decode()
    assert 'aria-label="Remove filter At risk"' in html
    assert "First order 1 Nov 2026 \u2013 30 Nov 2026</span>" in html
    # The search form carries the segments, so typing a search keeps them.
    assert '<input type="hidden" name="at_risk" value="1">' in html
    assert '<input type="hidden" name="first_order_from" value="2026-11-01">' in html
    one_sided = merchant.get(
        list_url, {"ordered_from": "2026-11-01", "first_order_to": "2026-11-30"}
    )
    assert [c["label"] for c in one_sided.context["segments"]] == [
        "First order until 30 Nov 2026",
        "Ordered from 1 Nov 2026",
    ]


def test_the_count_counts_the_segment_not_the_organization(merchant, list_url, shop):
    response = merchant.get(list_url, NOVEMBER)
    assert response.context["count"].text == "5 customers"
    assert "5 customers" in response.content.decode()
    assert "Export these customers (CSV)" in response.content.decode()
    empty = merchant.get(list_url, {"ordered_from": "2030-01-01"})
    assert "Nothing matches" in empty.content.decode()


def test_adding_a_metadata_filter_keeps_the_segments(merchant, list_url, shop):
    response = merchant.get(
        list_url, {"at_risk": "1", **NOVEMBER, "filter_key": "plan", "filter_value": "pro"}
    )
    assert response.status_code == 302
    assert dict(parse_qsl(urlsplit(response.url).query)) == {
        "at_risk": "1",
        **NOVEMBER,
        "metadata[plan]": "pro",
    }


def test_a_segment_query_count(merchant, list_url, shop, django_assert_num_queries):
    SubscriptionFactory(customer=shop["newbie"], status=Subscription.Status.PAST_DUE)
    # session, user, memberships with their organizations, the count (bounded), one page
    # of customers (the segments are subqueries of it), the active subscriptions among that
    # page's customers, the metadata filter's suggestions; on PostgreSQL the count's time
    # budget and the page's (its walk of the sort index), each set and reset around its
    # query in its own transaction (a savepoint and its release here)
    expected = 7 + (8 if connection.vendor == "postgresql" else 0)
    with django_assert_num_queries(expected):
        response = merchant.get(list_url, {"at_risk": "1", **NOVEMBER, **ORDERED_NOVEMBER})
    assert emails(response) == ["newbie@x.io"]


def test_a_segment_walk_past_its_time_budget_sorts_the_segment_instead(
    postgres_only, merchant, list_url, shop, monkeypatch
):
    from django.db import OperationalError

    from customers import views

    real, calls = views.keyset_page, []

    def slow_walk(queryset, **kwargs):
        calls.append(kwargs.get("sort_matches_first", False))
        if not kwargs.get("sort_matches_first"):
            raise OperationalError("canceling statement due to statement timeout")
        return real(queryset, **kwargs)

    monkeypatch.setattr(views, "keyset_page", slow_walk)
    response = merchant.get(list_url, {**NOVEMBER, "sorting": "email"})
    assert emails(response) == [
        "first-minute@x.io",
        "last-evening@x.io",
        "newbie@x.io",
        "pending-before@x.io",
        "refunded@x.io",
    ]
    assert calls == [False, True]


# --- The export ----------------------------------------------------------------------------


def download(client, url, **params) -> list[str]:
    response = client.get(url, params)
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return sorted(row["email"] for row in rows)


def test_the_export_shows_the_segment(merchant, list_url, export_url, shop):
    SubscriptionFactory(customer=shop["newbie"], status=Subscription.Status.UNPAID)
    assert download(merchant, export_url, **NOVEMBER) == listed(merchant, list_url, **NOVEMBER)
    assert download(merchant, export_url, **ORDERED_NOVEMBER, query="RETURN") == ["returning@x.io"]
    assert download(merchant, export_url, at_risk="1") == ["newbie@x.io"]
    page = merchant.get(list_url, {**NOVEMBER, "at_risk": "1", "sorting": "email"})
    # The list's state but its sorting, which a CSV (oldest first) does not take.
    assert page.context["export_url"] == (
        f"{export_url}?at_risk=1&first_order_from=2026-11-01&first_order_to=2026-11-30"
    )


def test_the_api_list_ignores_the_dashboards_segments(api, shop):
    # GET /v1/customers/ stays Polar's: the dashboard's segment parameters are not its own.
    response = api.get("/v1/customers/", {"at_risk": "1", "ordered_from": "2030-01-01"})
    assert response.status_code == 200
    assert response.json()["pagination"]["total_count"] == len(shop)


# --- Bad values ------------------------------------------------------------------------------


RANGE = "must be between 2000-01-01 and 2099-12-31"
NOT_A_DAY = "must be a day written YYYY-MM-DD, such as 2026-11-30."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"at_risk": "banana"}, "at_risk must be 1 (customers with a subscription at risk) "
                                "or left out, not banana."),
        ({"at_risk": "true"}, "at_risk must be 1"),
        ({"first_order_from": "2026-13-01"}, f"first_order_from {NOT_A_DAY}"),
        ({"first_order_to": "2026-11-31"}, f"first_order_to {NOT_A_DAY}"),
        ({"ordered_from": "1/11/2026"}, f"ordered_from {NOT_A_DAY}"),
        ({"ordered_to": "yesterday"}, f"ordered_to {NOT_A_DAY}"),
        ({"ordered_from": "1999-12-31"}, f"ordered_from {RANGE}, not 1999-12-31."),
        ({"first_order_to": "2100-01-01"}, f"first_order_to {RANGE}, not 2100-01-01."),
        ({"first_order_from": "0001-01-01"}, f"first_order_from {RANGE}"),
        ({"first_order_from": "2026-12-01", "first_order_to": "2026-11-01"},
         "first_order_from (2026-12-01) is after first_order_to (2026-11-01)."),
        ({"ordered_from": "2026-11-02", "ordered_to": "2026-11-01"},
         "ordered_from (2026-11-02) is after ordered_to (2026-11-01)."),
    ],
)  # fmt: skip
def test_a_bad_segment_value_is_a_clear_400(merchant, list_url, export_url, shop, params, message):
    for url in (list_url, export_url):
        response = merchant.get(url, params)
        assert response.status_code == 400
        assert message in response.content.decode()
    response = merchant.get(list_url, params, headers={"HX-Request": "true"})
    assert response.status_code == 400


def test_empty_segment_parameters_filter_nothing(merchant, list_url, shop):
    everyone = listed(merchant, list_url)
    assert listed(merchant, list_url, at_risk="", first_order_from="", ordered_to="") == everyone


def test_outsiders_get_404_whatever_the_segment(
    client, outsider, organization, list_url, export_url
):
    client.force_login(outsider)
    for url in (list_url, export_url):
        assert client.get(url, {"at_risk": "1", **NOVEMBER}).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, list_url):
    response = client.get(list_url, {"at_risk": "1"})
    assert response.status_code == 302 and "/login/" in response.url


# --- The overview's "See all" links ---------------------------------------------------------


def test_the_overviews_see_all_links_open_the_same_customers(merchant, organization, shop):
    SubscriptionFactory(customer=shop["returning"], status=Subscription.Status.PAST_DUE)
    overview = reverse("analytics:overview", args=[organization.slug])
    november = {"range": "custom", "start": "2026-11-01", "end": "2026-11-30", "interval": "day"}
    html = merchant.get(overview, november).content.decode()
    list_url = reverse("customers:list", args=[organization.slug])
    links = {
        "top": f"{list_url}?ordered_from=2026-11-01&amp;ordered_to=2026-11-30"
        "&amp;sorting=-lifetime_revenue",
        "new": f"{list_url}?first_order_from=2026-11-01&amp;first_order_to=2026-11-30",
        "at-risk": f"{list_url}?at_risk=1",
    }
    for name, href in links.items():
        assert f'<a href="{href}">See all</a>' in html, name
        # The customers each card lists are among those its link opens.
        listed_ids = {
            str(c.pk) for c in merchant.get(href.replace("&amp;", "&")).context["page"].rows
        }
        card = html[html.index(f'data-list="{name}"') :].split("</ol>")[0]
        shown = set(re.findall(r"/customers/([0-9a-f-]{36})/", card))
        assert shown and shown <= listed_ids, name
    assert listed(merchant, links["at-risk"]) == ["returning@x.io"]


def test_the_overview_links_its_own_range(merchant, organization):
    overview = reverse("analytics:overview", args=[organization.slug])
    html = merchant.get(
        overview,
        {"range": "custom", "start": "2026-01-05", "end": "2026-02-10", "interval": "week"},
    ).content.decode()
    assert "first_order_from=2026-01-05&amp;first_order_to=2026-02-10" in html
    assert "ordered_from=2026-01-05&amp;ordered_to=2026-02-10&amp;sorting=-lifetime_revenue" in html
