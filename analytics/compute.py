"""The metrics of metrics.py over the periods of periods.py, computed from the tables.

Each family of figures is one grouped query: the paid orders of the range by period, the
subscriptions that started, were canceled and ended in it, the checkouts and the new
customers; the stocks (active subscriptions, MRR) are those standing at the range's start
plus the starts and ends of each period, so nothing is read per period. Periods are cut by
the database (Django's Trunc in the zone, on PostgreSQL and SQLite alike) and matched to
`Period`s by their local start.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, IntegerField, Q, Sum, When
from django.db.models.functions import Trunc

from analytics.metrics import BY_SLUG, METRICS
from analytics.periods import Period, periods, range_bounds
from checkouts.models import Checkout
from customers.models import Customer
from orders.models import Order, Subscription


@dataclass(frozen=True)
class Filters:
    currency: str
    product_ids: tuple = ()
    billing_types: tuple = ()  # "one_time" and/or "recurring"; none or both: all
    customer_ids: tuple = ()
    nothing: bool = False  # an organization_id filter naming only others: no rows at all

    @property
    def billing_type(self) -> str | None:
        types = set(self.billing_types)
        return next(iter(types)) if len(types) == 1 else None


@dataclass
class Figures:
    periods: list[Period]
    values: list[dict] = field(default_factory=list)  # per period: {slug: number}
    totals: dict = field(default_factory=dict)
    slugs: list[str] = field(default_factory=list)


NET = F("subtotal_amount") - F("discount_amount")
REFUNDED = F("refunded_amount")


def _sum(expression, condition: Q | None = None):
    return Sum(expression, filter=condition, default=0)


def _key(moment: datetime, interval: str, tz: ZoneInfo):
    """What a period and a truncated row share: the local start (a date from days up; the
    local wall hour for hours)."""
    local = moment.astimezone(tz)
    if interval == "hour":
        return local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return local.date()


def _bucketed(queryset, field_name: str, interval: str, tz: ZoneInfo, **aggregates):
    """{period key: {name: value}} for the rows of `queryset`, cut by `field_name`."""
    result: dict = defaultdict(lambda: dict.fromkeys(aggregates, 0))
    if queryset.query.is_empty():
        return result
    rows = (
        queryset.annotate(bucket=Trunc(field_name, interval, tzinfo=tz))
        .values("bucket")
        .annotate(**aggregates)
        .order_by()
    )
    for row in rows:
        bucket = result[_key(row.pop("bucket"), interval, tz)]
        for name, value in row.items():
            bucket[name] += value or 0
    return result


def _orders(organization, filters: Filters):
    orders = Order.objects.for_org(organization).paid().filter(currency=filters.currency)
    if filters.nothing:
        return orders.none()
    if filters.product_ids:
        orders = orders.filter(product_id__in=filters.product_ids)
    if filters.customer_ids:
        orders = orders.filter(customer_id__in=filters.customer_ids)
    return orders.of_billing_types(filters.billing_types)


def _subscriptions(organization, filters: Filters):
    subscriptions = Subscription.objects.for_org(organization).filter(
        currency=filters.currency, started_at__isnull=False
    )
    if filters.billing_type == "one_time" or filters.nothing:
        return subscriptions.none()
    if filters.product_ids:
        subscriptions = subscriptions.filter(product_id__in=filters.product_ids)
    if filters.customer_ids:
        subscriptions = subscriptions.filter(customer_id__in=filters.customer_ids)
    return subscriptions


MONTHLY = Case(
    When(recurring_interval="year", then=F("amount") / 12),
    default=F("amount"),
    output_field=IntegerField(),
)

ORDER_AGGREGATES = {
    "orders": Count("id"),
    "revenue": _sum(NET),
    "refunded": _sum(REFUNDED),
    "one_time_products": Count("id", filter=Q(billing_reason="purchase")),
    "one_time_products_revenue": _sum(NET, Q(billing_reason="purchase")),
    "one_time_refunded": _sum(REFUNDED, Q(billing_reason="purchase")),
    "new_subscriptions_revenue": _sum(NET, Q(billing_reason="subscription_create")),
    "new_refunded": _sum(REFUNDED, Q(billing_reason="subscription_create")),
    "renewed_subscriptions": Count("id", filter=Q(billing_reason="subscription_cycle")),
    "renewed_subscriptions_revenue": _sum(NET, Q(billing_reason="subscription_cycle")),
    "renewed_refunded": _sum(REFUNDED, Q(billing_reason="subscription_cycle")),
}


def compute(
    *,
    organization,
    start_date,
    end_date,
    interval: str,
    tz: ZoneInfo,
    filters: Filters,
    now: datetime,
    slugs: list[str] | None = None,
) -> Figures:
    """Every metric (or those of `slugs`) for each period of the range, and the totals."""
    cut = periods(start_date, end_date, interval, tz, now=now)
    start, end = range_bounds(start_date, end_date, tz)
    wanted = [m.slug for m in METRICS if not slugs or m.slug in slugs]
    needs = set(wanted)

    def any_of(*names: str) -> bool:
        return bool(needs & set(names))

    raw: dict[str, dict] = {}
    if any_of(
        "orders",
        "revenue",
        "net_revenue",
        "cumulative_revenue",
        "net_cumulative_revenue",
        "average_order_value",
        "net_average_order_value",
        "one_time_products",
        "one_time_products_revenue",
        "one_time_products_net_revenue",
        "new_subscriptions_revenue",
        "new_subscriptions_net_revenue",
        "renewed_subscriptions",
        "renewed_subscriptions_revenue",
        "renewed_subscriptions_net_revenue",
    ):
        orders = _orders(organization, filters).filter(created_at__gte=start, created_at__lt=end)
        raw["orders"] = _bucketed(orders, "created_at", interval, tz, **ORDER_AGGREGATES)
    subscriptions = _subscriptions(organization, filters)
    stocks = any_of(
        "active_subscriptions",
        "monthly_recurring_revenue",
        "annual_recurring_revenue",
        "churn_rate",
    )
    if stocks or "new_subscriptions" in needs:
        started = subscriptions.filter(started_at__gte=start, started_at__lt=end)
        raw["started"] = _bucketed(
            started, "started_at", interval, tz, count=Count("id"), mrr=_sum(MONTHLY)
        )
    if stocks or "churned_subscriptions" in needs:
        ended = subscriptions.filter(ended_at__gte=start, ended_at__lt=end)
        raw["ended"] = _bucketed(
            ended, "ended_at", interval, tz, count=Count("id"), mrr=_sum(MONTHLY)
        )
    if "canceled_subscriptions" in needs:
        canceled = subscriptions.filter(canceled_at__gte=start, canceled_at__lt=end)
        raw["canceled"] = _bucketed(canceled, "canceled_at", interval, tz, count=Count("id"))
    standing = {"count": 0, "mrr": 0}
    if stocks and not filters.nothing:
        standing = (
            subscriptions.filter(started_at__lt=start)
            .exclude(ended_at__lt=start)
            .aggregate(count=Count("id"), mrr=_sum(MONTHLY))
        )
    if any_of("checkouts", "succeeded_checkouts", "checkouts_conversion"):
        checkouts = Checkout.objects.filter(
            organization=organization, created_at__gte=start, created_at__lt=end
        )
        if filters.nothing:
            checkouts = checkouts.none()
        if filters.product_ids:
            checkouts = checkouts.filter(product_id__in=filters.product_ids)
        if filters.customer_ids:
            checkouts = checkouts.filter(customer_id__in=filters.customer_ids)
        if filters.billing_type == "one_time":
            checkouts = checkouts.filter(product__recurring_interval__isnull=True)
        elif filters.billing_type == "recurring":
            checkouts = checkouts.filter(product__recurring_interval__isnull=False)
        raw["checkouts"] = _bucketed(
            checkouts,
            "created_at",
            interval,
            tz,
            checkouts=Count("id"),
            succeeded=Count("id", filter=Q(status=Checkout.Status.SUCCEEDED)),
        )
    if "new_customers" in needs:
        customers = Customer.objects.for_org(organization).filter(
            deleted_at__isnull=True, created_at__gte=start, created_at__lt=end
        )
        if filters.customer_ids:
            customers = customers.filter(pk__in=filters.customer_ids)
        if filters.nothing:
            customers = customers.none()
        raw["customers"] = _bucketed(customers, "created_at", interval, tz, count=Count("id"))

    return _assemble(cut, interval, tz, raw, standing, wanted)


def _ratio(numerator: float, denominator: float, *, money: bool = False):
    if not denominator:
        return 0
    return round(numerator / denominator) if money else numerator / denominator


def _assemble(cut, interval, tz, raw, standing, wanted) -> Figures:
    empty: dict = {}
    values: list[dict] = []
    active, mrr = standing["count"] or 0, standing["mrr"] or 0
    cumulative = net_cumulative = 0
    sums: dict = defaultdict(int)
    first_active = active
    for period in cut:
        key = _key(period.start, interval, tz)
        o = raw.get("orders", empty).get(key, {})
        started = raw.get("started", empty).get(key, {})
        ended = raw.get("ended", empty).get(key, {})
        active_at_start = active
        active += started.get("count", 0) - ended.get("count", 0)
        mrr += started.get("mrr", 0) - ended.get("mrr", 0)
        revenue, refunded, orders = o.get("revenue", 0), o.get("refunded", 0), o.get("orders", 0)
        cumulative += revenue
        net_cumulative += revenue - refunded
        c = raw.get("checkouts", empty).get(key, {})
        row = {
            "orders": orders,
            "revenue": revenue,
            "net_revenue": revenue - refunded,
            "cumulative_revenue": cumulative,
            "net_cumulative_revenue": net_cumulative,
            "average_order_value": _ratio(revenue, orders, money=True),
            "net_average_order_value": _ratio(revenue - refunded, orders, money=True),
            "one_time_products": o.get("one_time_products", 0),
            "one_time_products_revenue": o.get("one_time_products_revenue", 0),
            "one_time_products_net_revenue": o.get("one_time_products_revenue", 0)
            - o.get("one_time_refunded", 0),
            "new_subscriptions": started.get("count", 0),
            "new_subscriptions_revenue": o.get("new_subscriptions_revenue", 0),
            "new_subscriptions_net_revenue": o.get("new_subscriptions_revenue", 0)
            - o.get("new_refunded", 0),
            "renewed_subscriptions": o.get("renewed_subscriptions", 0),
            "renewed_subscriptions_revenue": o.get("renewed_subscriptions_revenue", 0),
            "renewed_subscriptions_net_revenue": o.get("renewed_subscriptions_revenue", 0)
            - o.get("renewed_refunded", 0),
            "active_subscriptions": active,
            "monthly_recurring_revenue": mrr,
            "annual_recurring_revenue": mrr * 12,
            "canceled_subscriptions": raw.get("canceled", empty).get(key, {}).get("count", 0),
            "churned_subscriptions": ended.get("count", 0),
            "churn_rate": _ratio(ended.get("count", 0), active_at_start),
            "checkouts": c.get("checkouts", 0),
            "succeeded_checkouts": c.get("succeeded", 0),
            "checkouts_conversion": _ratio(c.get("succeeded", 0), c.get("checkouts", 0)),
            "new_customers": raw.get("customers", empty).get(key, {}).get("count", 0),
        }
        for slug, value in row.items():
            if BY_SLUG[slug].kind == "flow":
                sums[slug] += value
        values.append({slug: row[slug] for slug in wanted})
    last = values[-1] if values else {}
    totals = {}
    for slug in wanted:
        kind = BY_SLUG[slug].kind
        if kind == "flow":
            totals[slug] = sums[slug]
        elif kind in ("stock", "cumulative"):
            totals[slug] = last.get(slug, 0)
    ratios = {
        "average_order_value": _ratio(sums["revenue"], sums["orders"], money=True),
        "net_average_order_value": _ratio(sums["net_revenue"], sums["orders"], money=True),
        "churn_rate": _ratio(sums["churned_subscriptions"], first_active),
        "checkouts_conversion": _ratio(sums["succeeded_checkouts"], sums["checkouts"]),
    }
    for slug in wanted:
        if slug in ratios:
            totals[slug] = ratios[slug]
    return Figures(periods=cut, values=values, totals=totals, slugs=wanted)
