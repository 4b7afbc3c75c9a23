"""One customer's figures for a range, against the previous one: the overview's controls,
cards and revenue chart (analytics/overview.py) with a filter on the customer, in the
currency they paid most in. The customer page loads them from here (customers sits below
analytics, so it names this app only by URL).

The same definitions as the metrics API's `customer_id` filter: `analytics.compute` sums
the customer's orders and subscriptions from the tables (the kept daily figures know no
customer), so the count of queries does not grow with the organization.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms

from analytics.compute import Filters
from analytics.overview import (
    DEFAULT_RANGE,
    MAX_DAYS,
    MIN_DATE,
    RANGE_CHOICES,
    CardSpec,
    CurrencySection,
    RangeForm,
    control_value,
    currency_section,
    local_today,
    previous_range,
)
from orders.metrics import customer_currencies

LIFETIME = "lifetime"
# "Lifetime" before "Custom": from the customer's first day to today.
CUSTOMER_RANGE_CHOICES = [*RANGE_CHOICES[:-1], (LIFETIME, "Lifetime"), RANGE_CHOICES[-1]]
# A customer younger than this opens on the last 30 days (holding all their orders, and a
# chart of 30 days rather than a bar or two); an older one on their lifetime.
LIFETIME_DEFAULT_AFTER_DAYS = 30

CUSTOMER_CARDS = [
    CardSpec("revenue", "Revenue"),
    CardSpec("net_revenue", "Net revenue"),
    CardSpec("orders", "Orders"),
    CardSpec("average_order_value", "Average order value"),
    CardSpec("monthly_recurring_revenue", "MRR"),
    CardSpec("active_subscriptions", "Active subscriptions"),
]

FORM_ID = "customer-figures-controls"  # htmx names it in HX-Trigger


def lifetime_dates(first_day: date, today: date) -> tuple[date, date]:
    """From the customer's first day to today, within the longest range by month (ten
    years) and the metrics' first day."""
    earliest = today - timedelta(days=MAX_DAYS["month"] - 1)
    return max(min(first_day, today), earliest, MIN_DATE), today


class CustomerFiguresForm(RangeForm):
    """The overview's range controls, with "Lifetime" and a default that holds the
    customer's orders."""

    range = forms.ChoiceField(choices=CUSTOMER_RANGE_CHOICES, required=False)

    def __init__(self, data, *, today: date, first_day: date):
        super().__init__(data, today=today)
        self.first_day = first_day
        young = (today - first_day).days < LIFETIME_DEFAULT_AFTER_DAYS
        self.default_range = DEFAULT_RANGE if young else LIFETIME

    def range_dates(self, key: str) -> tuple[date, date]:
        if key == LIFETIME:
            return lifetime_dates(self.first_day, self.today)
        return super().range_dates(key)


@dataclass
class CustomerFigures:
    form: CustomerFiguresForm
    tz_name: str
    currency: str
    # Lifetime revenue rows (orders.metrics) of the other currencies, shown as a line.
    other_currencies: list[dict] = field(default_factory=list)
    start: date | None = None
    end: date | None = None
    interval: str | None = None
    previous_start: date | None = None
    previous_end: date | None = None
    section: CurrencySection | None = None

    @property
    def ok(self) -> bool:
        return self.section is not None

    @property
    def has_orders(self) -> bool:
        """Whether the range holds a paid order (else the chart would be all zeros)."""
        if self.section is None:
            return False
        return any(c.value for c in self.section.cards if c.spec.slug == "orders")

    range_key = property(lambda self: control_value(self.form, "range"))
    start_value = property(lambda self: control_value(self.form, "start"))
    end_value = property(lambda self: control_value(self.form, "end"))
    interval_value = property(lambda self: control_value(self.form, "interval"))


def first_day(customer, first_order_at: datetime | None, tz: ZoneInfo) -> date:
    """The customer's first local day: created, or an earlier first order (imported
    history)."""
    moments = [customer.created_at] + ([first_order_at] if first_order_at else [])
    return min(moments).astimezone(tz).date()


def build_customer_figures(*, organization, customer, params, now: datetime) -> CustomerFigures:
    """The customer's figures for the GET parameters `params`: two queries for the
    currencies, then two `compute` calls (the range and the previous one), only when the
    controls are valid (otherwise the form carries the errors)."""
    tz_name = organization.timezone or "UTC"
    tz = ZoneInfo(tz_name)
    currencies = customer_currencies(customer)
    today = local_today(now, tz)
    form = CustomerFiguresForm(
        params, today=today, first_day=first_day(customer, currencies.first_order_at, tz)
    )
    page = CustomerFigures(
        form=form, tz_name=tz_name, currency=currencies.main, other_currencies=currencies.others
    )
    if not form.is_valid():
        return page
    data = form.cleaned_data
    page.start, page.end, page.interval = data["start"], data["end"], data["interval"]
    page.previous_start, page.previous_end = previous_range(page.start, page.end)
    page.section = currency_section(
        organization=organization,
        currency=currencies.main,
        specs=CUSTOMER_CARDS,
        start=page.start,
        end=page.end,
        interval=page.interval,
        tz=tz,
        filters=Filters(currency=currencies.main, customer_ids=(customer.pk,)),
        now=now,
        with_mrr_chart=False,
    )
    return page
