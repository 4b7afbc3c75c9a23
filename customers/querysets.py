"""Reads of customers. Every tenant read starts at `Customer.objects.for_org(org)`."""

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, models
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import Exact, GreaterThan

from core.replicas import statement_budget

METADATA_PARAM = re.compile(r"^metadata\[(.+)\]$")
INTEGER = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")

# Sort keys as the API names them, each mapped to its model field, or to the annotation
# of `CustomerQuerySet.with_figures()` for the kept figures (see FIGURE_SORTINGS).
SORTINGS = {
    "created_at": "created_at",
    "email": "email",
    "name": "name",
    "lifetime_revenue": "lifetime_revenue",
    "last_order_at": "last_order_sort_at",
}
FIGURE_SORTINGS = {"lifetime_revenue", "last_order_sort_at"}
# A customer without a paid order sorts by last order as if it were this early (migration
# 0012 spells the same expression for its index, which the planner matches by its text).
NO_ORDER_SORT_AT = datetime(1, 1, 1, tzinfo=UTC)
LAST_ORDER_SORT_SQL = "COALESCE({table}.last_order_at, '0001-01-01 00:00:00+00'::timestamptz)"
DEFAULT_SORTING = "-created_at"

# The dashboard list counts its matches exactly up to this many; past it, it says "about"
# the planner's estimate (PostgreSQL) or "more than" (SQLite) rather than count them all.
EXACT_COUNT_UP_TO = 1000
COUNT_TIME_BUDGET_MS = 50
# The metadata filter suggests this many keys of the organization, and values of each.
SUGGESTED_KEYS = 50
SUGGESTED_VALUES = 10
# SQLite keeps no counters: its suggestions come from the newest customers' metadata.
SUGGESTION_SAMPLE = 500


class ActiveSubscriptions(models.Expression):
    """The customer row's `active_subscriptions` column (PostgreSQL only, kept by the
    triggers of migration 0006, not a model field): how many of its subscriptions are in
    Subscription.ACTIVE_STATUSES. Named through the query's own alias for the customer
    table, so it holds inside a subquery too."""

    output_field = models.IntegerField()

    def as_sql(self, compiler, connection):
        alias = compiler.quote_name(compiler.query.get_initial_alias())
        return f"{alias}.active_subscriptions", []


class KeptFigure(models.Expression):
    """A column of the customer row that PostgreSQL's triggers keep (migration 0011: the
    list's figures; not model fields, as `ActiveSubscriptions`), or an SQL template over
    the customer table's alias (`{table}`), named through the query's own alias."""

    def __init__(self, sql: str, output_field):
        super().__init__(output_field=output_field)
        self.sql = sql if "{table}" in sql else f"{{table}}.{sql}"

    def as_sql(self, compiler, connection):
        alias = compiler.quote_name(compiler.query.get_initial_alias())
        return self.sql.format(table=alias), []


def _figures_postgres() -> dict:
    money, currency = models.BigIntegerField(), models.CharField()
    return {
        "lifetime_revenue": KeptFigure("lifetime_revenue", money),
        "revenue_currency": KeptFigure("revenue_currency", currency),
        "mrr": KeptFigure("mrr", money),
        "mrr_currency": KeptFigure("mrr_currency", currency),
        "last_order_at": KeptFigure("last_order_at", models.DateTimeField()),
        "last_order_sort_at": KeptFigure(LAST_ORDER_SORT_SQL, models.DateTimeField()),
    }


def _first_currency(rows) -> Subquery:
    return Subquery(rows.order_by("created_at", "id").values("currency")[:1])


def _sum_of(rows, amount) -> Coalesce:
    total = rows.order_by().values("customer").annotate(total=Sum(amount)).values("total")
    return Coalesce(Subquery(total), 0, output_field=models.BigIntegerField())


def _figures_sqlite() -> dict:
    """The same figures as the triggers keep, as correlated subqueries (SQLite's data is
    small): the definitions of migration 0011 in ORM terms."""
    from orders.models import Order, Subscription

    paid = Order.objects.paid().filter(customer=OuterRef("pk"))
    active = Subscription.objects.active().filter(customer=OuterRef("pk"))
    net = F("subtotal_amount") - F("discount_amount") - F("refunded_amount")
    monthly = Case(
        When(recurring_interval="year", then=F("amount") / 12),
        default=F("amount"),
        output_field=models.BigIntegerField(),
    )
    last = Subquery(paid.order_by("-created_at").values("created_at")[:1])
    return {
        "revenue_currency": _first_currency(paid),
        "lifetime_revenue": _sum_of(paid.filter(currency=OuterRef("revenue_currency")), net),
        "mrr_currency": _first_currency(active),
        "mrr": _sum_of(active.filter(currency=OuterRef("mrr_currency")), monthly),
        "last_order_at": last,
        "last_order_sort_at": Coalesce(
            last, Value(NO_ORDER_SORT_AT), output_field=models.DateTimeField()
        ),
    }


class CustomerQuerySet(models.QuerySet):
    def with_figures(self) -> "CustomerQuerySet":
        """Annotate the list's figures: `lifetime_revenue` (with `revenue_currency`),
        `mrr` (with `mrr_currency`), `last_order_at` and the sort key
        `last_order_sort_at`. PostgreSQL reads the columns its triggers keep (migration
        0011), SQLite computes the same from the orders and subscriptions."""
        if connection.vendor == "postgresql":
            return self.annotate(**_figures_postgres())
        return self.annotate(**_figures_sqlite())

    def sorted_by_figure(self, field: str) -> "CustomerQuerySet":
        """Alias only what sorting by `field` (a FIGURE_SORTINGS annotation) needs, for
        the API, whose rows do not show the figures."""
        if connection.vendor == "postgresql":
            return self.alias(**{field: _figures_postgres()[field]})
        figures = _figures_sqlite()
        if field == "lifetime_revenue":
            return self.alias(revenue_currency=figures["revenue_currency"]).alias(
                lifetime_revenue=figures["lifetime_revenue"]
            )
        return self.alias(**{field: figures[field]})

    def for_org(self, organization) -> "CustomerQuerySet":
        """Live customers of one organization: the start of every tenant read."""
        return self.filter(organization=organization, deleted_at__isnull=True)

    def live(self) -> "CustomerQuerySet":
        return self.filter(deleted_at__isnull=True)

    def with_email(self, email: str) -> "CustomerQuerySet":
        """The customer with this email, ignoring case, as the unique index on
        `(organization, lower(email))` of live customers finds it (`email__iexact` would
        compare UPPER() and miss that index)."""
        return self.annotate(email_lower=Lower("email")).filter(email_lower=email.strip().lower())

    def search(self, query: str) -> "CustomerQuerySet":
        """Name, email or external ID contains `query`, ignoring case."""
        query = query.strip()
        if not query:
            return self
        return self.filter(
            Q(email__icontains=query) | Q(name__icontains=query) | Q(external_id__icontains=query)
        )

    def filter_active(self, active: bool | None) -> "CustomerQuerySet":
        """Customers with (True) or without (False) an active subscription.

        On PostgreSQL each customer row keeps how many it has (`active_subscriptions`,
        moved by triggers in the subscription's own transaction: migration 0006), and a
        partial index holds the live customers with one in list order (0007): a page of
        them is a range of that index, where an EXISTS per customer would probe the
        subscriptions of every customer it steps over. SQLite has no such column.
        """
        if active is None:
            return self
        if connection.vendor == "postgresql":
            column = ActiveSubscriptions()
            return self.filter(GreaterThan(column, 0) if active else Exact(column, 0))
        from orders.models import Subscription

        exists = Exists(Subscription.objects.active().filter(customer=OuterRef("pk")))
        return self.filter(exists if active else ~exists)

    def filter_metadata(self, filters: dict[str, list]) -> "CustomerQuerySet":
        """`{key: [values]}`: values of one key are OR-ed, different keys AND-ed.

        A value from a URL is text, so "3" also matches the number 3 and "true" the
        boolean: the stored type is the merchant's, the query string has none.
        """
        queryset = self
        for index, (key, values) in enumerate(filters.items()):
            candidates = [c for value in values for c in typed_candidates(value)]
            if connection.vendor == "postgresql":
                # jsonb containment (@>) is what a GIN index on metadata serves.
                match = Q()
                for candidate in candidates:
                    match |= Q(metadata__contains={key: candidate})
                queryset = queryset.filter(match)
            else:
                # An alias keeps a key holding "__" one key (no metadata__<key> lookup).
                alias = f"metadata_filter_{index}"
                match = Q()
                for candidate in candidates:
                    match |= Q(**{alias: candidate})
                queryset = queryset.alias(**{alias: KeyTransform(key, "metadata")}).filter(match)
        return queryset

    def filter_segments(
        self,
        organization,
        *,
        at_risk: bool = False,
        first_order: tuple[datetime | None, datetime | None] = (None, None),
        ordered: tuple[datetime | None, datetime | None] = (None, None),
    ) -> "CustomerQuerySet":
        """The segments the overview's lists link to, each a set of customer IDs read from
        the orders or subscriptions of `organization` (`id IN (SELECT customer_id ...)`),
        so PostgreSQL can start from the small side: the subscriptions at risk, or the paid
        orders of a time range through the (organization, created_at) index.

        - `at_risk`: a subscription in `Subscription.objects.at_risk()`.
        - `first_order=(start, end)`: the first paid order at or after `start` and before
          `end` (either may be None: open).
        - `ordered=(start, end)`: at least one paid order in that range.
        """
        from orders.models import Order, Subscription

        queryset = self
        if at_risk:
            subscriptions = Subscription.objects.for_org(organization).at_risk()
            queryset = queryset.filter(pk__in=subscriptions.values("customer_id"))
        if any(ordered):
            queryset = queryset.filter(pk__in=_paid_between(organization, *ordered))
        if any(first_order):
            start, end = first_order
            # A paid order in the range (the small side), and the customer's first paid
            # order, one probe of the (customer, created_at) index per candidate, in it.
            # Testing "no paid order before the range" per order of the range instead made
            # PostgreSQL probe every order of the range (an anti-join; 1 s at 3M orders).
            first_paid = Order.objects.paid().filter(customer_id=OuterRef("pk"))
            first_paid_at = Subquery(first_paid.order_by("created_at").values("created_at")[:1])
            queryset = queryset.filter(pk__in=_paid_between(organization, start, end))
            if start is not None:
                queryset = queryset.alias(first_paid_at=first_paid_at).filter(
                    first_paid_at__gte=start
                )
        return queryset

    def update(self, **kwargs) -> int:
        if "external_id" in kwargs:
            self._refuse_external_id_change(kwargs["external_id"], kwargs.get("deleted_at"))
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        objs = list(objs)
        if "external_id" in fields:
            # Checked here, before bulk_update opens its transaction: an error raised
            # inside it would leave the caller's transaction unusable.
            stored = dict(
                self.filter(pk__in=[obj.pk for obj in objs], external_id__isnull=False).values_list(
                    "pk", "external_id"
                )
            )
            if any(obj.pk in stored and obj.external_id != stored[obj.pk] for obj in objs):
                raise _external_id_locked()
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def _refuse_external_id_change(self, new_value, deleted_at) -> None:
        """Refuse an UPDATE that would change or clear any row's set external ID.

        The new value may be an expression (bulk_update sends a CASE per row), so the
        comparison runs in the database. Rows soft-deleted by this same update are exempt:
        deleting a customer frees its external ID.
        """
        if not hasattr(new_value, "resolve_expression"):
            new_value = Value(new_value, output_field=models.CharField())
        locked = self.filter(external_id__isnull=False)
        if deleted_at is not None:
            locked = locked.filter(deleted_at__isnull=False)
        changed = locked.alias(new_external_id=new_value).filter(
            Q(new_external_id__isnull=True) | ~Q(external_id=F("new_external_id"))
        )
        if changed.exists():
            raise _external_id_locked()


def _paid_between(organization, start: datetime | None, end: datetime | None):
    """The customer IDs of the organization's paid orders from `start` (inclusive) to
    `end` (exclusive), as a subquery."""
    from orders.models import Order

    orders = Order.objects.for_org(organization).paid()
    if start is not None:
        orders = orders.filter(created_at__gte=start)
    if end is not None:
        orders = orders.filter(created_at__lt=end)
    return orders.values("customer_id")


def mark_active_subscriptions(customers: list) -> list:
    """Set `has_active_subscription` on a page of customers with one indexed query.

    An EXISTS per row in the list query looks cheaper than it is: PostgreSQL turns it into
    a hashed subplan that reads every subscription of every customer (measured: 24 ms of
    a 24 ms first page at 200k customers), while the page only needs 50 answers.
    """
    from orders.models import Subscription

    active = set(
        Subscription.objects.active()
        .filter(customer_id__in=[c.pk for c in customers])
        .values_list("customer_id", flat=True)
    )
    for customer in customers:
        customer.has_active_subscription = customer.pk in active
    return customers


@dataclass(frozen=True)
class ListCount:
    """How many customers a list shows: `exact`, else an estimate (`about`) or, when not
    even that is known, a lower bound."""

    value: int
    exact: bool = True
    about: bool = False

    @property
    def text(self) -> str:
        noun = "customer" if self.value == 1 and self.exact else "customers"
        if self.exact:
            return f"{self.value:,} {noun}"
        return f"{'about' if self.about else 'more than'} {self.value:,} {noun}"


def count_listed(
    customers,
    *,
    organization,
    filters: dict,
    searched: bool,
    active: bool | None,
    segmented: bool = False,
) -> ListCount:
    """How many of `customers` there are, never at the cost of counting them all.

    With no search and no segment (`filter_segments`), the counters PostgreSQL keeps
    answer exactly, as for the API's total_count: one metadata key alone, or no filter but
    `active`. Otherwise up to EXACT_COUNT_UP_TO rows are counted (within a time budget
    when a search, the active filter or a segment could make even that slow), and past
    that PostgreSQL's planner estimates.
    """
    from customers.counts import customer_count, metadata_count

    narrowed = searched or active is not None or segmented
    if not searched and not segmented:
        counted = None
        if filters and active is None:
            counted = metadata_count(organization, filters)
        elif not filters:
            counted = customer_count(organization, active=active)
        if counted is not None:
            return ListCount(counted)
    try:
        if narrowed and connection.vendor == "postgresql":
            with statement_budget(customers.model, COUNT_TIME_BUDGET_MS):
                counted = _count_up_to(customers, EXACT_COUNT_UP_TO)
        else:
            counted = _count_up_to(customers, EXACT_COUNT_UP_TO)
    except OperationalError:  # cancelled at the time budget
        counted = None
    if counted is not None and counted <= EXACT_COUNT_UP_TO:
        return ListCount(counted)
    if connection.vendor == "postgresql":
        # An estimate below what was counted says nothing (substring searches fool it).
        estimate = _planner_estimate(customers)
        if counted is None or estimate > EXACT_COUNT_UP_TO:
            return ListCount(estimate, exact=False, about=True)
    return ListCount(EXACT_COUNT_UP_TO, exact=False)


def _count_up_to(customers, limit: int) -> int:
    """min(count, limit + 1): reads at most limit + 1 rows."""
    return customers[: limit + 1].count()


class _CountOf(models.Subquery):
    """count(*) of a subquery's rows, as a column of the outer query."""

    template = "(SELECT count(*) FROM (%(subquery)s) counted)"
    output_field = models.IntegerField()


def live_customers_up_to(organization_ref, limit: int) -> models.Subquery:
    """An annotation: how many live customers the organization `organization_ref` (an
    OuterRef) has, counting at most limit + 1 of them, so a list of organizations costs a
    few index probes each, not a count of every customer."""
    from customers.models import Customer

    customers = Customer.objects.filter(organization=organization_ref, deleted_at__isnull=True)
    return _CountOf(customers.order_by().values("pk")[: limit + 1])


def _planner_estimate(customers) -> int:
    plan = json.loads(customers.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def metadata_suggestions(organization) -> list[dict]:
    """The organization's metadata keys and some values of each, for the list's filter:
    `[{"key": "plan", "values": ["pro", "team"]}, ...]`, keys in order, at most
    SUGGESTED_KEYS of them and SUGGESTED_VALUES values each, in one query whatever the
    number of customers. On PostgreSQL the counters (`CustomerMetadataCount`) know every
    key: the keys are found by skipping through their index, one probe per key, and each
    key's first values in order; SQLite looks at the newest customers."""
    if connection.vendor != "postgresql":
        return _sampled_metadata_suggestions(organization)
    from customers.models import CustomerMetadataCount

    table = connection.ops.quote_name(CustomerMetadataCount._meta.db_table)
    sql = f"""
        WITH RECURSIVE keys(key) AS (
            (SELECT key FROM {table} WHERE organization_id = %(org)s AND customers > 0
             ORDER BY key LIMIT 1)
            UNION ALL
            SELECT (SELECT c.key FROM {table} c
                    WHERE c.organization_id = %(org)s AND c.key > keys.key AND c.customers > 0
                    ORDER BY c.key LIMIT 1)
            FROM keys WHERE keys.key IS NOT NULL
        )
        SELECT k.key, v.value
        FROM (SELECT key FROM keys WHERE key IS NOT NULL LIMIT %(keys)s) k
        CROSS JOIN LATERAL (
            SELECT c.value FROM {table} c
            WHERE c.organization_id = %(org)s AND c.key = k.key
            GROUP BY c.value HAVING sum(c.customers) > 0
            ORDER BY c.value LIMIT %(values)s
        ) v
        ORDER BY k.key, v.value
    """
    params = {"org": organization.pk, "keys": SUGGESTED_KEYS, "values": SUGGESTED_VALUES}
    suggestions: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for key, token in cursor.fetchall():
            # Tokens are typed ("s:pro", "n:3", "b:true"); a URL filter is text.
            suggestions.setdefault(key, []).append(token.partition(":")[2])
    return [{"key": key, "values": values} for key, values in suggestions.items()]


def _sampled_metadata_suggestions(organization) -> list[dict]:
    from customers.models import Customer

    sample = (
        Customer.objects.for_org(organization)
        .order_by("-created_at")
        .values_list("metadata", flat=True)[:SUGGESTION_SAMPLE]
    )
    values: dict[str, Counter] = {}
    for metadata in sample:
        for key, value in (metadata or {}).items():
            values.setdefault(key, Counter())[_as_url_text(value)] += 1
    return [
        {"key": key, "values": sorted(v for v, _ in values[key].most_common(SUGGESTED_VALUES))}
        for key in sorted(values)[:SUGGESTED_KEYS]
    ]


def _as_url_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def metadata_filters(params) -> dict[str, list[str]]:
    """`metadata[key]=value` pairs from a query string; repeated keys keep every value."""
    filters: dict[str, list[str]] = {}
    for name in params:
        match = METADATA_PARAM.match(name)
        if match:
            values = [v for v in params.getlist(name) if v != ""]
            if values:
                filters[match.group(1)] = values
    return filters


def typed_candidates(value) -> list:
    if not isinstance(value, str):
        return [value]
    candidates: list = [value]
    if value in ("true", "false"):
        candidates.append(value == "true")
    # Only plain decimal notation: int("1_000") and float("inf") would be surprises.
    if INTEGER.fullmatch(value):
        candidates.append(int(value))
    elif DECIMAL.fullmatch(value) and math.isfinite(number := float(value)):
        candidates.append(number)  # "1.0e400" is inf: metadata never holds it
    return candidates


def _external_id_locked() -> ValidationError:
    from customers.models import EXTERNAL_ID_LOCKED_MESSAGE

    return ValidationError({"external_id": EXTERNAL_ID_LOCKED_MESSAGE}, code="locked")
