"""Reads of products, orders and subscriptions, always scoped to one organization."""

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from django.db import models
from django.db.models import Avg, Case, Count, Exists, F, Max, Min, OuterRef, Q, Sum, When

from core.prepared import AnyOf, PreparedList, PreparedQuery


class ProductQuerySet(models.QuerySet):
    def for_org(self, organization) -> "ProductQuerySet":
        return self.filter(organization=organization)

    def with_has_orders(self) -> "ProductQuerySet":
        """Annotate `has_orders`: a product that was sold cannot be deleted."""
        from orders.models import Order

        return self.annotate(has_orders=Exists(Order.objects.filter(product=OuterRef("pk"))))


class OrderRow(NamedTuple):
    """An order as the API lists it: its own columns and its customer, product and
    subscription, without a model instance per row (`OrderRows`)."""

    id: UUID
    created_at: datetime
    modified_at: datetime
    status: str
    billing_reason: str
    subtotal_amount: int
    discount_amount: int
    tax_amount: int
    total_amount: int
    refunded_amount: int
    currency: str
    customer_id: UUID
    product_id: UUID | None
    subscription_id: UUID | None
    customer: Any
    product: Any
    subscription: Any


_RELATED = ("customer", "product", "subscription")
ORDER_ROW_COLUMNS = OrderRow._fields[: -len(_RELATED)]


def _by_id(name: str) -> PreparedQuery:
    """The related rows of `name` by ID, with the base manager, as a relation reads: a
    deleted customer's orders keep their customer."""

    def build(p):
        from orders.models import Order

        model = Order._meta.get_field(name).related_model
        return model._base_manager.filter(AnyOf(F("pk"), p.ids))

    return PreparedQuery(build)


_RELATED_BY_ID = {name: _by_id(name) for name in _RELATED}


class OrderRows:
    """A list's orders as `OrderRow`s, for `core.api.paginate` (a slice, a count): the
    page's columns from a `PreparedList` of `values_list(*ORDER_ROW_COLUMNS)` querysets
    (`shape` and `values` as its `page()` takes them), then each customer, product and
    subscription the page names read once by ID (one query per table, none for the
    objects of `known`: the portal's session customer), as prefetch_related would, but
    with no model instance per order. `empty`: a list nothing may match (no query)."""

    def __init__(self, orders: PreparedList, shape, *, known=(), empty=False, **values):
        self.orders, self.shape, self.values = orders, shape, values
        self.known = {obj.pk: obj for obj in known}
        self.empty = empty

    def __getitem__(self, page: slice) -> list[OrderRow]:
        if self.empty:
            return []
        rows = self.orders.page(self.shape, page.start, page.stop, **self.values)
        alias = self.orders.alias(self.shape)
        related = []
        for position, name in enumerate(_RELATED, start=ORDER_ROW_COLUMNS.index("customer_id")):
            objects = dict(self.known) if name == "customer" else {}
            missing = {row[position] for row in rows} - objects.keys() - {None}
            if missing:
                found = _RELATED_BY_ID[name].all(using=alias, ids=list(missing))
                objects.update((obj.pk, obj) for obj in found)
            related.append((position, objects))
        return [
            OrderRow(*row, *(objects.get(row[position]) for position, objects in related))
            for row in rows
        ]

    def count(self) -> int:
        return 0 if self.empty else self.orders.count(self.shape, **self.values)


class OrderQuerySet(models.QuerySet):
    def for_org(self, organization) -> "OrderQuerySet":
        return self.filter(organization=organization)

    def paid(self) -> "OrderQuerySet":
        return self.filter(status__in=self.model.PAID_STATUSES)

    def of_billing_types(self, types) -> "OrderQuerySet":
        """Polar's `product_billing_type` filter: "one_time" orders have no subscription,
        "recurring" ones have one; both (or none) filter nothing."""
        types = set(types or ())
        if types == {"one_time"}:
            return self.filter(subscription__isnull=True)
        if types == {"recurring"}:
            return self.filter(subscription__isnull=False)
        return self

    def revenue_by_currency(self) -> list[dict]:
        """One row per currency, most orders first: revenue (net of discounts and refunds,
        before tax), paid order count, average order value, first and last order."""
        net = F("subtotal_amount") - F("discount_amount")
        return list(
            self.paid()
            .values("currency")
            .annotate(
                revenue=Sum(net - F("refunded_amount")),
                paid_orders=Count("id"),
                average_order=Avg(net),
                first_order_at=Min("created_at"),
                last_order_at=Max("created_at"),
            )
            .order_by("-paid_orders", "currency")
        )


class SubscriptionQuerySet(models.QuerySet):
    def for_org(self, organization) -> "SubscriptionQuerySet":
        return self.filter(organization=organization)

    def active(self) -> "SubscriptionQuerySet":
        return self.filter(status__in=self.model.ACTIVE_STATUSES)

    def ongoing(self) -> "SubscriptionQuerySet":
        return self.filter(status__in=self.model.ONGOING_STATUSES)

    def at_risk(self) -> "SubscriptionQuerySet":
        """Subscriptions that may not renew (orders.models.AT_RISK): the overview's *At
        risk* list and the customer list's `at_risk` filter."""
        from orders.models import AT_RISK  # models import this module

        return self.filter(AT_RISK)

    def newest(self, limit: int = 20) -> list:
        """The most recent subscriptions with their products, as the customer page lists them."""
        return list(self.select_related("product").order_by("-created_at")[:limit])

    def due_for_renewal(self, now) -> "SubscriptionQuerySet":
        """Subscriptions whose period ended (or whose declined renewal is due a retry)."""
        on_schedule = Q(next_attempt_at__isnull=True, current_period_end__lte=now)
        return self.filter(
            on_schedule | Q(next_attempt_at__lte=now),
            status__in=self.model.RENEWABLE_STATUSES,
        )

    def mrr_by_currency(self) -> list[dict]:
        """Active subscriptions and monthly recurring revenue, one row per currency."""
        monthly = Case(
            When(recurring_interval="year", then=F("amount") / 12),
            default=F("amount"),
            output_field=models.BigIntegerField(),
        )
        return list(
            self.active()
            .values("currency")
            .annotate(active_subscriptions=Count("id"), mrr=Sum(monthly))
            .order_by("-active_subscriptions", "currency")
        )
