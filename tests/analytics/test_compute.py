"""The metrics computed from the tables equal the figures worked out by hand, on both
databases, at period edges (the merchant's day, DST, partial periods)."""

from datetime import date

import pytest

from analytics.compute import Filters, compute
from analytics.metrics import METRICS
from core.timezones import zone
from tests.analytics.conftest import EXPECTED_DAYS, EXPECTED_TOTALS, NOW

pytestmark = pytest.mark.django_db


def figures(organization, tz="Europe/Paris", interval="day", start=28, end=30, **filters):
    return compute(
        organization=organization,
        start_date=date(2026, 3, start),
        end_date=date(2026, 3, end),
        interval=interval,
        tz=zone(tz),
        filters=Filters(currency="usd", **filters),
        now=NOW,
    )


def test_each_day_is_as_worked_out_by_hand(shop, organization):
    result = figures(organization)
    assert [p.start.isoformat() for p in result.periods] == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    ]
    assert [p.partial for p in result.periods] == [False, False, True]
    for day, expected in enumerate(EXPECTED_DAYS):
        assert {k: result.values[day][k] for k in expected} == expected, f"day {day}"
    assert {k: result.totals[k] for k in EXPECTED_TOTALS} == EXPECTED_TOTALS
    assert set(result.totals) == {m.slug for m in METRICS}


def test_a_day_in_utc_is_not_a_day_in_paris(shop, organization):
    result = figures(organization, tz="UTC")
    # 23:30 UTC on the 28th is the 29th in Paris: in UTC both first orders are the 28th's.
    assert [v["orders"] for v in result.values] == [2, 0, 2]
    assert result.values[0]["new_subscriptions"] == 1


def test_hours_across_the_dst_change(shop, organization):
    result = figures(organization, interval="hour", start=29, end=29)
    assert len(result.periods) == 23  # 02:00 does not exist on the 29th in Paris
    assert sum(v["orders"] for v in result.values) == 1
    assert result.values[0]["orders"] == 1  # 00:30 local


def test_a_month_from_its_first_day(shop, organization):
    result = figures(organization, interval="month", start=28, end=30)
    assert [p.start.date() for p in result.periods] == [date(2026, 3, 1)]
    assert result.values[0]["orders"] == 4
    # Only the range's data: February's plan counts as standing, not as new.
    assert result.values[0]["new_subscriptions"] == 2


@pytest.mark.parametrize("interval", ["week", "month", "year"])
def test_the_totals_do_not_depend_on_the_interval(shop, organization, interval):
    # The overview cuts the previous range by year for its totals alone.
    assert figures(organization, interval=interval).totals == figures(organization).totals


def test_filters(shop, organization):
    one_time = figures(organization, billing_types=("one_time",))
    assert one_time.totals["orders"] == 1 and one_time.totals["active_subscriptions"] == 0
    recurring = figures(organization, billing_types=("recurring",))
    assert recurring.totals["orders"] == 3 and recurring.totals["revenue"] == 12000
    yearly = figures(organization, product_ids=(shop["yearly"].pk,))
    assert yearly.totals["monthly_recurring_revenue"] == 1000
    assert yearly.totals["orders"] == 1
    ada = figures(organization, customer_ids=(shop["ada"].pk,))
    assert ada.totals["orders"] == 3 and ada.totals["new_customers"] == 1


def test_only_the_metrics_asked_for(shop, organization, django_assert_num_queries):
    with django_assert_num_queries(1):  # the orders, grouped by day
        result = compute(
            organization=organization,
            start_date=date(2026, 3, 28),
            end_date=date(2026, 3, 30),
            interval="day",
            tz=zone("Europe/Paris"),
            filters=Filters(currency="usd"),
            now=NOW,
            slugs=["revenue", "orders"],
        )
    assert result.totals == {"orders": 4, "revenue": 12500}


def test_another_organization_sees_only_its_own(shop, other_organization):
    result = figures(other_organization, tz="UTC")
    assert result.totals["orders"] == 1 and result.totals["revenue"] == 2900  # its one order
    assert result.totals["checkouts"] == 0 and result.totals["active_subscriptions"] == 0
