"""Writes of products, orders and subscriptions."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.ids import uuid7
from customers.models import Customer
from orders.models import Order, Product, Subscription, add_interval
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
    *, customer: Customer, product: Product, started_at: datetime | None = None
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
    )
    subscription.full_clean()
    subscription.save()
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
        currency=product.price_currency,
        created_at=created_at or timezone.now(),
    )
    order.full_clean()
    order.save()
    return order


def subscription_cancel(
    *, subscription: Subscription, reason: str | None = None, comment: str | None = None
) -> Subscription:
    """Cancel at the end of the current period (InvalidTransition if it cannot)."""
    with transaction.atomic():
        subscription.cancel()
        _record_reason(subscription, reason, comment)
        subscription.save()
    return subscription


def subscription_uncancel(*, subscription: Subscription) -> Subscription:
    """Undo a pending cancellation (InvalidTransition if there is none)."""
    with transaction.atomic():
        subscription.uncancel()
        subscription.save()
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
        subscription.revoke(now=now)
        _record_reason(subscription, reason, comment)
        subscription.save()
    return subscription


def _record_reason(subscription: Subscription, reason: str | None, comment: str | None) -> None:
    if reason is not None:
        subscription.customer_cancellation_reason = reason
    if comment is not None:
        subscription.customer_cancellation_comment = comment
