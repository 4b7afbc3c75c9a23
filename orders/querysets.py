"""Reads of products, orders and subscriptions, always scoped to one organization."""

from django.db import models
from django.db.models import Avg, Case, Count, Exists, F, Max, Min, OuterRef, Q, Sum, When


class ProductQuerySet(models.QuerySet):
    def for_org(self, organization) -> "ProductQuerySet":
        return self.filter(organization=organization)

    def with_has_orders(self) -> "ProductQuerySet":
        """Annotate `has_orders`: a product that was sold cannot be deleted."""
        from orders.models import Order

        return self.annotate(has_orders=Exists(Order.objects.filter(product=OuterRef("pk"))))


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
