"""`GET /v1/metrics/` and `/v1/metrics/limits`: Polar's shapes, the hand-computed figures,
clear 422s, scopes and tenancy, and the official polar-sdk against a live server."""

import json

import pytest
from django.test import Client
from polar.v2026_10 import Polar
from polar.v2026_10.errors import PolarClientError

from analytics.metrics import METRICS
from tests.analytics.conftest import EXPECTED_DAYS, EXPECTED_TOTALS

pytestmark = pytest.mark.django_db

RANGE = {
    "start_date": "2026-03-28",
    "end_date": "2026-03-30",
    "interval": "day",
    "timezone": "Europe/Paris",
}


def test_the_figures_in_polars_shape(shop, api):
    response = api.get("/v1/metrics/", RANGE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [p["timestamp"] for p in body["periods"]] == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    ]
    for period, expected in zip(body["periods"], EXPECTED_DAYS, strict=True):
        assert {k: period[k] for k in expected} == pytest.approx(expected)
    assert {k: body["totals"][k] for k in EXPECTED_TOTALS} == pytest.approx(EXPECTED_TOTALS)
    assert list(body["metrics"]) == [m.slug for m in METRICS]
    assert body["metrics"]["revenue"] == {
        "slug": "revenue",
        "display_name": "Revenue",
        "type": "currency",
    }
    assert body["metrics"]["churn_rate"]["type"] == "percentage"
    assert body["currency"] == "usd"
    assert [p["partial"] for p in body["periods"]] == [False, False, False]  # all past now


def test_only_the_metrics_asked_for(shop, api):
    body = api.get("/v1/metrics/", {**RANGE, "metrics": ["revenue", "orders"]}).json()
    assert set(body["totals"]) == {"revenue", "orders"}
    assert set(body["periods"][0]) == {"timestamp", "revenue", "orders", "partial"}
    assert list(body["metrics"]) == ["orders", "revenue"]


def test_filters_and_currency(shop, api):
    one_time = api.get("/v1/metrics/", {**RANGE, "billing_type": "one_time"}).json()
    assert one_time["totals"]["orders"] == 1
    yearly = api.get("/v1/metrics/", {**RANGE, "product_id": str(shop["yearly"].pk)}).json()
    assert yearly["totals"]["monthly_recurring_revenue"] == 1000
    ada = api.get("/v1/metrics/", {**RANGE, "customer_id": str(shop["ada"].pk)}).json()
    assert ada["totals"]["orders"] == 3
    euros = api.get("/v1/metrics/", {**RANGE, "currency": "eur"}).json()
    assert euros["currency"] == "eur" and euros["totals"]["revenue"] == 700


@pytest.mark.parametrize(
    ("params", "loc", "fragment"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown timezone"),
        ({"end_date": "2026-03-01"}, "end_date", "before start_date"),
        ({"interval": "hour", "start_date": "2026-03-01"}, "end_date", "at most 7 days"),
        ({"interval": "fortnight"}, "interval", ""),
        ({"metrics": "revenue_per_moon"}, "metrics", "Unknown metric"),
        ({"currency": "USD"}, "currency", "lowercase ISO 4217"),
        ({"start_date": "1999-12-31"}, "start_date", "Metrics start on 2000-01-01"),
        ({"start_date": "2026-02-30"}, "start_date", ""),
        ({"end_date": "9999-12-31", "interval": "year"}, "end_date", "Metrics end on 2099-12-31"),
    ],
)
def test_bad_input_is_a_422_at_its_parameter(api, params, loc, fragment):
    response = api.get("/v1/metrics/", {**RANGE, **params})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["query", loc]
    assert fragment in detail[0]["msg"]


def test_a_missing_interval_is_a_422(api):
    response = api.get("/v1/metrics/", {"start_date": "2026-03-28", "end_date": "2026-03-30"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "interval"]


def test_the_scope_and_the_organization(shop, make_token, organization, other_organization):
    without = Client(
        headers={"Authorization": f"Bearer {make_token(organization, ['orders:read'])}"}
    )
    response = without.get("/v1/metrics/", RANGE)
    assert response.status_code == 403 and "metrics:read" in response.json()["detail"]
    assert Client().get("/v1/metrics/", RANGE).status_code == 401
    outsider = Client(headers={"Authorization": f"Bearer {make_token(other_organization)}"})
    body = outsider.get("/v1/metrics/", RANGE).json()
    assert body["totals"]["revenue"] == 2900  # its own one order, none of ours
    ours = Client(headers={"Authorization": f"Bearer {make_token(organization)}"})
    others_only = ours.get(
        "/v1/metrics/", {**RANGE, "organization_id": str(other_organization.pk)}
    ).json()
    assert (
        others_only["totals"]["orders"] == 0 and others_only["totals"]["active_subscriptions"] == 0
    )


def test_limits(api):
    body = api.get("/v1/metrics/limits").json()
    assert body["min_date"] == "2000-01-01"
    assert body["intervals"]["hour"] == {"min_days": 0, "max_days": 7}
    assert set(body["intervals"]) == {"hour", "day", "week", "month", "year"}


@pytest.mark.parametrize(
    ("interval", "start", "end", "periods", "orders", "revenue", "mrr"),
    [
        # the 29th in Paris: 23 hours, the monthly plan's first order, one plan ending
        ("hour", "2026-03-29", "2026-03-29", 23, 1, 1000, 1000),
        ("day", "2026-03-28", "2026-03-30", 3, 4, 12500, 2000),
        ("week", "2026-03-01", "2026-03-30", 6, 4, 12500, 2000),
        ("month", "2026-01-01", "2026-03-30", 3, 4, 12500, 2000),
        ("year", "2025-01-01", "2026-03-30", 2, 4, 12500, 2000),
    ],
)
def test_polar_sdk_gets_metrics_for_every_interval(
    shop, sdk, interval, start, end, periods, orders, revenue, mrr
):
    result = sdk.metrics.get(
        start_date=start, end_date=end, interval=interval, timezone="Europe/Paris"
    )
    assert len(result.periods) == periods
    assert result.totals.orders == orders
    assert result.totals.revenue == revenue
    assert result.totals.monthly_recurring_revenue == mrr
    assert result.metrics.revenue.display_name == "Revenue"
    assert result.metrics.churn_rate.type == "percentage"


def test_polar_sdk_limits_and_errors(sdk, make_token, organization, live_server):
    limits = sdk.metrics.limits()
    assert limits.intervals.day.max_days == 400
    with pytest.raises(PolarClientError) as error:
        sdk.metrics.get(start_date="2026-03-30", end_date="2026-03-01", interval="day")
    assert error.value.status_code == 422
    secret = make_token(organization, scopes=["customers:read"])
    with (
        Polar(secret, base_url=live_server.url, timeout=30) as client,
        pytest.raises(PolarClientError) as error,
    ):
        client.metrics.get(start_date="2026-03-01", end_date="2026-03-30", interval="day")
    assert error.value.status_code == 403
    assert "metrics:read" in json.loads(error.value.error)["detail"]
