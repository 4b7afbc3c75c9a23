"""What each metric means (README's "Analytics" section says the same in prose).

Amounts are integers in minor units of one currency, before tax. An order counts when it
is paid (Order.PAID_STATUSES: paid, refunded, partially refunded), on the day it was
created:
- revenue: subtotal - discount of those orders (what the merchant charged, before refunds);
- net revenue: revenue - refunded amount (what the merchant keeps; the customer page's
  "revenue" is this figure);
- one-time, new-subscription and renewal orders are the orders whose billing reason is
  purchase, subscription_create and subscription_cycle.
A subscription is active at an instant from its `started_at` until its `ended_at` (trialing
and past due included; one that never started is never active). MRR at an instant is the
monthly amount of the subscriptions active then (a yearly plan's amount / 12, rounded down
per subscription); ARR is 12 x MRR. Active subscriptions, MRR and ARR are read at the end
of each period (at now for the current one). New subscriptions started in the period,
canceled ones were canceled in it (at period end or at once), churned ones ended in it;
the churn rate is churned / active at the period's start. Checkouts are those created in
the period, succeeded ones those among them that succeeded; conversion is their ratio. New
customers are the live customers created in the period.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    slug: str
    display_name: str
    type: str  # Polar's MetricType: scalar, currency, percentage
    kind: str  # flow: summed over a period; stock: read at its end; ratio: of two others


# In the order Polar lists them; `new_customers` is our extension (polar-sdk skips it).
METRICS = [
    Metric("orders", "Orders", "scalar", "flow"),
    Metric("revenue", "Revenue", "currency", "flow"),
    Metric("net_revenue", "Net revenue", "currency", "flow"),
    Metric("cumulative_revenue", "Cumulative revenue", "currency", "cumulative"),
    Metric("net_cumulative_revenue", "Net cumulative revenue", "currency", "cumulative"),
    Metric("average_order_value", "Average order value", "currency", "ratio"),
    Metric("net_average_order_value", "Net average order value", "currency", "ratio"),
    Metric("one_time_products", "One-time products", "scalar", "flow"),
    Metric("one_time_products_revenue", "One-time products revenue", "currency", "flow"),
    Metric("one_time_products_net_revenue", "One-time products net revenue", "currency", "flow"),
    Metric("new_subscriptions", "New subscriptions", "scalar", "flow"),
    Metric("new_subscriptions_revenue", "New subscriptions revenue", "currency", "flow"),
    Metric("new_subscriptions_net_revenue", "New subscriptions net revenue", "currency", "flow"),
    Metric("renewed_subscriptions", "Renewed subscriptions", "scalar", "flow"),
    Metric("renewed_subscriptions_revenue", "Renewed subscriptions revenue", "currency", "flow"),
    Metric(
        "renewed_subscriptions_net_revenue",
        "Renewed subscriptions net revenue",
        "currency",
        "flow",
    ),
    Metric("active_subscriptions", "Active subscriptions", "scalar", "stock"),
    Metric("monthly_recurring_revenue", "Monthly recurring revenue", "currency", "stock"),
    Metric("annual_recurring_revenue", "Annual recurring revenue", "currency", "stock"),
    Metric("canceled_subscriptions", "Canceled subscriptions", "scalar", "flow"),
    Metric("churned_subscriptions", "Churned subscriptions", "scalar", "flow"),
    Metric("churn_rate", "Churn rate", "percentage", "ratio"),
    Metric("checkouts", "Checkouts", "scalar", "flow"),
    Metric("succeeded_checkouts", "Succeeded checkouts", "scalar", "flow"),
    Metric("checkouts_conversion", "Checkouts conversion rate", "percentage", "ratio"),
    Metric("new_customers", "New customers", "scalar", "flow"),
]
BY_SLUG = {metric.slug: metric for metric in METRICS}
