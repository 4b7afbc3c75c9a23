"""Daily figures kept by PostgreSQL triggers (migration 0001) in the same transaction as the
orders, subscriptions, checkouts and customers they sum, whoever writes them.

A day is the organization's (`Organization.timezone`). Each row holds what some writes
added to one day, for one product (and currency, and billing reason for orders): the
overview and the metrics API sum a year of them instead of a year of orders. A trigger
appends a row taking out a changed row's old contribution and one adding its new one, so
an update (a refund, a cancellation, a price change) or a delete moves the figures
exactly. Appending, never updating a shared row, is what lets any number of concurrent
checkouts, renewals and imports write figures without waiting on each other or
deadlocking; the `metrics_compact` job (run_jobs, every minute) folds each day's rows into
one, and reads sum whatever rows there are. `analytics_rebuild(organization)` (SQL;
`manage.py rebuild_metrics`) recomputes them from the tables, and runs when an
organization's timezone changes. SQLite keeps none of this: it computes from the tables.
"""

from django.db import models


class DailyOrderFigures(models.Model):
    """Paid orders (Order.PAID_STATUSES) created on `day`."""

    organization_id = models.UUIDField()
    day = models.DateField()
    product_id = models.UUIDField(null=True)
    currency = models.CharField(max_length=3)
    billing_reason = models.CharField(max_length=32)
    orders = models.BigIntegerField(default=0)
    revenue = models.BigIntegerField(default=0)  # subtotal - discount
    refunded = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["organization_id", "day"], name="daily_order_figures_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.product_id} {self.billing_reason}: {self.orders} orders"


class DailySubscriptionFigures(models.Model):
    """Subscriptions started, ended and canceled on `day`, with their monthly amounts."""

    organization_id = models.UUIDField()
    day = models.DateField()
    product_id = models.UUIDField()
    currency = models.CharField(max_length=3)
    started = models.BigIntegerField(default=0)
    started_mrr = models.BigIntegerField(default=0)
    ended = models.BigIntegerField(default=0)
    ended_mrr = models.BigIntegerField(default=0)
    canceled = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["organization_id", "day"], name="daily_subscription_figures_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.product_id}: +{self.started} -{self.ended}"


class DailyCheckoutFigures(models.Model):
    """Checkouts created on `day`, and how many of them succeeded."""

    organization_id = models.UUIDField()
    day = models.DateField()
    product_id = models.UUIDField()
    recurring = models.BooleanField()
    checkouts = models.BigIntegerField(default=0)
    succeeded = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["organization_id", "day"], name="daily_checkout_figures_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.product_id}: {self.succeeded}/{self.checkouts}"


class DailyCustomerFigures(models.Model):
    """Live customers created on `day`."""

    organization_id = models.UUIDField()
    day = models.DateField()
    customers = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["organization_id", "day"], name="daily_customer_figures_day")
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.customers} customers"
