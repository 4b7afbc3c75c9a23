"""API shapes of the customer portal and customer sessions, as polar-sdk (2026-10) types
them: `CustomerSession`, `CustomerCustomerSession`, `CustomerPortalCustomer`,
`CustomerOrder`, `CustomerSubscription`, `CustomerOrderReceipt`.

They are the merchant API's shapes (orders.schemas, customers.schemas) with what a
customer must not see taken out (metadata, the merchant's fee, the merchant-side customer)
and the product carrying its organization, as Polar's portal does: each schema is derived
from the merchant one, so a field added there reaches the portal too.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field, create_model

from customers.models import Customer
from customers.schemas import AddressIn, AddressOut, CustomerOut, Pagination, customer_out
from orders.models import Order, Product, Subscription
from orders.querysets import OrderRow
from orders.schemas import (
    OrderOut,
    PriceOut,
    ProductFields,
    SubscriptionBase,
    order_out,
    page_part,
    price_out,
    product_base_out,
    subscription_base_out,
)
from organizations.models import Organization


def _derived(name: str, base: type[Schema], *, drop: tuple[str, ...] = (), **replace) -> type:
    """`base`'s fields in its order, without `drop`, with `replace`'s types put in place."""
    fields = {}
    for field_name, info in base.model_fields.items():
        if field_name in drop:
            continue
        if field_name in replace:
            fields[field_name] = (replace.pop(field_name), ...)
        else:
            fields[field_name] = (info.annotation, info)
    fields.update({field_name: (annotation, ...) for field_name, annotation in replace.items()})
    return create_model(name, __base__=Schema, **fields)


# --- Sessions ---------------------------------------------------------------------------


class CustomerSessionCreateIn(Schema):
    """By our customer ID or by your external ID: one of the two."""

    customer_id: UUID | None = None
    external_customer_id: str | None = Field(None, min_length=1, max_length=200)
    return_url: str | None = Field(
        None,
        max_length=2000,
        description="When set, the portal shows a back button leading to this URL.",
    )
    # Polar's member model: not here, so only null is taken.
    member_id: None = None
    external_member_id: None = None


class CustomerSessionOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    token: str
    expires_at: datetime
    return_url: str | None
    customer_portal_url: str
    customer_id: UUID
    customer: CustomerOut


class CustomerCustomerSessionOut(Schema):
    expires_at: datetime
    return_url: str | None


# --- The customer -----------------------------------------------------------------------


class CustomerPortalCustomerOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    email: str | None
    email_verified: bool
    name: str | None
    billing_name: str | None
    billing_address: AddressOut | None
    tax_id: list[Any] | None
    oauth_accounts: dict[str, Any]
    default_payment_method_id: None = None
    type: Literal["individual"]
    locale: str | None


class CustomerPortalCustomerUpdateIn(Schema):
    """Only the fields sent change. The email and the external ID are the merchant's to
    change, so sending them (or anything else unknown) is a 422."""

    model_config = ConfigDict(extra="forbid")

    # Not in Polar's portal schema: here a customer may correct their name too.
    name: str | None = Field(None, max_length=256)
    billing_name: str | None = Field(None, max_length=256)
    billing_address: AddressIn | None = None
    tax_id: str | None = Field(None, max_length=64)
    # No saved payment methods here: only null is taken.
    default_payment_method_id: None = None


# --- Orders and subscriptions -----------------------------------------------------------


class PortalSettingsUsage(Schema):
    show: bool


class PortalSettingsSubscription(Schema):
    update_seats: bool
    update_plan: bool


class PortalSettingsCustomer(Schema):
    allow_email_change: bool


class PortalSettings(Schema):
    usage: PortalSettingsUsage
    subscription: PortalSettingsSubscription
    customer: PortalSettingsCustomer


class CustomerOrganizationOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    name: str
    slug: str
    avatar_url: None = None
    proration_behavior: Literal["invoice"]
    allow_customer_updates: bool
    customer_portal_settings: PortalSettings


class CustomerProductOut(ProductFields):
    """Polar's `CustomerOrderProduct` and `CustomerSubscriptionProduct` (the same fields)."""

    prices: list[PriceOut]
    benefits: list[Any]
    medias: list[Any]
    organization: CustomerOrganizationOut


CustomerSubscriptionFields = _derived(
    "CustomerSubscriptionFields", SubscriptionBase, drop=("metadata",)
)

CustomerOrderOut = _derived(
    "CustomerOrderOut",
    OrderOut,
    drop=(
        "metadata",
        "custom_field_data",
        "platform_fee_amount",
        "platform_fee_currency",
        "customer",
        "discount",
    ),
    product=CustomerProductOut | None,
    subscription=CustomerSubscriptionFields | None,
)


class CustomerOrderList(Schema):
    items: list[CustomerOrderOut]
    pagination: Pagination


class CustomerOrderReceiptOut(Schema):
    url: str


class CustomerSubscriptionOut(CustomerSubscriptionFields):
    product: CustomerProductOut
    prices: list[PriceOut]
    meters: list[Any]
    pending_update: None = None


class CustomerSubscriptionList(Schema):
    items: list[CustomerSubscriptionOut]
    pagination: Pagination


class CustomerSubscriptionUpdateIn(Schema):
    """`{"cancel_at_period_end": true}` cancels at the end of the period, `false` undoes
    that. Changing the plan, seats or units and pausing are not offered here."""

    cancel_at_period_end: bool | None = None
    cancellation_reason: (
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
    cancellation_comment: str | None = Field(None, max_length=1000)


# --- Builders (every field of the schema, in its order; lists send them as they are) ---


def customer_session_out(session, *, token: str, portal_url: str) -> dict:
    return {
        "created_at": session.created_at,
        "modified_at": session.modified_at,
        "id": session.id,
        "token": token,
        "expires_at": session.expires_at,
        "return_url": session.return_url or None,
        "customer_portal_url": portal_url,
        "customer_id": session.customer_id,
        "customer": customer_out(session.customer),
    }


def portal_customer_out(customer: Customer) -> dict:
    data = customer_out(customer)
    return {
        "created_at": data["created_at"],
        "modified_at": data["modified_at"],
        "id": data["id"],
        "email": data["email"],
        "email_verified": data["email_verified"],
        "name": data["name"],
        "billing_name": data["billing_name"],
        "billing_address": data["billing_address"],
        "tax_id": data["tax_id"],
        "oauth_accounts": {},
        "default_payment_method_id": None,
        "type": "individual",
        "locale": data["locale"],
    }


def organization_out(organization: Organization) -> dict:
    return {
        "created_at": organization.created_at,
        "modified_at": organization.modified_at,
        "id": organization.id,
        "name": organization.name,
        "slug": organization.slug,
        "avatar_url": None,
        "proration_behavior": "invoice",
        "allow_customer_updates": False,
        "customer_portal_settings": {
            "usage": {"show": False},
            "subscription": {"update_seats": False, "update_plan": False},
            "customer": {"allow_email_change": False},
        },
    }


def portal_product_out(product: Product, organization: dict) -> dict:
    data = product_base_out(product)
    data.pop("metadata")
    return {
        **data,
        "prices": [price_out(product)],
        "benefits": [],
        "medias": [],
        "organization": organization,
    }


def _subscription_fields(subscription: Subscription) -> dict:
    data = subscription_base_out(subscription)
    data.pop("metadata")
    return data


def portal_order_out(order: Order | OrderRow, organization: dict, page: dict | None = None) -> dict:
    """`organization` is the session's organization as `organization_out` gives it: one
    dict shared by every row of a page; `page`, as `order_out` takes it."""
    data = order_out(order, page)
    for name in (
        "metadata",
        "custom_field_data",
        "platform_fee_amount",
        "platform_fee_currency",
        "customer",
        "discount",
    ):
        del data[name]
    product, subscription = order.product, order.subscription
    data["product"] = page_part(
        page, "portal_product", product, lambda p: portal_product_out(p, organization)
    )
    data["subscription"] = page_part(
        page, "portal_subscription", subscription, _subscription_fields
    )
    return data


def portal_subscription_out(subscription: Subscription, organization: dict) -> dict:
    product = subscription.product
    return {
        **_subscription_fields(subscription),
        "product": portal_product_out(product, organization),
        "prices": [price_out(product)],
        "meters": [],
        "pending_update": None,
    }
