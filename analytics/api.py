"""`GET /v1/metrics/` and `GET /v1/metrics/limits`, in Polar's shapes (`MetricsResponse`,
`MetricsLimits`), so `polar.metrics.get(...)` works unchanged. Our extensions: the
`currency` parameter, and `currency` and each period's `partial` in the answer."""

from datetime import date
from typing import Literal
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone as django_timezone
from ninja import Query, Router, Schema
from pydantic import Field

from analytics.compute import Filters, compute
from analytics.metrics import BY_SLUG, METRICS
from core.api import ERRORS, excludes_our_organization, json_response, validation_error
from core.currencies import CURRENCY_CODES
from core.timezones import zone
from organizations.api_auth import scopes

router = Router(tags=["metrics"])

MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2099, 12, 31)
# The longest range each interval takes, in days (a year by day, a week by hour, ...).
INTERVAL_LIMITS = {
    "hour": (0, 7),
    "day": (0, 400),
    "week": (0, 1500),
    "month": (0, 3700),
    "year": (0, 36600),
}


class MetricsQuery(Schema):
    start_date: date = Field(description="First day of the range, in `timezone`.")
    end_date: date = Field(description="Last day of the range (included).")
    timezone: str = Field("UTC", description="IANA timezone the days and hours are cut in.")
    interval: Literal["hour", "day", "week", "month", "year"]
    organization_id: list[UUID] | None = None
    product_id: list[UUID] | None = None
    billing_type: list[Literal["one_time", "recurring"]] | None = None
    customer_id: list[UUID] | None = None
    metrics: list[str] | None = Field(None, description="Only these metrics' slugs.")
    currency: str | None = Field(
        None,
        description="Our extension: the currency of the amounts (lowercase ISO 4217); "
        "the organization's currency by default. Orders in other currencies are left out.",
    )


class MetricOut(Schema):
    slug: str
    display_name: str
    type: str


class MetricsOut(Schema):
    periods: list[dict]
    totals: dict
    metrics: dict[str, MetricOut]
    currency: str


class IntervalLimitOut(Schema):
    min_days: int
    max_days: int


class MetricsLimitsOut(Schema):
    min_date: date
    intervals: dict[str, IntervalLimitOut]


def _checked(query: MetricsQuery):
    try:
        tz = zone(query.timezone)
    except ValueError as error:
        raise validation_error(["query", "timezone"], str(error), query.timezone) from None
    if query.end_date < query.start_date:
        raise validation_error(
            ["query", "end_date"], "end_date is before start_date.", str(query.end_date)
        )
    if query.start_date < MIN_DATE:
        raise validation_error(
            ["query", "start_date"], f"Metrics start on {MIN_DATE}.", str(query.start_date)
        )
    if query.end_date > MAX_DATE:
        raise validation_error(
            ["query", "end_date"], f"Metrics end on {MAX_DATE}.", str(query.end_date)
        )
    days = (query.end_date - query.start_date).days
    low, high = INTERVAL_LIMITS[query.interval]
    if not low <= days <= high:
        raise validation_error(
            ["query", "end_date"],
            f"A range by {query.interval} spans at most {high} days; this one spans {days}.",
            str(query.end_date),
        )
    unknown = [slug for slug in query.metrics or () if slug not in BY_SLUG]
    if unknown:
        raise validation_error(
            ["query", "metrics"],
            f"Unknown metric {unknown[0]!r}; known: {', '.join(BY_SLUG)}.",
            unknown[0],
        )
    if query.currency is not None and query.currency not in CURRENCY_CODES:
        raise validation_error(
            ["query", "currency"],
            "Unknown currency: use a lowercase ISO 4217 code such as usd.",
            query.currency,
        )
    return tz


def _number(value):
    return round(value, 6) if isinstance(value, float) else value


@router.get(
    "/",
    response={200: MetricsOut, **ERRORS},
    summary="Get metrics",
    auth=scopes("metrics:read"),
)
def get_metrics(request: HttpRequest, query: Query[MetricsQuery]):
    """Your orders and subscriptions over time: each metric for each period of the range
    (cut in `timezone`, the first period from the start of its interval), and the totals
    of the whole range. Amounts are in minor units, before tax, in one currency. See the
    README's "Analytics" for what each metric counts.

    **Scopes**: `metrics:read`
    """
    tz = _checked(query)
    organization = request.organization
    currency = query.currency or organization.currency
    filters = Filters(
        currency=currency,
        product_ids=tuple(query.product_id or ()),
        billing_types=tuple(query.billing_type or ()),
        customer_ids=tuple(query.customer_id or ()),
        nothing=excludes_our_organization(request, query.organization_id),
    )
    figures = compute(
        organization=organization,
        start_date=query.start_date,
        end_date=query.end_date,
        interval=query.interval,
        tz=tz,
        filters=filters,
        now=django_timezone.now(),
        slugs=query.metrics,
    )
    # Only the percentages can be floats: the rest are counts and amounts in minor units.
    percentages = [slug for slug in figures.slugs if BY_SLUG[slug].type == "percentage"]
    periods = []
    for period, values in zip(figures.periods, figures.values, strict=True):
        row = {"timestamp": period.start.isoformat(), **values, "partial": period.partial}
        for slug in percentages:
            row[slug] = _number(row[slug])
        periods.append(row)
    return json_response(
        {
            "periods": periods,
            "totals": {slug: _number(value) for slug, value in figures.totals.items()},
            "metrics": {
                metric.slug: {
                    "slug": metric.slug,
                    "display_name": metric.display_name,
                    "type": metric.type,
                }
                for metric in METRICS
                if metric.slug in figures.slugs
            },
            "currency": currency,
        }
    )


@router.get(
    "/limits",
    response={200: MetricsLimitsOut, **ERRORS},
    summary="Get metrics limits",
    auth=scopes("metrics:read"),
)
def get_metrics_limits(request: HttpRequest):
    """The earliest date metrics take and the longest range of each interval.

    **Scopes**: `metrics:read`
    """
    return {
        "min_date": MIN_DATE,
        "intervals": {
            name: {"min_days": low, "max_days": high}
            for name, (low, high) in INTERVAL_LIMITS.items()
        },
    }
