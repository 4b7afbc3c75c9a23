"""A customer's key figures, computed in the database (two aggregate queries), and the
currencies they paid in (two of them)."""

from dataclasses import dataclass, field
from datetime import datetime

from orders.models import Order, Subscription


@dataclass(frozen=True)
class CustomerMetrics:
    currency: str
    revenue: int = 0
    paid_orders: int = 0
    average_order: int = 0
    active_subscriptions: int = 0
    mrr: int = 0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    # Other currencies' revenue, when a customer paid in more than one.
    other_currencies: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class CustomerCurrencies:
    """The currencies a customer paid in: the main one (most paid orders, else most active
    subscriptions, else USD) and each currency's lifetime figures."""

    main: str
    revenue_rows: list[dict]  # Order revenue_by_currency(), most orders first
    mrr_rows: list[dict]  # Subscription mrr_by_currency()

    @property
    def others(self) -> list[dict]:
        """The other currencies' revenue rows (never added to the main one's)."""
        return [r for r in self.revenue_rows if r["currency"] != self.main]

    @property
    def first_order_at(self) -> datetime | None:
        """The first paid order in any currency."""
        return min((r["first_order_at"] for r in self.revenue_rows), default=None)


def customer_currencies(customer) -> CustomerCurrencies:
    """Two aggregate queries: paid orders and active subscriptions by currency."""
    revenue_rows = Order.objects.filter(customer=customer).revenue_by_currency()
    mrr_rows = Subscription.objects.filter(customer=customer).mrr_by_currency()
    main = (revenue_rows or mrr_rows or [{"currency": "usd"}])[0]["currency"]
    return CustomerCurrencies(main=main, revenue_rows=revenue_rows, mrr_rows=mrr_rows)


def customer_metrics(customer) -> CustomerMetrics:
    """Lifetime revenue, paid orders, average order, active subscriptions, MRR, first and
    last order, in the customer's main currency (the figures over time are analytics'
    customer figures, loaded by the customer page)."""
    currencies = customer_currencies(customer)
    revenue_rows, mrr_rows, main = currencies.revenue_rows, currencies.mrr_rows, currencies.main
    revenue = next((r for r in revenue_rows if r["currency"] == main), {})
    mrr = next((r for r in mrr_rows if r["currency"] == main), {})
    return CustomerMetrics(
        currency=main,
        revenue=revenue.get("revenue") or 0,
        paid_orders=revenue.get("paid_orders", 0),
        average_order=round(revenue.get("average_order") or 0),
        first_order_at=revenue.get("first_order_at"),
        last_order_at=revenue.get("last_order_at"),
        active_subscriptions=mrr.get("active_subscriptions", 0),
        mrr=mrr.get("mrr") or 0,
        other_currencies=currencies.others,
    )
