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

from django.db import connection
from django.db.models import Case, Count, DateField, F, IntegerField, Q, Sum, When
from django.db.models.functions import Trunc

from analytics.metrics import BY_SLUG, METRICS
from analytics.models import (
    DailyCheckoutFigures,
    DailyCustomerFigures,
    DailyOrderFigures,
    DailySubscriptionFigures,
)
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


# A metric's billing type is its orders' billing reason: a one-time purchase, or the
# first charge or a renewal of a subscription.
BILLING_REASONS = {
    "one_time": ("purchase",),
    "recurring": ("subscription_create", "subscription_cycle"),
}
NET = F("subtotal_amount") - F("discount_amount")
REFUNDED = F("refunded_amount")


def _sum(expression, condition: Q | None = None):
    return Sum(expression, filter=condition, default=0)


def _key(moment, interval: str, tz: ZoneInfo | None):
    """What a period and a truncated row share: the local start (a date from days up; the
    local wall hour for hours). The kept figures' rows are already local dates."""
    if not isinstance(moment, datetime):
        return moment
    local = moment.astimezone(tz)
    if interval == "hour":
        return local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return local.date()


def _bucketed(queryset, field_name: str, interval: str, tz: ZoneInfo | None, **aggregates):
    """{period key: {name: value}} for the rows of `queryset`, cut by `field_name` (a
    datetime cut in `tz`, or a date with `tz` None)."""
    result: dict = defaultdict(lambda: dict.fromkeys(aggregates, 0))
    if queryset.query.is_empty():
        return result
    # Aliased: an aggregate may share its name with a column (the kept rows' `orders`).
    if tz is not None:
        bucket = Trunc(field_name, interval, tzinfo=tz)
    elif interval == "day":
        bucket = F(field_name)  # a kept row's day is its period already
    else:
        bucket = Trunc(field_name, interval, output_field=DateField())
    rows = (
        queryset.annotate(bucket=bucket)
        .values("bucket")
        .annotate(**{f"v_{name}": aggregate for name, aggregate in aggregates.items()})
        .order_by()
    )
    for row in rows:
        bucket = result[_key(row.pop("bucket"), interval, tz)]
        for name, value in row.items():
            bucket[name[2:]] += value or 0
    return result


def paid_orders(organization, filters: Filters):
    """The organization's paid orders the filters select (currency, products, customers,
    billing type by billing reason): what every order figure counts."""
    orders = Order.objects.for_org(organization).paid().filter(currency=filters.currency)
    if filters.product_ids:
        orders = orders.filter(product_id__in=filters.product_ids)
    if filters.customer_ids:
        orders = orders.filter(customer_id__in=filters.customer_ids)
    reasons = BILLING_REASONS.get(filters.billing_type)
    return orders.filter(billing_reason__in=reasons) if reasons else orders


def _subscriptions(organization, filters: Filters):
    subscriptions = Subscription.objects.for_org(organization).filter(
        currency=filters.currency, started_at__isnull=False
    )
    if filters.billing_type == "one_time":
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


ORDER_SLUGS = {
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
}
STOCK_SLUGS = {
    "active_subscriptions",
    "monthly_recurring_revenue",
    "annual_recurring_revenue",
    "churn_rate",
}
CHECKOUT_SLUGS = {"checkouts", "succeeded_checkouts", "checkouts_conversion"}


def uses_kept_figures(organization, interval: str, tz: ZoneInfo, filters: Filters) -> bool:
    """Whether the daily figures PostgreSQL keeps can answer: they are days of the
    organization's own zone, and know no customer."""
    return (
        connection.vendor == "postgresql"
        and interval != "hour"
        and tz.key == organization.timezone
        and not filters.customer_ids
    )


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
    """Every metric (or those of `slugs`) for each period of the range, and the totals:
    from the kept daily figures where they can answer, else from the tables."""
    cut = periods(start_date, end_date, interval, tz, now=now)
    wanted = [m.slug for m in METRICS if not slugs or m.slug in slugs]
    needs = set(wanted)
    source_class = KeptFigures if uses_kept_figures(organization, interval, tz, filters) else Tables
    source = source_class(organization, start_date, end_date, interval, tz, filters)
    raw: dict[str, dict] = {}
    standing = {"count": 0, "mrr": 0}
    if filters.nothing:  # nothing to read: every figure is 0
        return _assemble(cut, interval, tz, raw, standing, wanted)
    if needs & ORDER_SLUGS:
        raw["orders"] = source.orders()
    stocks = bool(needs & STOCK_SLUGS)
    if stocks or needs & {"new_subscriptions", "churned_subscriptions", "canceled_subscriptions"}:
        raw["started"], raw["ended"], raw["canceled"] = source.subscription_events()
    if stocks:
        standing = source.standing()
    if needs & CHECKOUT_SLUGS:
        raw["checkouts"] = source.checkouts()
    if "new_customers" in needs:
        raw["customers"] = source.customers()
    return _assemble(cut, interval, tz, raw, standing, wanted)


class Tables:
    """The figures summed from the orders, subscriptions, checkouts and customers."""

    def __init__(self, organization, start_date, end_date, interval, tz, filters: Filters):
        self.organization, self.interval, self.tz, self.filters = (
            organization,
            interval,
            tz,
            filters,
        )
        self.start, self.end = range_bounds(start_date, end_date, tz)

    def _cut(self, queryset, field_name: str, **aggregates):
        return _bucketed(queryset, field_name, self.interval, self.tz, **aggregates)

    def orders(self):
        orders = paid_orders(self.organization, self.filters).filter(
            created_at__gte=self.start, created_at__lt=self.end
        )
        return self._cut(orders, "created_at", **ORDER_AGGREGATES)

    def subscription_events(self):
        subscriptions = _subscriptions(self.organization, self.filters)
        started = subscriptions.filter(started_at__gte=self.start, started_at__lt=self.end)
        ended = subscriptions.filter(ended_at__gte=self.start, ended_at__lt=self.end)
        canceled = subscriptions.filter(canceled_at__gte=self.start, canceled_at__lt=self.end)
        return (
            self._cut(started, "started_at", count=Count("id"), mrr=_sum(MONTHLY)),
            self._cut(ended, "ended_at", count=Count("id"), mrr=_sum(MONTHLY)),
            self._cut(canceled, "canceled_at", count=Count("id")),
        )

    def standing(self):
        return (
            _subscriptions(self.organization, self.filters)
            .filter(started_at__lt=self.start)
            .exclude(ended_at__lt=self.start)
            .aggregate(count=Count("id"), mrr=_sum(MONTHLY))
        )

    def checkouts(self):
        filters = self.filters
        checkouts = Checkout.objects.filter(
            organization=self.organization, created_at__gte=self.start, created_at__lt=self.end
        )
        if filters.product_ids:
            checkouts = checkouts.filter(product_id__in=filters.product_ids)
        if filters.customer_ids:
            checkouts = checkouts.filter(customer_id__in=filters.customer_ids)
        if filters.billing_type is not None:
            recurring = filters.billing_type == "recurring"
            checkouts = checkouts.filter(product__recurring_interval__isnull=not recurring)
        return self._cut(
            checkouts,
            "created_at",
            checkouts=Count("id"),
            succeeded=Count("id", filter=Q(status=Checkout.Status.SUCCEEDED)),
        )

    def customers(self):
        customers = Customer.objects.for_org(self.organization).filter(
            deleted_at__isnull=True, created_at__gte=self.start, created_at__lt=self.end
        )
        if self.filters.customer_ids:
            customers = customers.filter(pk__in=self.filters.customer_ids)
        return self._cut(customers, "created_at", count=Count("id"))


class KeptFigures(Tables):
    """The same figures summed from the daily rows PostgreSQL keeps (analytics.models):
    a year by day is a few thousand rows, not a million orders."""

    def __init__(self, organization, start_date, end_date, interval, tz, filters: Filters):
        super().__init__(organization, start_date, end_date, interval, tz, filters)
        self.start_date, self.end_date = start_date, end_date

    def _rows(self, model, *, products: bool = True):
        rows = model.objects.filter(
            organization_id=self.organization.pk,
            day__gte=self.start_date,
            day__lte=self.end_date,
        )
        if products and self.filters.product_ids:
            rows = rows.filter(product_id__in=self.filters.product_ids)
        return rows

    def _cut(self, queryset, field_name: str = "day", **aggregates):
        return _bucketed(queryset, "day", self.interval, None, **aggregates)

    def orders(self):
        rows = self._rows(DailyOrderFigures).filter(currency=self.filters.currency)
        reasons = BILLING_REASONS.get(self.filters.billing_type)
        if reasons:
            rows = rows.filter(billing_reason__in=reasons)

        def of(reason: str, column: str = "orders"):
            return _sum(column, Q(billing_reason=reason))

        return self._cut(
            rows,
            orders=_sum("orders"),
            revenue=_sum("revenue"),
            refunded=_sum("refunded"),
            one_time_products=of("purchase"),
            one_time_products_revenue=of("purchase", "revenue"),
            one_time_refunded=of("purchase", "refunded"),
            new_subscriptions_revenue=of("subscription_create", "revenue"),
            new_refunded=of("subscription_create", "refunded"),
            renewed_subscriptions=of("subscription_cycle"),
            renewed_subscriptions_revenue=of("subscription_cycle", "revenue"),
            renewed_refunded=of("subscription_cycle", "refunded"),
        )

    def _subscription_rows(self, rows):
        rows = rows.filter(currency=self.filters.currency)
        if self.filters.billing_type == "one_time":
            return rows.none()
        return rows

    def subscription_events(self):
        rows = self._subscription_rows(self._rows(DailySubscriptionFigures))
        events = self._cut(
            rows,
            started=_sum("started"),
            started_mrr=_sum("started_mrr"),
            ended=_sum("ended"),
            ended_mrr=_sum("ended_mrr"),
            canceled=_sum("canceled"),
        )
        started, ended, canceled = {}, {}, {}
        for key, row in events.items():
            started[key] = {"count": row["started"], "mrr": row["started_mrr"]}
            ended[key] = {"count": row["ended"], "mrr": row["ended_mrr"]}
            canceled[key] = {"count": row["canceled"]}
        return started, ended, canceled

    def standing(self):
        rows = DailySubscriptionFigures.objects.filter(
            organization_id=self.organization.pk, day__lt=self.start_date
        )
        if self.filters.product_ids:
            rows = rows.filter(product_id__in=self.filters.product_ids)
        rows = self._subscription_rows(rows)
        if rows.query.is_empty():
            return {"count": 0, "mrr": 0}
        totals = rows.aggregate(
            started=_sum("started"),
            ended=_sum("ended"),
            started_mrr=_sum("started_mrr"),
            ended_mrr=_sum("ended_mrr"),
        )
        return {
            "count": totals["started"] - totals["ended"],
            "mrr": totals["started_mrr"] - totals["ended_mrr"],
        }

    def checkouts(self):
        rows = self._rows(DailyCheckoutFigures)
        if self.filters.billing_type is not None:
            rows = rows.filter(recurring=self.filters.billing_type == "recurring")
        return self._cut(rows, checkouts=_sum("checkouts"), succeeded=_sum("succeeded"))

    def customers(self):
        rows = self._rows(DailyCustomerFigures, products=False)
        return self._cut(rows, count=_sum("customers"))


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
