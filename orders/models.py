import calendar
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.currencies import CURRENCY_CODES
from core.ids import uuid7
from core.metadata import validate_metadata
from core.models import BaseModel
from customers.models import Customer
from orders.querysets import OrderQuerySet, ProductQuerySet, SubscriptionQuerySet
from organizations.models import Organization


class InvalidTransition(Exception):
    """A state change the object's current state does not allow."""


def _currency_is_valid(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": sorted(CURRENCY_CODES)}),
        name=f"%(class)s_{field}_iso4217",
        violation_error_message="Unknown currency: use a lowercase ISO 4217 code such as usd.",
    )


def _non_negative(*fields: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(condition=Q(**{f"{f}__gte": 0}), name=f"%(class)s_{f}_gte_0")
        for f in fields
    ]


class RecurringInterval(models.TextChoices):
    MONTH = "month", "Monthly"
    YEAR = "year", "Yearly"


def add_interval(moment: datetime, interval: str, count: int = 1) -> datetime:
    """`moment` moved by whole months or years, clamped to the month's last day."""
    months = count * (12 if interval == RecurringInterval.YEAR else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class Product(BaseModel):
    """Something an organization sells, with its one price."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="products"
    )
    name = models.CharField(max_length=256)
    description = models.TextField(blank=True)
    is_archived = models.BooleanField(default=False)
    # The price has its own ID in Polar's API; a new price (amount or currency changed)
    # gets a new one.
    price_id = models.UUIDField(default=uuid7, unique=True, editable=False)
    price_amount = models.BigIntegerField(help_text="In minor units, e.g. cents.")
    price_currency = models.CharField(max_length=3, default="usd")
    # Null for a one-time purchase.
    recurring_interval = models.CharField(  # noqa: DJ001
        max_length=5, choices=RecurringInterval.choices, null=True, blank=True
    )
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])

    objects = ProductQuerySet.as_manager()

    class Meta:
        constraints = [
            *_non_negative("price_amount"),
            _currency_is_valid("price_currency"),
        ]
        indexes = [models.Index(fields=["organization", "created_at"], name="product_org_created")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recurring(self) -> bool:
        return self.recurring_interval is not None


# Subscriptions that may not renew: a payment past due or unpaid, a renewal being retried,
# or an ongoing one cancelling at period end (SubscriptionQuerySet.at_risk() and its
# partial index, which PostgreSQL uses because the query's condition is this same one).
AT_RISK = Q(status__in=("past_due", "unpaid")) | Q(
    status__in=("trialing", "active", "past_due", "incomplete")
) & (Q(cancel_at_period_end=True) | Q(next_attempt_at__isnull=False))


class Subscription(BaseModel):
    class Status(models.TextChoices):
        INCOMPLETE = "incomplete", "Incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
        TRIALING = "trialing", "Trialing"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        CANCELED = "canceled", "Canceled"
        UNPAID = "unpaid", "Unpaid"

    # What Polar's API counts as active ("at least one trialing, active or past_due
    # subscription"): the customer still has access while a payment is retried.
    ACTIVE_STATUSES = (Status.TRIALING, Status.ACTIVE, Status.PAST_DUE)
    # Still running, so it can be canceled; the rest have ended.
    ONGOING_STATUSES = (Status.TRIALING, Status.ACTIVE, Status.PAST_DUE, Status.INCOMPLETE)

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="subscriptions"
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    recurring_interval = models.CharField(max_length=5, choices=RecurringInterval.choices)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    customer_cancellation_reason = models.CharField(max_length=32, blank=True)
    customer_cancellation_comment = models.TextField(blank=True)
    # The processor's reusable payment method, charged at each renewal.
    payment_method_token = models.CharField(max_length=100, blank=True)
    past_due_at = models.DateTimeField(null=True, blank=True)
    renewal_attempts = models.PositiveSmallIntegerField(default=0)
    # When a declined renewal is tried again; None while renewals are on schedule.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        constraints = [
            *_non_negative("amount"),
            _currency_is_valid("currency"),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=F("current_period_start")),
                name="subscription_period_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status"], name="subscription_customer_status"),
            models.Index(
                fields=["organization", "status", "created_at"], name="subscription_org_status"
            ),
            # The renewals job's due query, polled every minute (querysets.due_for_renewal):
            # the periods ending and the declined renewals to retry, renewable ones only.
            models.Index(
                fields=["current_period_end"],
                condition=Q(
                    status__in=("trialing", "active", "past_due"), next_attempt_at__isnull=True
                ),
                name="subscription_due_on_schedule",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(
                    status__in=("trialing", "active", "past_due"), next_attempt_at__isnull=False
                ),
                name="subscription_due_retry",
            ),
            # The overview's At risk list (newest change first) and the customer list's
            # at_risk filter (its customers): a few percent of the subscriptions.
            models.Index(
                fields=["organization", "-modified_at", "-id"],
                condition=AT_RISK,
                name="subscription_at_risk",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} for {self.customer} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_ongoing(self) -> bool:
        return self.status in self.ONGOING_STATUSES

    def cancel(self, *, now: datetime | None = None) -> None:
        """Cancel at the end of the current period; access continues until then."""
        if not self.is_ongoing:
            raise InvalidTransition(f"A {self.status} subscription cannot be canceled.")
        if self.cancel_at_period_end:
            raise InvalidTransition("The subscription is already set to cancel at period end.")
        self.cancel_at_period_end = True
        self.canceled_at = now or timezone.now()
        self.ends_at = self.current_period_end

    def uncancel(self) -> None:
        """Undo a cancellation at period end, before the period ends."""
        if not self.cancel_at_period_end or not self.is_ongoing:
            raise InvalidTransition("Only a subscription set to cancel at period end can resume.")
        self.cancel_at_period_end = False
        self.canceled_at = None
        self.ends_at = None

    def revoke(self, *, now: datetime | None = None) -> None:
        """End the subscription immediately."""
        if not self.is_ongoing:
            raise InvalidTransition(f"A {self.status} subscription cannot be revoked.")
        now = now or timezone.now()
        self.status = self.Status.CANCELED
        self.cancel_at_period_end = False
        self.canceled_at = self.canceled_at or now
        self.ends_at = now
        self.ended_at = now

    # Renewals: the period rolls over when paid, goes past due when declined, and ends
    # unpaid after too many declines.
    RENEWABLE_STATUSES = (Status.TRIALING, Status.ACTIVE, Status.PAST_DUE)

    def renew(self) -> None:
        """The renewal was paid: start the next period."""
        if self.status not in self.RENEWABLE_STATUSES or self.cancel_at_period_end:
            raise InvalidTransition(f"A {self.status} subscription cannot renew.")
        self.current_period_start = self.current_period_end
        self.current_period_end = add_interval(self.current_period_start, self.recurring_interval)
        self.status = self.Status.ACTIVE
        self.past_due_at = None
        self.renewal_attempts = 0
        self.next_attempt_at = None

    def renewal_declined(self, *, now: datetime, retry_after, max_attempts: int) -> None:
        """The renewal was declined: past due and retried later, or unpaid at the last try."""
        if self.status not in self.RENEWABLE_STATUSES:
            raise InvalidTransition(f"A {self.status} subscription cannot be past due.")
        self.renewal_attempts += 1
        if self.renewal_attempts >= max_attempts:
            self.status = self.Status.UNPAID
            self.ends_at = self.ended_at = now
            self.next_attempt_at = None
        else:
            self.status = self.Status.PAST_DUE
            self.past_due_at = self.past_due_at or now
            self.next_attempt_at = now + retry_after

    def end_at_period_end(self) -> None:
        """A cancellation at period end takes effect."""
        if not self.cancel_at_period_end or not self.is_ongoing:
            raise InvalidTransition("Only a subscription set to cancel can end at period end.")
        self.status = self.Status.CANCELED
        self.ended_at = self.current_period_end
        self.cancel_at_period_end = False

    def clean(self) -> None:
        _check_same_organization(self, self.customer_id and self.customer)
        _check_same_organization(self, self.product_id and self.product)


class Order(BaseModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        VOID = "void", "Void"

    # Money was received for these, even if part of it went back.
    PAID_STATUSES = (Status.PAID, Status.REFUNDED, Status.PARTIALLY_REFUNDED)

    class BillingReason(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        SUBSCRIPTION_CREATE = "subscription_create", "Subscription created"
        SUBSCRIPTION_CYCLE = "subscription_cycle", "Subscription renewed"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="orders", null=True, blank=True
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="orders", null=True, blank=True
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PAID)
    billing_reason = models.CharField(
        max_length=20, choices=BillingReason.choices, default=BillingReason.PURCHASE
    )
    subtotal_amount = models.BigIntegerField()
    discount_amount = models.BigIntegerField(default=0)
    tax_amount = models.BigIntegerField(default=0)
    total_amount = models.BigIntegerField()
    refunded_amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)

    objects = OrderQuerySet.as_manager()

    class Meta:
        constraints = [
            *_non_negative(
                "subtotal_amount",
                "discount_amount",
                "tax_amount",
                "total_amount",
                "refunded_amount",
            ),
            _currency_is_valid("currency"),
            models.CheckConstraint(
                condition=Q(discount_amount__lte=F("subtotal_amount")),
                name="order_discount_lte_subtotal",
            ),
            models.CheckConstraint(
                condition=Q(
                    total_amount=F("subtotal_amount") - F("discount_amount") + F("tax_amount")
                ),
                name="order_total_adds_up",
                violation_error_message="Total must equal subtotal - discount + tax.",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("total_amount")),
                name="order_refund_lte_total",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="order_customer_created"),
            models.Index(fields=["organization", "created_at"], name="order_org_created"),
            # A customer's orders newest first, as the API lists them (`-created_at, -id`):
            # one range of this index, with the count an index-only scan of the same range.
            models.Index(
                fields=["organization", "customer", "created_at", "id"],
                name="order_org_customer_created",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.id} ({self.status})"

    @property
    def net_amount(self) -> int:
        return self.subtotal_amount - self.discount_amount

    @property
    def paid(self) -> bool:
        return self.status in self.PAID_STATUSES

    def clean(self) -> None:
        _check_same_organization(self, self.customer_id and self.customer)
        _check_same_organization(self, self.product_id and self.product)
        _check_same_organization(self, self.subscription_id and self.subscription)


def _check_same_organization(obj: models.Model, related: models.Model | None) -> None:
    if related and related.organization_id != obj.organization_id:
        name = related._meta.model_name
        raise ValidationError({name: f"The {name} belongs to another organization."})
