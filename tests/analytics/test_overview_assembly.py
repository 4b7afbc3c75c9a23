"""The overview's assembly (analytics/overview.py) without the page: named ranges, the
previous range of the same length, change percentages, the controls' validation, and the
currencies shown apart."""

from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from analytics.overview import (
    Change,
    OverviewForm,
    change,
    default_interval,
    local_today,
    other_currencies,
    period_label,
    previous_range,
    range_dates,
    shown,
)

TODAY = date(2026, 3, 30)


@pytest.mark.parametrize(
    ("key", "start"),
    [
        ("7d", date(2026, 3, 24)),
        ("30d", date(2026, 3, 1)),
        ("90d", date(2025, 12, 31)),
        ("12m", date(2025, 3, 31)),
        ("year", date(2026, 1, 1)),
    ],
)
def test_named_ranges_end_today(key, start):
    assert range_dates(key, TODAY) == (start, TODAY)


def test_this_year_on_new_years_day_is_one_day():
    assert range_dates("year", date(2027, 1, 1)) == (date(2027, 1, 1), date(2027, 1, 1))


def test_twelve_months_from_a_leap_day():
    assert range_dates("12m", date(2028, 2, 29)) == (date(2027, 3, 1), date(2028, 2, 29))


def test_an_unknown_range_is_refused():
    with pytest.raises(ValueError):
        range_dates("forever", TODAY)


@pytest.mark.parametrize(
    ("start", "end", "previous"),
    [
        # 30 days before 30 days.
        (date(2026, 3, 1), date(2026, 3, 30), (date(2026, 1, 30), date(2026, 2, 28))),
        # This year so far (89 days): the 89 days before New Year.
        (date(2026, 1, 1), date(2026, 3, 30), (date(2025, 10, 4), date(2025, 12, 31))),
        # One day: the day before.
        (date(2026, 3, 1), date(2026, 3, 1), (date(2026, 2, 28), date(2026, 2, 28))),
        # Across a leap day.
        (date(2028, 3, 1), date(2028, 3, 7), (date(2028, 2, 23), date(2028, 2, 29))),
    ],
)
def test_the_previous_range_has_the_same_length(start, end, previous):
    assert previous_range(start, end) == previous
    before_start, before_end = previous
    assert (before_end - before_start) == (end - start)
    assert (start - before_end).days == 1


@pytest.mark.parametrize(
    ("current", "previous", "direction", "text"),
    [
        (150, 100, "up", "▲ 50%"),
        (50, 100, "down", "▼ 50%"),
        (100, 100, "flat", "0.0%"),
        (105, 100, "up", "▲ 5.0%"),
        (0, 100, "down", "▼ 100%"),
        (100, 0, "none", "—"),  # nothing before: no percentage
        (0, 0, "none", "—"),
        (25000, 100, "up", "▲ 24,900%"),
        (-50, -100, "up", "▲ 50%"),  # from a loss to a smaller one
        (0.5, 0.25, "up", "▲ 100%"),  # ratios (a churn rate) change by their own percent
    ],
)
def test_change_percent(current, previous, direction, text):
    result = change(current, previous)
    assert (result.direction, result.text) == (direction, text)


def test_change_says_itself_for_screen_readers():
    assert change(150, 100).spoken == "up 50.0% from the previous period"
    assert change(100, 100).spoken == "unchanged from the previous period"
    assert Change("none", None).spoken == "no previous figure to compare with"


def test_default_intervals():
    assert default_interval(date(2026, 1, 1), date(2026, 3, 31)) == "day"  # 90 days
    assert default_interval(date(2025, 3, 31), date(2026, 3, 30)) == "month"


def test_today_is_the_organizations_day():
    late = datetime(2026, 3, 30, 23, 30, tzinfo=UTC)
    assert local_today(late, ZoneInfo("UTC")) == date(2026, 3, 30)
    assert local_today(late, ZoneInfo("Europe/Paris")) == date(2026, 3, 31)
    assert local_today(late, ZoneInfo("America/New_York")) == date(2026, 3, 30)


def test_figures_are_shown_by_type():
    assert shown(123456, "currency", "usd") == "USD 1,234.56"
    assert shown(1500, "currency", "jpy") == "JPY 1,500"
    assert shown(2 / 3, "percentage", "usd") == "66.7%"
    assert shown(12345, "scalar", "usd") == "12,345"


def test_period_labels():
    start = datetime(2026, 3, 2, tzinfo=ZoneInfo("Europe/Paris"))
    assert period_label(start, "day", short=True) == "Mar 2"
    assert period_label(start, "day", short=False) == "Mar 2, 2026"
    assert period_label(start, "week", short=False) == "Week of Mar 2, 2026"
    assert period_label(start, "month", short=True) == "Mar 2026"


def test_other_currencies_are_those_of_the_products_besides_the_organizations():
    products = [SimpleNamespace(price_currency=c) for c in ("usd", "eur", "gbp", "eur")]
    assert other_currencies(products, "usd") == ["eur", "gbp"]
    assert other_currencies(products, "eur") == ["gbp", "usd"]
    assert other_currencies([], "usd") == []


def form(**data):
    products = [SimpleNamespace(pk="p1", name="Monthly")]
    return OverviewForm(data, products=products, today=TODAY)


def test_the_form_resolves_a_named_range_and_ignores_dates_sent_along():
    f = form(range="7d", start="garbage", end="2020-01-01")
    assert f.is_valid(), f.errors
    data = f.cleaned_data
    assert (data["start"], data["end"], data["interval"]) == (date(2026, 3, 24), TODAY, "day")


def test_the_form_defaults_to_the_last_30_days():
    f = form()
    assert f.is_valid()
    assert (f.cleaned_data["range"], f.cleaned_data["start"]) == ("30d", date(2026, 3, 1))


def test_the_form_allows_twelve_months_by_day():
    f = form(range="12m", interval="day")
    assert f.is_valid(), f.errors


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"range": "custom"}, "start"),
        ({"range": "custom", "start": "2026-03-01"}, "end"),
        ({"range": "custom", "start": "2026-03-05", "end": "2026-03-01"}, "end"),
        ({"range": "custom", "start": "1999-12-01", "end": "2026-03-01"}, "start"),
        (
            {"range": "custom", "start": "2020-01-01", "end": "2026-03-01", "interval": "day"},
            "interval",
        ),
        (
            {"range": "custom", "start": "2000-01-01", "end": "2026-03-01", "interval": "month"},
            "end",
        ),
        ({"range": "decade"}, "range"),
        ({"interval": "hour"}, "interval"),
        ({"product": "not-ours"}, "product"),
        ({"billing_type": "free"}, "billing_type"),
    ],
)
def test_the_form_puts_each_error_on_its_field(data, field):
    f = form(**data)
    assert not f.is_valid()
    assert field in f.errors, f.errors


def test_the_forms_filters():
    f = form(product="p1", billing_type="recurring")
    assert f.is_valid()
    filters = f.filters("eur")
    assert (filters.currency, filters.product_ids, filters.billing_types) == (
        "eur",
        ("p1",),
        ("recurring",),
    )
    f = form()
    assert f.is_valid()
    assert f.filters("usd").product_ids == () and f.filters("usd").billing_types == ()
