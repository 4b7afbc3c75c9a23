"""The overview page's assembly: the range picked, the previous range of the same length,
the figures of both and their changes, one section per other currency, and the customer
lists. Plain functions over `analytics.compute`; the view only loads and renders.

Days are the organization's (Organization.timezone): "today" and each range's days are
local, as compute's periods are.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape  # the standard library's: Django's wraps it, per call
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.safestring import mark_safe

from analytics.compute import Figures, Filters, compute, paid_orders
from analytics.metrics import BY_SLUG
from analytics.periods import range_bounds
from core.currencies import format_amount
from customers.models import Customer
from orders.models import Order, Product, Subscription

RANGE_CHOICES = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("12m", "Last 12 months"),
    ("year", "This year"),
    ("custom", "Custom"),
]
DEFAULT_RANGE = "30d"
INTERVAL_CHOICES = [("day", "Day"), ("week", "Week"), ("month", "Month")]
BILLING_TYPE_CHOICES = [
    ("", "All billing types"),
    ("one_time", "One-time"),
    ("recurring", "Recurring"),
]
# By day up to 400 days: "12 months by day" fits, a decade of days (3,650 bars) does not.
MAX_DAYS = {"day": 400, "week": 5 * 366, "month": 10 * 366}
MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2099, 12, 31)  # as the metrics API's
LIST_SIZE = 5


# --- Ranges -------------------------------------------------------------------------------


def range_dates(key: str, today: date) -> tuple[date, date]:
    """The first and last day (both included) of a named range ending today."""
    if key in ("7d", "30d", "90d"):
        return today - timedelta(days=int(key[:-1]) - 1), today
    if key == "12m":
        # From the day after this date a year ago: twelve whole months up to today.
        try:
            year_ago = today.replace(year=today.year - 1)
        except ValueError:  # 29 February
            year_ago = today.replace(year=today.year - 1, day=28)
        return year_ago + timedelta(days=1), today
    if key == "year":
        return today.replace(month=1, day=1), today
    raise ValueError(f"Unknown range {key!r}.")


def previous_range(start: date, end: date) -> tuple[date, date]:
    """The range of the same number of days just before `start`..`end`."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def default_interval(start: date, end: date) -> str:
    """Days for up to about a quarter, months beyond."""
    return "day" if (end - start).days + 1 <= 92 else "month"


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


# --- Changes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    direction: str  # up, down, flat, or none (no previous figure to compare with)
    percent: float | None

    @property
    def text(self) -> str:
        if self.percent is None:
            return "—"
        size = abs(self.percent)
        shown = f"{size:.1f}" if size < 10 else f"{size:,.0f}"
        arrow = {"up": "▲ ", "down": "▼ "}.get(self.direction, "")
        return f"{arrow}{shown}%"

    @property
    def spoken(self) -> str:
        if self.percent is None:
            return "no previous figure to compare with"
        if self.direction == "flat":
            return "unchanged from the previous period"
        way = "up" if self.direction == "up" else "down"
        return f"{way} {abs(self.percent):.1f}% from the previous period"


def change(current: float, previous: float) -> Change:
    """The change from `previous` to `current` in percent of `previous`; none when the
    previous figure is 0 (any change from nothing is infinite)."""
    if not previous:
        return Change("none", None)
    percent = (current - previous) / abs(previous) * 100
    if abs(percent) < 0.05:
        return Change("flat", 0.0)
    return Change("up" if percent > 0 else "down", percent)


# --- The controls -------------------------------------------------------------------------


class RangeForm(forms.Form):
    """GET controls of a range of days and an interval. `clean` resolves the range into
    `start` and `end` (local dates) and the interval, so a page reads only cleaned data.
    Subclasses add controls, named ranges (`range_dates`) or another `default_range`."""

    range = forms.ChoiceField(choices=RANGE_CHOICES, required=False)
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")
    interval = forms.ChoiceField(choices=INTERVAL_CHOICES, required=False)

    default_range = DEFAULT_RANGE

    def __init__(self, data, *, today: date):
        super().__init__(data)
        self.today = today

    def range_dates(self, key: str) -> tuple[date, date]:
        return range_dates(key, self.today)

    def clean(self):
        data = super().clean()
        key = data.get("range") or self.default_range
        data["range"] = key
        if key == "custom":
            start, end = data.get("start"), data.get("end")
            if "start" not in self.errors and not start:
                self.add_error("start", "Enter the first day of the range.")
            if "end" not in self.errors and not end:
                self.add_error("end", "Enter the last day of the range.")
            if start and end:
                if end < start:
                    self.add_error("end", "The last day comes before the first.")
                elif start < MIN_DATE or end > MAX_DATE:
                    self.add_error("start", f"Choose days between {MIN_DATE} and {MAX_DATE}.")
        else:
            # Named ranges win over any dates sent along (the inputs show the range's days).
            self.errors.pop("start", None)
            self.errors.pop("end", None)
            data["start"], data["end"] = self.range_dates(key)
        start, end = data.get("start"), data.get("end")
        if self.errors or not (start and end):
            return data
        interval = data.get("interval") or default_interval(start, end)
        data["interval"] = interval
        days = (end - start).days + 1
        if days > MAX_DAYS[interval]:
            field_name = "interval" if key != "custom" or interval == "day" else "end"
            self.add_error(
                field_name,
                f"By {interval}, a range can be at most {MAX_DAYS[interval]:,} days; "
                f"this one has {days:,}.",
            )
        return data


class OverviewForm(RangeForm):
    """The overview's GET controls: a range (RangeForm), one product, a billing type."""

    product = forms.ChoiceField(required=False)
    billing_type = forms.ChoiceField(choices=BILLING_TYPE_CHOICES, required=False)

    def __init__(self, data, *, products: list, today: date):
        super().__init__(data, today=today)
        self.products = {str(p.pk): p for p in products}
        self.fields["product"].choices = [("", "All products")] + [
            (str(p.pk), p.name) for p in products
        ]

    def filters(self, currency: str) -> Filters:
        product = self.cleaned_data.get("product")
        billing_type = self.cleaned_data.get("billing_type")
        return Filters(
            currency=currency,
            product_ids=(self.products[product].pk,) if product else (),
            billing_types=(billing_type,) if billing_type else (),
        )


# --- Figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardSpec:
    slug: str
    label: str
    secondary: str | None = None  # a second figure on the card (the revenue of a count)
    higher_is_better: bool = True


CARDS = [
    CardSpec("revenue", "Revenue"),
    CardSpec("net_revenue", "Net revenue"),
    CardSpec("orders", "Orders"),
    CardSpec("average_order_value", "Average order value"),
    CardSpec("monthly_recurring_revenue", "MRR"),
    CardSpec("annual_recurring_revenue", "ARR"),
    CardSpec("active_subscriptions", "Active subscriptions"),
    CardSpec("new_subscriptions", "New subscriptions"),
    CardSpec("churned_subscriptions", "Churned subscriptions", higher_is_better=False),
    CardSpec("renewed_subscriptions", "Renewals", secondary="renewed_subscriptions_revenue"),
    CardSpec("one_time_products", "One-time purchases", secondary="one_time_products_revenue"),
    CardSpec("churn_rate", "Churn rate", higher_is_better=False),
    CardSpec("new_customers", "New customers"),
    CardSpec("checkouts_conversion", "Checkout conversion"),
]
# Another currency's section: its money figures only (counts of customers and checkouts
# are not per currency).
OTHER_CURRENCY_CARDS = [
    CardSpec("revenue", "Revenue"),
    CardSpec("net_revenue", "Net revenue"),
    CardSpec("orders", "Orders"),
    CardSpec("monthly_recurring_revenue", "MRR"),
]


def _slugs(cards: list[CardSpec]) -> list[str]:
    slugs = [c.slug for c in cards] + [c.secondary for c in cards if c.secondary]
    return [*slugs, "active_subscriptions"]  # the MRR chart's second series


def shown(value: float, metric_type: str, currency: str) -> str:
    """A figure for people: money in the currency, a ratio in percent, a count as is."""
    if metric_type == "currency":
        return format_amount(round(value), currency)
    if metric_type == "percentage":
        return f"{value * 100:.1f}%"
    return f"{value:,}"


@dataclass
class Card:
    spec: CardSpec
    type: str  # scalar, currency, percentage
    currency: str
    value: float
    previous: float
    change: Change
    secondary_value: float | None = None
    secondary_change: Change | None = None

    @property
    def shown(self) -> str:
        return shown(self.value, self.type, self.currency)

    @property
    def previous_shown(self) -> str:
        return shown(self.previous, self.type, self.currency)

    @property
    def secondary_shown(self) -> str:
        return format_amount(self.secondary_value or 0, self.currency)

    @property
    def tone(self) -> str:
        """good, bad or neutral: a rise in churn is bad news."""
        if self.change.direction not in ("up", "down"):
            return "neutral"
        good = (self.change.direction == "up") == self.spec.higher_is_better
        return "good" if good else "bad"


def cards(specs: list[CardSpec], current: Figures, previous: Figures, currency: str) -> list[Card]:
    """Each figure of the range against the previous range: totals compare flows summed,
    stocks at the ranges' ends and ratios of the sums (compute's totals are all three)."""
    result = []
    for spec in specs:
        value, before = current.totals[spec.slug], previous.totals[spec.slug]
        metric_type = BY_SLUG[spec.slug].type
        card = Card(spec, metric_type, currency, value, before, change(value, before))
        if spec.secondary:
            second, second_before = current.totals[spec.secondary], previous.totals[spec.secondary]
            card.secondary_value = second
            card.secondary_change = change(second, second_before)
        result.append(card)
    return result


MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def period_label(start: datetime, interval: str, *, short: bool) -> str:
    month = MONTH_NAMES[start.month - 1]  # strftime's %b, without its cost per period
    if interval == "month":
        return f"{month} {start.year}"
    label = f"{month} {start.day}"
    if interval == "week":
        label = f"Week of {label}"
    return label if short else f"{label}, {start.year}"


def period_labels(figures: Figures, interval: str, *, short: bool) -> list[str]:
    return [period_label(p.start, interval, short=short) for p in figures.periods]


def chart(
    figures: Figures, labels: list[str], currency: str, series: list[tuple[str, str]]
) -> dict:
    """A chart's data for the page's json_script and its table view: one label per period
    (`period_labels`, short), whether the period is still running, and each series' values
    in minor units."""
    return {
        "currency": currency.upper(),
        "labels": labels,
        "partial": [p.partial for p in figures.periods],
        "series": [
            {
                "slug": slug,
                "label": label,
                "type": BY_SLUG[slug].type,
                "values": [v[slug] for v in figures.values],
            }
            for slug, label in series
        ],
    }


class ChartRows(list):
    """The table view of a chart: one row per period (`label`, `partial`, `cells` as
    shown), and `html`, its table rows written in one pass (a year by day is 365 rows of
    cells: through the template language that was a third of the page's time)."""

    @property
    def html(self) -> str:
        so_far = ' <span class="muted">(so far)</span>'
        return mark_safe(  # every value is escaped here
            "".join(
                f"<tr{' class="partial"' if row['partial'] else ''}>"
                f'<th scope="row">{escape(row["label"])}{so_far if row["partial"] else ""}</th>'
                + "".join([f'<td class="num">{escape(cell)}</td>' for cell in row["cells"]])
                + "</tr>"
                for row in self
            )
        )


def chart_rows(figures: Figures, labels: list[str], slugs: list[str], currency: str) -> ChartRows:
    """The table view of a chart: one row per period (labelled by `period_labels`, long),
    its figures as shown."""
    types = [(slug, BY_SLUG[slug].type) for slug in slugs]
    return ChartRows(
        {
            "label": label,
            "partial": p.partial,
            "cells": [shown(values[slug], kind, currency) for slug, kind in types],
        }
        for p, label, values in zip(figures.periods, labels, figures.values, strict=True)
    )


REVENUE_SERIES = [("revenue", "Revenue"), ("net_revenue", "Net revenue")]
MRR_SERIES = [
    ("monthly_recurring_revenue", "MRR"),
    ("active_subscriptions", "Active subscriptions"),
]


@dataclass
class CurrencySection:
    currency: str
    cards: list[Card]
    revenue_chart: dict
    revenue_rows: list[dict]
    mrr_chart: dict | None = None
    mrr_rows: list[dict] = field(default_factory=list)

    # Element ids of the charts' data (json_script), one pair per currency.
    @property
    def revenue_id(self) -> str:
        return f"revenue-data-{self.currency}"

    @property
    def mrr_id(self) -> str:
        return f"mrr-data-{self.currency}"

    @property
    def revenue_labels(self) -> list[str]:
        return [label for _, label in REVENUE_SERIES]

    @property
    def mrr_labels(self) -> list[str]:
        return [label for _, label in MRR_SERIES]


def currency_section(
    *, organization, currency, specs, start, end, interval, tz, filters, now, with_mrr_chart
) -> CurrencySection:
    """Figures of one currency for the range and the previous one (two `compute` calls).
    Only the previous range's totals are shown, and totals do not depend on the interval
    (flows summed, stocks at the end, ratios of the sums): it is cut by year, a period or
    two instead of a year of days."""
    slugs = _slugs(specs)
    common = {"organization": organization, "tz": tz, "now": now, "filters": filters}
    current = compute(start_date=start, end_date=end, interval=interval, slugs=slugs, **common)
    before_start, before_end = previous_range(start, end)
    previous = compute(
        start_date=before_start, end_date=before_end, interval="year", slugs=slugs, **common
    )
    short = period_labels(current, interval, short=True)
    long = period_labels(current, interval, short=False)
    section = CurrencySection(
        currency=currency,
        cards=cards(specs, current, previous, currency),
        revenue_chart=chart(current, short, currency, REVENUE_SERIES),
        revenue_rows=chart_rows(current, long, [s for s, _ in REVENUE_SERIES], currency),
    )
    if with_mrr_chart:
        section.mrr_chart = chart(current, short, currency, MRR_SERIES)
        section.mrr_rows = chart_rows(current, long, [s for s, _ in MRR_SERIES], currency)
    return section


def other_currencies(products: list, currency: str) -> list[str]:
    """The currencies the organization sells in besides its own, each shown apart (amounts
    in different currencies are never added up)."""
    return sorted({p.price_currency for p in products} - {currency})


# --- Customer lists -----------------------------------------------------------------------


def top_customers(organization, *, start: datetime, end: datetime, filters: Filters) -> list:
    """The live customers with the highest lifetime revenue (the customer list's figure,
    in the filters' currency) among those with a paid order in the range that the filters
    select, highest first: the list its "See all" opens, sorted the same way.

    On PostgreSQL a walk down the kept lifetime revenue's index (customers 0012) that
    probes each customer's orders in the range (index customer, created_at) and stops at
    the fifth, instead of grouping the range's orders."""
    # The same orders as the figures count, so the list and the cards never disagree.
    in_range = paid_orders(organization, filters).filter(
        customer_id=OuterRef("pk"), created_at__gte=start, created_at__lt=end
    )
    return list(
        Customer.objects.for_org(organization)
        .with_figures()
        .filter(Exists(in_range), revenue_currency=filters.currency, lifetime_revenue__gt=0)
        .order_by("-lifetime_revenue", "-id")
        .values("id", "name", "email", "lifetime_revenue")[:LIST_SIZE]
    )


def at_risk_subscriptions(organization) -> list:
    """Subscriptions of live customers that may not renew: a payment past due or unpaid, a
    renewal being retried, or a cancellation at period end; the most recently changed
    first. One query (customer and product joined)."""
    return list(
        Subscription.objects.for_org(organization)
        .at_risk()
        .filter(customer__deleted_at__isnull=True)
        .select_related("customer", "product")
        .order_by("-modified_at", "-id")[:LIST_SIZE]
    )


def at_risk_reason(subscription) -> str:
    if subscription.status == Subscription.Status.UNPAID:
        return "Unpaid: renewals failed"
    if subscription.status == Subscription.Status.PAST_DUE or subscription.next_attempt_at:
        return "Payment past due"
    return "Cancels at period end"


def new_paying_customers(organization, *, start: datetime, end: datetime) -> list:
    """Live customers whose first paid order falls in the range, newest first. One query:
    the range's paid orders newest first (index organization, created_at) without an
    earlier paid order of the same customer (index customer, created_at), so it stops at
    the fifth such order instead of grouping every customer's orders."""
    # Earlier: before it, or at the same instant with a smaller ID (each customer once).
    earlier = Order.objects.filter(
        Q(created_at__lt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id")),
        customer_id=OuterRef("customer_id"),
        status__in=Order.PAID_STATUSES,
    )
    firsts = (
        Order.objects.for_org(organization)
        .paid()
        .filter(created_at__gte=start, created_at__lt=end, customer__deleted_at__isnull=True)
        .exclude(Exists(earlier))
        .select_related("customer")
        .only("created_at", "customer__name", "customer__email", "customer__id")
        .order_by("-created_at", "-id")[:LIST_SIZE]
    )
    return [{"customer": order.customer, "first_paid_at": order.created_at} for order in firsts]


# --- The page -----------------------------------------------------------------------------


def control_value(form: forms.Form, name: str) -> str:
    """What a control shows: the cleaned value (a named range's days), else what was
    sent."""
    value = getattr(form, "cleaned_data", {}).get(name)
    if value in (None, ""):
        value = form.data.get(name, "")
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass
class Overview:
    form: OverviewForm
    tz_name: str
    currency: str
    start: date | None = None
    end: date | None = None
    interval: str | None = None
    previous_start: date | None = None
    previous_end: date | None = None
    main: CurrencySection | None = None
    others: list[CurrencySection] = field(default_factory=list)
    top_customers: list = field(default_factory=list)
    at_risk: list = field(default_factory=list)
    new_customers: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.main is not None

    def _value(self, name: str) -> str:
        return control_value(self.form, name)

    range_key = property(lambda self: self._value("range"))
    start_value = property(lambda self: self._value("start"))
    end_value = property(lambda self: self._value("end"))
    interval_value = property(lambda self: self._value("interval"))
    product_value = property(lambda self: self._value("product"))
    billing_type_value = property(lambda self: self._value("billing_type"))


def organization_products(organization) -> list:
    """The filter menu's products (and, from their prices, the currencies sold in)."""
    return list(
        Product.objects.for_org(organization)
        .only("id", "name", "price_currency")
        .order_by("name", "id")
    )


def build_overview(*, organization, params, now: datetime) -> Overview:
    """Everything the overview shows for the GET parameters `params`; figures only when
    the controls are valid (otherwise the form carries the errors)."""
    tz_name = organization.timezone or "UTC"
    tz = ZoneInfo(tz_name)
    currency = organization.currency or "usd"
    products = organization_products(organization)
    form = OverviewForm(params, products=products, today=local_today(now, tz))
    page = Overview(form=form, tz_name=tz_name, currency=currency)
    if not form.is_valid():
        return page
    data = form.cleaned_data
    page.start, page.end, page.interval = data["start"], data["end"], data["interval"]
    page.previous_start, page.previous_end = previous_range(page.start, page.end)
    common = {
        "organization": organization,
        "start": page.start,
        "end": page.end,
        "interval": page.interval,
        "tz": tz,
        "now": now,
    }
    page.main = currency_section(
        currency=currency,
        specs=CARDS,
        filters=form.filters(currency),
        with_mrr_chart=True,
        **common,
    )
    page.others = [
        currency_section(
            currency=other,
            specs=OTHER_CURRENCY_CARDS,
            filters=form.filters(other),
            with_mrr_chart=False,
            **common,
        )
        for other in other_currencies(products, currency)
    ]
    start_at, end_at = range_bounds(page.start, page.end, tz)
    page.top_customers = top_customers(
        organization, start=start_at, end=end_at, filters=form.filters(currency)
    )
    page.at_risk = [(s, at_risk_reason(s)) for s in at_risk_subscriptions(organization)]
    page.new_customers = new_paying_customers(organization, start=start_at, end=end_at)
    return page
