"""The metrics of metrics.py over the periods of periods.py, computed from the tables.

Each family of figures is one grouped query: the paid orders of the range by period, the
subscriptions that started, were canceled and ended in it, the checkouts and the new
customers; the stocks (active subscriptions, MRR) are those standing at the range's start
plus the starts and ends of each period, so nothing is read per period. Periods are cut by
the database (truncated in the zone as Django's Trunc writes it, on PostgreSQL and SQLite
alike) and matched to `Period`s by their local start.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import connection, connections, router
from django.db.models import UUIDField

from analytics.metrics import METRICS
from analytics.models import (
    DailyCheckoutFigures,
    DailyCustomerFigures,
    DailyOrderFigures,
    DailySubscriptionFigures,
)
from analytics.periods import Period, periods, range_bounds
from checkouts.models import Checkout
from customers.models import Customer
from orders.models import Order, Product, Subscription


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

# The figures are read with SQL of our own: a year by day in one request is seven grouped
# queries, and building and compiling them through the ORM cost more than running them.
# Table and column names are the models' (Django's defaults); every value is a parameter.
# Each query reads where the ORM would read its model (core/replicas.py: a replica may
# serve a GET's reads); every alias is the same database, so SQL and values are written
# with the default connection's operations.
PRODUCTS = Product._meta.db_table
UUID = UUIDField()


def _total(expression: str, reason: str | None = None) -> str:
    """The sum of `expression` (0 over no rows), over the orders (or kept rows) of one
    billing reason when `reason` is given; a bigint (PostgreSQL sums bigints as numeric,
    which the driver would read as Decimals)."""
    if reason:
        expression = f"CASE WHEN billing_reason = '{reason}' THEN {expression} ELSE 0 END"
    return f"CAST(COALESCE(SUM({expression}), 0) AS BIGINT)"


NET = "(subtotal_amount - discount_amount)"
ORDER_AGGREGATES = {
    "orders": "COUNT(*)",
    "revenue": _total(NET),
    "refunded": _total("refunded_amount"),
    "one_time_products": _total("1", "purchase"),
    "one_time_products_revenue": _total(NET, "purchase"),
    "one_time_refunded": _total("refunded_amount", "purchase"),
    "new_subscriptions_revenue": _total(NET, "subscription_create"),
    "new_refunded": _total("refunded_amount", "subscription_create"),
    "renewed_subscriptions": _total("1", "subscription_cycle"),
    "renewed_subscriptions_revenue": _total(NET, "subscription_cycle"),
    "renewed_refunded": _total("refunded_amount", "subscription_cycle"),
}
# A subscription's monthly amount: a yearly plan's / 12, rounded down (integer division on
# both databases).
MONTHLY = "CASE WHEN recurring_interval = 'year' THEN amount / 12 ELSE amount END"
STOCK_AGGREGATES = {"count": "COUNT(*)", "mrr": _total(MONTHLY)}


class Where:
    """The conditions of one query, ANDed: SQL with %s placeholders and their values
    (adapted to the database: UUIDs are text on SQLite, instants UTC text there)."""

    def __init__(self):
        self.conditions: list[str] = []
        self.params: list = []

    def add(self, condition: str, *params) -> "Where":
        self.conditions.append(condition)
        self.params.extend(params)
        return self

    def id(self, column: str, value) -> "Where":
        return self.add(f"{column} = %s", UUID.get_db_prep_value(value, connection))

    def ids(self, column: str, values) -> "Where":
        """`column` among `values`; nothing is filtered when there are none."""
        if values:
            marks = ", ".join(["%s"] * len(values))
            self.add(
                f"{column} IN ({marks})",
                *(UUID.get_db_prep_value(value, connection) for value in values),
            )
        return self

    def within(self, column: str, values) -> "Where":
        marks = ", ".join(["%s"] * len(values))
        return self.add(f"{column} IN ({marks})", *values)

    def instants(self, column: str, start: datetime, end: datetime) -> "Where":
        """`column` from `start` (included) to `end` (excluded)."""
        adapt = connection.ops.adapt_datetimefield_value
        return self.add(f"{column} >= %s AND {column} < %s", adapt(start), adapt(end))

    def days(self, start: date, end: date) -> "Where":
        """A kept row's `day` from `start` to `end`, both included."""
        adapt = connection.ops.adapt_datefield_value
        return self.add("day >= %s AND day <= %s", adapt(start), adapt(end))


def _row_key(value, interval: str):
    """The period key of a truncated row (see `_period_key`): the database gives the local
    wall time truncated (text on SQLite), or a date for the kept rows by day."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if interval == "hour" else value.date()
    return value


def _period_key(start: datetime, interval: str):
    """What a period and a truncated row share: the local start (a date from days up; the
    local wall hour for hours; a period's start is in the requested zone already)."""
    if interval == "hour":
        return start.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return start.date()


def _cursor(model):
    """A cursor on the database the ORM would read `model` from."""
    return connections[router.db_for_read(model)].cursor()


def _grouped(model, where: Where, bucket: tuple[str, tuple], interval: str, aggregates):
    """{period key: {name: value}}: the `aggregates` (name: SQL) of the rows of `model`'s
    table that `where` selects, grouped by `bucket` (SQL and its parameters)."""
    bucket_sql, bucket_params = bucket
    sql = (
        f"SELECT {bucket_sql}, {', '.join(aggregates.values())} FROM {model._meta.db_table} "
        f"WHERE {' AND '.join(where.conditions)} GROUP BY 1"
    )
    names = list(aggregates)
    result: dict = {}
    with _cursor(model) as cursor:
        cursor.execute(sql, [*bucket_params, *where.params])
        for bucket_value, *values in cursor.fetchall():
            key = _row_key(bucket_value, interval)
            if key in result:  # two rows share a key where a DST change repeats an hour
                row = result[key]
                for name, value in zip(names, values, strict=True):
                    row[name] += value
            else:
                result[key] = dict(zip(names, values, strict=True))
    return result


def _totals(model, where: Where, aggregates) -> dict:
    """The `aggregates` of all the rows of `model`'s table that `where` selects."""
    sql = (
        f"SELECT {', '.join(aggregates.values())} FROM {model._meta.db_table} "
        f"WHERE {' AND '.join(where.conditions)}"
    )
    with _cursor(model) as cursor:
        cursor.execute(sql, where.params)
        values = cursor.fetchone()
    return dict(zip(aggregates, values, strict=True))


def paid_orders(organization, filters: Filters):
    """The organization's paid orders the filters select (currency, products, customers,
    billing type by billing reason): what every order figure counts (as `Tables.orders`
    reads them)."""
    orders = Order.objects.for_org(organization).paid().filter(currency=filters.currency)
    if filters.product_ids:
        orders = orders.filter(product_id__in=filters.product_ids)
    if filters.customer_ids:
        orders = orders.filter(customer_id__in=filters.customer_ids)
    reasons = BILLING_REASONS.get(filters.billing_type)
    return orders.filter(billing_reason__in=reasons) if reasons else orders


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
        return _assemble(cut, interval, raw, standing, wanted)
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
    return _assemble(cut, interval, raw, standing, wanted)


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

    def _bucket(self, column: str) -> tuple[str, tuple]:
        """`column` (an instant) truncated to the interval in the zone, as Django's Trunc
        writes it on each database."""
        return connection.ops.datetime_trunc_sql(self.interval, column, (), self.tz.key)

    def _cut(self, model, where: Where, column: str, aggregates) -> dict:
        return _grouped(model, where, self._bucket(column), self.interval, aggregates)

    def _orders(self) -> Where:
        """The paid orders the filters select (`paid_orders`)."""
        filters = self.filters
        where = (
            Where()
            .id("organization_id", self.organization.pk)
            .within("status", Order.PAID_STATUSES)
            .add("currency = %s", filters.currency)
            .ids("product_id", filters.product_ids)
            .ids("customer_id", filters.customer_ids)
        )
        reasons = BILLING_REASONS.get(filters.billing_type)
        return where.within("billing_reason", reasons) if reasons else where

    def orders(self):
        where = self._orders().instants("created_at", self.start, self.end)
        return self._cut(Order, where, "created_at", ORDER_AGGREGATES)

    def _subscriptions(self) -> Where | None:
        """The started subscriptions the filters select; None for one-time figures."""
        filters = self.filters
        if filters.billing_type == "one_time":
            return None
        return (
            Where()
            .id("organization_id", self.organization.pk)
            .add("currency = %s", filters.currency)
            .add("started_at IS NOT NULL")
            .ids("product_id", filters.product_ids)
            .ids("customer_id", filters.customer_ids)
        )

    def subscription_events(self):
        if self._subscriptions() is None:
            return {}, {}, {}
        start, end = self.start, self.end
        return (
            self._cut(
                Subscription,
                self._subscriptions().instants("started_at", start, end),
                "started_at",
                STOCK_AGGREGATES,
            ),
            self._cut(
                Subscription,
                self._subscriptions().instants("ended_at", start, end),
                "ended_at",
                STOCK_AGGREGATES,
            ),
            self._cut(
                Subscription,
                self._subscriptions().instants("canceled_at", start, end),
                "canceled_at",
                {"count": "COUNT(*)"},
            ),
        )

    def standing(self):
        where = self._subscriptions()
        if where is None:
            return {"count": 0, "mrr": 0}
        start = connection.ops.adapt_datetimefield_value(self.start)
        where.add("started_at < %s", start).add("(ended_at IS NULL OR ended_at >= %s)", start)
        return _totals(Subscription, where, STOCK_AGGREGATES)

    def checkouts(self):
        filters = self.filters
        where = (
            Where()
            .id("organization_id", self.organization.pk)
            .instants("created_at", self.start, self.end)
            .ids("product_id", filters.product_ids)
            .ids("customer_id", filters.customer_ids)
        )
        if filters.billing_type is not None:
            recurring = "IS NOT NULL" if filters.billing_type == "recurring" else "IS NULL"
            where.add(
                f"product_id IN (SELECT id FROM {PRODUCTS} WHERE recurring_interval {recurring})"
            )
        succeeded = f"CASE WHEN status = '{Checkout.Status.SUCCEEDED}' THEN 1 ELSE 0 END"
        return self._cut(
            Checkout,
            where,
            "created_at",
            {"checkouts": "COUNT(*)", "succeeded": _total(succeeded)},
        )

    def customers(self):
        where = (
            Where()
            .id("organization_id", self.organization.pk)
            .add("deleted_at IS NULL")
            .instants("created_at", self.start, self.end)
            .ids("id", self.filters.customer_ids)
        )
        return self._cut(Customer, where, "created_at", {"count": "COUNT(*)"})


class KeptFigures(Tables):
    """The same figures summed from the daily rows PostgreSQL keeps (analytics.models):
    a year by day is a few thousand rows, not a million orders."""

    def __init__(self, organization, start_date, end_date, interval, tz, filters: Filters):
        super().__init__(organization, start_date, end_date, interval, tz, filters)
        self.start_date, self.end_date = start_date, end_date

    def _rows(self, *, products: bool = True) -> Where:
        """The organization's kept rows of the range's days (and the filters' products)."""
        where = Where().id("organization_id", self.organization.pk)
        where.days(self.start_date, self.end_date)
        return where.ids("product_id", self.filters.product_ids) if products else where

    def _bucket(self, column: str) -> tuple[str, tuple]:
        """A kept row's `column` (its local day) is its period by day; longer periods
        truncate it."""
        if self.interval == "day":
            return column, ()
        return connection.ops.date_trunc_sql(self.interval, column, ())

    def orders(self):
        where = self._rows().add("currency = %s", self.filters.currency)
        reasons = BILLING_REASONS.get(self.filters.billing_type)
        if reasons:
            where.within("billing_reason", reasons)
        return self._cut(
            DailyOrderFigures,
            where,
            "day",
            {
                "orders": _total("orders"),
                "revenue": _total("revenue"),
                "refunded": _total("refunded"),
                "one_time_products": _total("orders", "purchase"),
                "one_time_products_revenue": _total("revenue", "purchase"),
                "one_time_refunded": _total("refunded", "purchase"),
                "new_subscriptions_revenue": _total("revenue", "subscription_create"),
                "new_refunded": _total("refunded", "subscription_create"),
                "renewed_subscriptions": _total("orders", "subscription_cycle"),
                "renewed_subscriptions_revenue": _total("revenue", "subscription_cycle"),
                "renewed_refunded": _total("refunded", "subscription_cycle"),
            },
        )

    def _subscription_rows(self, where: Where) -> Where | None:
        """Kept subscription rows in the filters' currency; None for one-time figures."""
        if self.filters.billing_type == "one_time":
            return None
        return where.add("currency = %s", self.filters.currency)

    def subscription_events(self):
        where = self._subscription_rows(self._rows())
        if where is None:
            return {}, {}, {}
        events = self._cut(
            DailySubscriptionFigures,
            where,
            "day",
            {
                "started": _total("started"),
                "started_mrr": _total("started_mrr"),
                "ended": _total("ended"),
                "ended_mrr": _total("ended_mrr"),
                "canceled": _total("canceled"),
            },
        )
        started, ended, canceled = {}, {}, {}
        for key, row in events.items():
            started[key] = {"count": row["started"], "mrr": row["started_mrr"]}
            ended[key] = {"count": row["ended"], "mrr": row["ended_mrr"]}
            canceled[key] = {"count": row["canceled"]}
        return started, ended, canceled

    def standing(self):
        before = Where().id("organization_id", self.organization.pk)
        before.add("day < %s", connection.ops.adapt_datefield_value(self.start_date))
        where = self._subscription_rows(before.ids("product_id", self.filters.product_ids))
        if where is None:
            return {"count": 0, "mrr": 0}
        totals = _totals(
            DailySubscriptionFigures,
            where,
            {
                "started": _total("started"),
                "ended": _total("ended"),
                "started_mrr": _total("started_mrr"),
                "ended_mrr": _total("ended_mrr"),
            },
        )
        return {
            "count": totals["started"] - totals["ended"],
            "mrr": totals["started_mrr"] - totals["ended_mrr"],
        }

    def checkouts(self):
        where = self._rows()
        if self.filters.billing_type is not None:
            where.add("recurring = %s", self.filters.billing_type == "recurring")
        return self._cut(
            DailyCheckoutFigures,
            where,
            "day",
            {"checkouts": _total("checkouts"), "succeeded": _total("succeeded")},
        )

    def customers(self):
        return self._cut(
            DailyCustomerFigures,
            self._rows(products=False),
            "day",
            {"count": _total("customers")},
        )


def _ratio(numerator: float, denominator: float, *, money: bool = False):
    if not denominator:
        return 0
    return round(numerator / denominator) if money else numerator / denominator


ZERO_ORDERS = dict.fromkeys(ORDER_AGGREGATES, 0)
ZERO_STOCK = {"count": 0, "mrr": 0}
ZERO_CHECKOUTS = {"checkouts": 0, "succeeded": 0}
FLOW_SLUGS = [m.slug for m in METRICS if m.kind == "flow"]
RATIO_SLUGS = {m.slug for m in METRICS if m.kind == "ratio"}
ALL_SLUGS = [m.slug for m in METRICS]


def _assemble(cut, interval, raw, standing, wanted) -> Figures:
    """Each period's figures from the families' rows by period key, in `METRICS` order
    (only `wanted`), and the totals: flows summed, stocks and cumulatives at the end,
    ratios of the sums."""
    orders_by = raw.get("orders", {})
    started_by, ended_by = raw.get("started", {}), raw.get("ended", {})
    canceled_by, checkouts_by = raw.get("canceled", {}), raw.get("checkouts", {})
    customers_by = raw.get("customers", {})
    rows: list[dict] = []
    active, mrr = standing["count"] or 0, standing["mrr"] or 0
    cumulative = net_cumulative = 0
    first_active = active
    for period in cut:
        key = _period_key(period.start, interval)
        o = orders_by.get(key, ZERO_ORDERS)
        started = started_by.get(key, ZERO_STOCK)
        ended = ended_by.get(key, ZERO_STOCK)
        c = checkouts_by.get(key, ZERO_CHECKOUTS)
        active_at_start = active
        active += started["count"] - ended["count"]
        mrr += started["mrr"] - ended["mrr"]
        revenue, orders = o["revenue"], o["orders"]
        net = revenue - o["refunded"]
        cumulative += revenue
        net_cumulative += net
        rows.append(
            {
                "orders": orders,
                "revenue": revenue,
                "net_revenue": net,
                "cumulative_revenue": cumulative,
                "net_cumulative_revenue": net_cumulative,
                "average_order_value": _ratio(revenue, orders, money=True),
                "net_average_order_value": _ratio(net, orders, money=True),
                "one_time_products": o["one_time_products"],
                "one_time_products_revenue": o["one_time_products_revenue"],
                "one_time_products_net_revenue": o["one_time_products_revenue"]
                - o["one_time_refunded"],
                "new_subscriptions": started["count"],
                "new_subscriptions_revenue": o["new_subscriptions_revenue"],
                "new_subscriptions_net_revenue": o["new_subscriptions_revenue"] - o["new_refunded"],
                "renewed_subscriptions": o["renewed_subscriptions"],
                "renewed_subscriptions_revenue": o["renewed_subscriptions_revenue"],
                "renewed_subscriptions_net_revenue": o["renewed_subscriptions_revenue"]
                - o["renewed_refunded"],
                "active_subscriptions": active,
                "monthly_recurring_revenue": mrr,
                "annual_recurring_revenue": mrr * 12,
                "canceled_subscriptions": canceled_by.get(key, ZERO_STOCK)["count"],
                "churned_subscriptions": ended["count"],
                "churn_rate": _ratio(ended["count"], active_at_start),
                "checkouts": c["checkouts"],
                "succeeded_checkouts": c["succeeded"],
                "checkouts_conversion": _ratio(c["succeeded"], c["checkouts"]),
                "new_customers": customers_by.get(key, ZERO_STOCK)["count"],
            }
        )
    sums = {slug: sum(row[slug] for row in rows) for slug in FLOW_SLUGS}
    last = rows[-1] if rows else dict.fromkeys(ALL_SLUGS, 0)
    totals = {
        **sums,
        "cumulative_revenue": last["cumulative_revenue"],
        "net_cumulative_revenue": last["net_cumulative_revenue"],
        "active_subscriptions": last["active_subscriptions"],
        "monthly_recurring_revenue": last["monthly_recurring_revenue"],
        "annual_recurring_revenue": last["annual_recurring_revenue"],
        "average_order_value": _ratio(sums["revenue"], sums["orders"], money=True),
        "net_average_order_value": _ratio(sums["net_revenue"], sums["orders"], money=True),
        "churn_rate": _ratio(sums["churned_subscriptions"], first_active),
        "checkouts_conversion": _ratio(sums["succeeded_checkouts"], sums["checkouts"]),
    }
    if wanted != ALL_SLUGS:
        rows = [{slug: row[slug] for slug in wanted} for row in rows]
    # The ratios last, as the API has always written its totals.
    ordered = [s for s in wanted if s not in RATIO_SLUGS] + [s for s in wanted if s in RATIO_SLUGS]
    return Figures(
        periods=cut, values=rows, totals={slug: totals[slug] for slug in ordered}, slugs=wanted
    )
