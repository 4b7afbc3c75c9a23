"""API shapes of products, orders and subscriptions (Polar API 2026-10).

A product here has exactly one fixed price; fields for features this product does not
have (discounts, benefits, meters, seats, trials, custom fields) carry empty values.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from customers.schemas import CustomerOut, MetadataIn, MetadataOut, Pagination, customer_out
from orders.models import Order, Product, Subscription
from orders.querysets import OrderRow

Interval = Literal["day", "week", "month", "year"]


class PriceFixedIn(Schema):
    amount_type: Literal["fixed"]
    price_amount: int = Field(ge=0, le=99_999_999)
    price_currency: str = Field("usd", min_length=3, max_length=3)
    tax_behavior: Literal["location", "inclusive", "exclusive"] | None = None


class ExistingPriceIn(Schema):
    id: UUID


class ProductCreateIn(Schema):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(None, max_length=5000)
    prices: list[PriceFixedIn] = Field(min_length=1, max_length=1)
    recurring_interval: Literal["month", "year"] | None = None
    recurring_interval_count: Literal[1] | None = None
    visibility: Literal["public"] = "public"
    metadata: MetadataIn = Field(default_factory=dict)
    organization_id: UUID | None = None


class ProductUpdateIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=5000)
    is_archived: bool | None = None
    prices: list[ExistingPriceIn | PriceFixedIn] | None = Field(None, min_length=1, max_length=1)
    metadata: MetadataIn | None = None


class PriceOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    source: Literal["catalog"]
    amount_type: Literal["fixed"]
    price_currency: str
    tax_behavior: None = None
    is_archived: bool
    product_id: UUID
    price_amount: int
    type: Literal["one_time", "recurring"]
    recurring_interval: Interval | None


class ProductFields(Schema):
    """What every shape of a product shares (Polar repeats them in orders and checkouts)."""

    id: UUID
    created_at: datetime
    modified_at: datetime | None
    trial_interval: None = None
    trial_interval_count: None = None
    name: str
    description: str | None
    visibility: Literal["public"]
    recurring_interval: Interval | None
    recurring_interval_count: int | None
    meter_interval: None = None
    meter_interval_count: None = None
    is_recurring: bool
    is_archived: bool
    organization_id: UUID


class ProductBase(ProductFields):
    metadata: MetadataOut


class ProductOut(ProductBase):
    is_deletable: bool
    prices: list[PriceOut]
    benefits: list[Any]
    medias: list[Any]
    attached_custom_fields: list[Any]


class ProductList(Schema):
    items: list[ProductOut]
    pagination: Pagination


class SubscriptionBase(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    amount: int
    currency: str
    recurring_interval: Interval
    recurring_interval_count: int
    status: str
    current_period_start: datetime
    current_period_end: datetime
    current_meter_period_start: None = None
    current_meter_period_end: None = None
    trial_start: None = None
    trial_end: None = None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    started_at: datetime | None
    ends_at: datetime | None
    ended_at: datetime | None
    past_due_at: None = None
    pause_at_period_end: bool
    paused_at: None = None
    resumes_at: None = None
    customer_id: UUID
    product_id: UUID
    discount_id: None = None
    checkout_id: None = None
    seats: None = None
    units: None = None
    customer_cancellation_reason: str | None = None
    customer_cancellation_comment: str | None = None
    metadata: MetadataOut


class SubscriptionOut(SubscriptionBase):
    custom_field_data: dict[str, Any] = Field(default_factory=dict)
    customer: CustomerOut
    product: ProductOut
    discount: None = None
    prices: list[PriceOut]
    meters: list[Any]
    pending_update: None = None


class SubscriptionList(Schema):
    items: list[SubscriptionOut]
    pagination: Pagination


class SubscriptionUpdateIn(Schema):
    """Either `{"cancel_at_period_end": true|false}` or `{"revoke": true}`."""

    cancel_at_period_end: bool | None = None
    revoke: Literal[True] | None = None
    customer_cancellation_reason: (
        Literal[
            "customer_service",
            "low_quality",
            "missing_features",
            "switched_service",
            "too_complex",
            "too_expensive",
            "unused",
            "other",
        ]
        | None
    ) = None
    customer_cancellation_comment: str | None = Field(None, max_length=1000)


class OrderItemOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    label: str
    amount: int
    tax_amount: int
    proration: bool
    product_price_id: UUID | None
    start_timestamp: datetime | None = None
    end_timestamp: datetime | None = None


class OrderOut(Schema):
    id: UUID
    created_at: datetime
    modified_at: datetime | None
    status: str
    paid: bool
    subtotal_amount: int
    discount_amount: int
    net_amount: int
    tax_amount: int
    total_amount: int
    applied_balance_amount: int
    due_amount: int
    refunded_amount: int
    refunded_tax_amount: int
    currency: str
    billing_reason: str
    billing_name: str | None
    billing_address: dict | None
    invoice_number: None = None
    is_invoice_generated: bool
    receipt_number: None = None
    seats: None = None
    units: None = None
    customer_id: UUID
    product_id: UUID | None
    discount_id: None = None
    subscription_id: UUID | None
    checkout_id: None = None
    metadata: MetadataOut
    custom_field_data: dict[str, Any] = Field(default_factory=dict)
    platform_fee_amount: int
    platform_fee_currency: None = None
    customer: CustomerOut
    product: ProductBase | None
    discount: None = None
    subscription: SubscriptionBase | None
    items: list[OrderItemOut]
    description: str
    refundable_amount: int
    refundable_tax_amount: int


class OrderList(Schema):
    items: list[OrderOut]
    pagination: Pagination


def price_out(product: Product) -> dict:
    return {
        "created_at": product.created_at,
        "modified_at": product.modified_at,
        "id": product.price_id,
        "source": "catalog",
        "amount_type": "fixed",
        "price_currency": product.price_currency,
        "tax_behavior": None,
        "is_archived": product.is_archived,
        "product_id": product.id,
        "price_amount": product.price_amount,
        "type": "recurring" if product.is_recurring else "one_time",
        "recurring_interval": product.recurring_interval,
    }


# Each `*_out` gives every field of its schema, defaults included, in the schema's order:
# list operations send these dicts as they are (core.api.json_response), without a pass
# through the schema; tests/api/test_lean_reads.py checks them against that pass.


def product_base_out(product: Product) -> dict:
    is_recurring = product.is_recurring
    return {
        "id": product.id,
        "created_at": product.created_at,
        "modified_at": product.modified_at,
        "trial_interval": None,
        "trial_interval_count": None,
        "name": product.name,
        "description": product.description or None,
        "visibility": "public",
        "recurring_interval": product.recurring_interval,
        "recurring_interval_count": 1 if is_recurring else None,
        "meter_interval": None,
        "meter_interval_count": None,
        "is_recurring": is_recurring,
        "is_archived": product.is_archived,
        "organization_id": product.organization_id,
        "metadata": product.metadata,
    }


def product_out(product: Product) -> dict:
    return {
        **product_base_out(product),
        # Annotated by ProductQuerySet.with_is_deletable(); a product with orders stays.
        "is_deletable": not getattr(product, "has_orders", True),
        "prices": [price_out(product)],
        "benefits": [],
        "medias": [],
        "attached_custom_fields": [],
    }


def subscription_base_out(subscription: Subscription) -> dict:
    return {
        "created_at": subscription.created_at,
        "modified_at": subscription.modified_at,
        "id": subscription.id,
        "amount": subscription.amount,
        "currency": subscription.currency,
        "recurring_interval": subscription.recurring_interval,
        "recurring_interval_count": 1,
        "status": subscription.status,
        "current_period_start": subscription.current_period_start,
        "current_period_end": subscription.current_period_end,
        "current_meter_period_start": None,
        "current_meter_period_end": None,
        "trial_start": None,
        "trial_end": None,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "canceled_at": subscription.canceled_at,
        "started_at": subscription.started_at,
        "ends_at": subscription.ends_at,
        "ended_at": subscription.ended_at,
        "past_due_at": None,
        "pause_at_period_end": False,
        "paused_at": None,
        "resumes_at": None,
        "customer_id": subscription.customer_id,
        "product_id": subscription.product_id,
        "discount_id": None,
        "checkout_id": None,
        "seats": None,
        "units": None,
        "customer_cancellation_reason": subscription.customer_cancellation_reason or None,
        "customer_cancellation_comment": subscription.customer_cancellation_comment or None,
        "metadata": {},
    }


def subscription_out(subscription: Subscription) -> dict:
    product = subscription.product
    return {
        **subscription_base_out(subscription),
        "custom_field_data": {},
        "customer": customer_out(subscription.customer),
        "product": product_out(product),
        "discount": None,
        "prices": [price_out(product)],
        "meters": [],
        "pending_update": None,
    }


def page_part(page: dict | None, kind: str, obj, build) -> dict | None:
    """`build(obj)`, once per object of a page: `page` keeps each part by kind and ID for
    the page's rows (a customer's 100 orders share one customer and one product, whose
    parts are the same dict in each row); without `page`, built each time."""
    if obj is None:
        return None
    if page is None:
        return build(obj)
    key = (kind, obj.pk)
    part = page.get(key)
    if part is None:
        part = page[key] = build(obj)
    return part


def order_out(order: Order | OrderRow, page: dict | None = None) -> dict:
    """An order, or a list's `OrderRow` (the same attributes: its columns, customer,
    product and subscription). `page`: see `page_part` (a list passes one dict for all its
    rows)."""
    customer = order.customer
    product = order.product
    subscription = order.subscription
    paid = order.status in Order.PAID_STATUSES  # Order.paid, which a row has not
    label = product.name if product else "Order"
    return {
        "id": order.id,
        "created_at": order.created_at,
        "modified_at": order.modified_at,
        "status": order.status,
        "paid": paid,
        "subtotal_amount": order.subtotal_amount,
        "discount_amount": order.discount_amount,
        "net_amount": order.subtotal_amount - order.discount_amount,
        "tax_amount": order.tax_amount,
        "total_amount": order.total_amount,
        "applied_balance_amount": 0,
        "due_amount": 0 if paid else order.total_amount,
        "refunded_amount": order.refunded_amount,
        "refunded_tax_amount": 0,
        "currency": order.currency,
        "billing_reason": order.billing_reason,
        "billing_name": customer.billing_name or customer.name or None,
        "billing_address": customer.billing_address,
        "invoice_number": None,
        "is_invoice_generated": False,
        "receipt_number": None,
        "seats": None,
        "units": None,
        "customer_id": order.customer_id,
        "product_id": order.product_id,
        "discount_id": None,
        "subscription_id": order.subscription_id,
        "checkout_id": None,
        "metadata": {},
        "custom_field_data": {},
        "platform_fee_amount": 0,
        "platform_fee_currency": None,
        "customer": page_part(page, "customer", customer, customer_out),
        "product": page_part(page, "product", product, product_base_out),
        "discount": None,
        "subscription": page_part(page, "subscription", subscription, subscription_base_out),
        "items": [
            {
                "created_at": order.created_at,
                "modified_at": order.modified_at,
                "id": order.id,
                "label": label,
                "amount": order.subtotal_amount,
                "tax_amount": order.tax_amount,
                "proration": False,
                "product_price_id": product.price_id if product else None,
                "start_timestamp": None,
                "end_timestamp": None,
            }
        ],
        "description": label,
        "refundable_amount": order.total_amount - order.refunded_amount,
        "refundable_tax_amount": 0,
    }


def order_event(order: Order) -> dict:
    """The order as webhooks carry it: exactly as the API returns it."""
    return OrderOut.model_validate(order_out(order)).model_dump(mode="json")


def subscription_event(subscription: Subscription) -> dict:
    """The subscription as webhooks carry it: exactly as the API returns it."""
    return SubscriptionOut.model_validate(subscription_out(subscription)).model_dump(mode="json")
