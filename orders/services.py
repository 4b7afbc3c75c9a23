"""Writes of products, orders and subscriptions."""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.changes import Change, record
from core.ids import uuid7
from customers.models import Customer
from orders.models import Order, Product, Subscription, add_interval
from orders.schemas import order_event, subscription_event
from organizations.models import Organization


def product_create(
    *,
    organization: Organization,
    name: str,
    price_amount: int,
    price_currency: str = "usd",
    recurring_interval: str | None = None,
    description: str = "",
    metadata: dict | None = None,
) -> Product:
    """Create a product with its single price (one-time when `recurring_interval` is None)."""
    product = Product(
        organization=organization,
        name=name,
        description=description,
        price_amount=price_amount,
        price_currency=price_currency.lower(),
        recurring_interval=recurring_interval,
        metadata=metadata or {},
    )
    product.full_clean()
    product.save()
    return product


PRODUCT_UPDATABLE = {
    "name",
    "description",
    "is_archived",
    "metadata",
    "price_amount",
    "price_currency",
}


def product_update(*, product: Product, **changes) -> Product:
    """Change a product. A new amount or currency is a new price, with a new price ID;
    subscriptions already running keep the amount they started with."""
    unknown = set(changes) - PRODUCT_UPDATABLE
    if unknown:
        raise TypeError(f"Unknown product fields: {', '.join(sorted(unknown))}")
    if "price_currency" in changes:
        changes["price_currency"] = changes["price_currency"].lower()
    new_price = any(
        f in changes and changes[f] != getattr(product, f)
        for f in ("price_amount", "price_currency")
    )
    with transaction.atomic():
        for field, value in changes.items():
            setattr(product, field, value)
        if new_price:
            product.price_id = uuid7()
        product.full_clean()
        product.save()
    return product


def subscription_create(
    *,
    customer: Customer,
    product: Product,
    started_at: datetime | None = None,
    payment_method_token: str = "",
) -> Subscription:
    """Start an active subscription to a recurring product, with its first period."""
    started_at = started_at or timezone.now()
    subscription = Subscription(
        organization_id=customer.organization_id,
        customer=customer,
        product=product,
        status=Subscription.Status.ACTIVE,
        amount=product.price_amount,
        currency=product.price_currency,
        recurring_interval=product.recurring_interval,
        started_at=started_at,
        current_period_start=started_at,
        current_period_end=add_interval(started_at, product.recurring_interval),
        created_at=started_at,
        payment_method_token=payment_method_token,
    )
    subscription.full_clean()
    subscription.save()
    _record_subscription(subscription, "subscription.created", status=[None, subscription.status])
    return subscription


def order_create(
    *,
    customer: Customer,
    product: Product,
    billing_reason: str = Order.BillingReason.PURCHASE,
    subscription: Subscription | None = None,
    subtotal_amount: int | None = None,
    discount_amount: int = 0,
    tax_amount: int = 0,
    status: str = Order.Status.PAID,
    created_at: datetime | None = None,
    currency: str | None = None,
) -> Order:
    """Record a purchase; the total is derived, so it always adds up."""
    subtotal = product.price_amount if subtotal_amount is None else subtotal_amount
    order = Order(
        organization_id=customer.organization_id,
        customer=customer,
        product=product,
        subscription=subscription,
        billing_reason=billing_reason,
        status=status,
        subtotal_amount=subtotal,
        discount_amount=discount_amount,
        tax_amount=tax_amount,
        total_amount=subtotal - discount_amount + tax_amount,
        currency=currency or product.price_currency,
        created_at=created_at or timezone.now(),
    )
    order.full_clean()
    order.save()
    data = functools.cache(lambda: order_event(order))
    for type in ("order.created", *(["order.paid"] if order.paid else [])):
        record(
            Change(
                type=type,
                organization_id=order.organization_id,
                customer_id=order.customer_id,
                subject=order,
                changes={"status": [None, order.status]} if type == "order.created" else {},
                event_data=data,
            )
        )
    return order


def subscription_cancel(
    *, subscription: Subscription, reason: str | None = None, comment: str | None = None
) -> Subscription:
    """Cancel at the end of the current period (InvalidTransition if it cannot)."""
    with transaction.atomic():
        subscription.cancel()
        _record_reason(subscription, reason, comment)
        subscription.save()
        _record_subscription(
            subscription, "subscription.canceled", cancel_at_period_end=[False, True]
        )
    return subscription


def subscription_uncancel(*, subscription: Subscription) -> Subscription:
    """Undo a pending cancellation (InvalidTransition if there is none)."""
    with transaction.atomic():
        subscription.uncancel()
        subscription.save()
        _record_subscription(
            subscription, "subscription.uncanceled", cancel_at_period_end=[True, False]
        )
    return subscription


def subscription_revoke(
    *,
    subscription: Subscription,
    now: datetime | None = None,
    reason: str | None = None,
    comment: str | None = None,
) -> Subscription:
    """End a subscription immediately (InvalidTransition if it already ended)."""
    with transaction.atomic():
        was = subscription.status
        subscription.revoke(now=now)
        _record_reason(subscription, reason, comment)
        subscription.save()
        _record_subscription(
            subscription, "subscription.revoked", status=[was, subscription.status]
        )
    return subscription


def _record_subscription(subscription: Subscription, type: str, **changed: list) -> None:
    """Report the change (timeline, webhooks, the customer's state) in this transaction."""
    record(
        Change(
            type=type,
            organization_id=subscription.organization_id,
            customer_id=subscription.customer_id,
            subject=subscription,
            changes=changed,
            event_data=lambda: subscription_event(subscription),
        )
    )


def _record_reason(subscription: Subscription, reason: str | None, comment: str | None) -> None:
    if reason is not None:
        subscription.customer_cancellation_reason = reason
    if comment is not None:
        subscription.customer_cancellation_comment = comment


@dataclass
class RenewalSummary:
    renewed: int = 0
    declined: int = 0
    unpaid: int = 0
    ended: int = 0

    @property
    def total(self) -> int:
        return self.renewed + self.declined + self.unpaid + self.ended


def renew_due_subscriptions(
    *, now: datetime | None = None, processor=None, limit: int | None = None
) -> RenewalSummary:
    """Renew every due subscription (or the first `limit` of them, oldest period end
    first): charge it, start its next period and record a `subscription_cycle` order; or
    end it if it was set to cancel; or, when the charge is declined, mark it past due
    (retried later) and finally unpaid.

    Each subscription is its own transaction, locked with SKIP LOCKED (PostgreSQL), so
    several schedulers can run at once without charging anyone twice.
    """
    from checkouts.payments import get_processor

    now = now or timezone.now()
    processor = processor or get_processor()
    summary = RenewalSummary()
    due = Subscription.objects.due_for_renewal(now).order_by("current_period_end", "pk")
    due_ids = list(due.values_list("pk", flat=True)[:limit])
    for subscription_id in due_ids:
        with transaction.atomic():
            subscription = (
                Subscription.objects.due_for_renewal(now)
                .select_for_update(skip_locked=True)
                .select_related("customer", "product")
                .filter(pk=subscription_id)
                .first()
            )
            if subscription is None:
                continue  # renewed by another worker meanwhile
            outcome = _renew_one(subscription, now=now, processor=processor)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def _renew_one(subscription: Subscription, *, now: datetime, processor) -> str:
    was = subscription.status
    if subscription.cancel_at_period_end:
        subscription.end_at_period_end()
        subscription.save()
        _record_subscription(subscription, "subscription.ended", status=[was, subscription.status])
        return "ended"
    result = processor.charge(
        amount=subscription.amount,
        currency=subscription.currency,
        token=subscription.payment_method_token,
        description=f"{subscription.product.name} renewal",
    )
    if not result.succeeded:
        subscription.renewal_declined(
            now=now,
            retry_after=timedelta(hours=settings.RENEWAL_RETRY_HOURS),
            max_attempts=settings.RENEWAL_MAX_ATTEMPTS,
        )
        subscription.save()
        unpaid = subscription.status == Subscription.Status.UNPAID
        _record_subscription(
            subscription,
            "subscription.unpaid" if unpaid else "subscription.past_due",
            **({"status": [was, subscription.status]} if was != subscription.status else {}),
        )
        return "unpaid" if unpaid else "declined"
    period_end = subscription.current_period_end
    subscription.renew()
    subscription.save()
    _record_subscription(
        subscription,
        "subscription.renewed",
        current_period_end=[period_end, subscription.current_period_end],
        **({"status": [was, subscription.status]} if was != subscription.status else {}),
    )
    order_create(
        customer=subscription.customer,
        product=subscription.product,
        subscription=subscription,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE,
        subtotal_amount=subscription.amount,
        currency=subscription.currency,
        created_at=now,
    )
    return "renewed"
