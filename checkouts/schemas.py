"""API shapes of checkouts (Polar API 2026-10). One product with one fixed price; the
fields for discounts, trials, seats, units and custom fields carry their empty values."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from django.urls import reverse
from ninja import Schema
from pydantic import Field

from checkouts.models import Checkout
from customers.models import EMAIL_MAX_LENGTH
from customers.schemas import AddressIn, AddressOut, MetadataIn, MetadataOut
from orders.schemas import PriceOut, ProductFields, price_out, product_base_out

# The buyer's email, the customer's rules (an empty one is no email yet).
BuyerEmail = Annotated[str, Field(max_length=EMAIL_MAX_LENGTH)]


class CheckoutCreateIn(Schema):
    products: list[UUID] = Field(min_length=1, max_length=1)
    customer_email: BuyerEmail | None = None
    customer_name: str | None = Field(None, max_length=256)
    external_customer_id: str | None = Field(None, max_length=200)
    customer_billing_name: str | None = Field(None, max_length=256)
    customer_billing_address: AddressIn | None = None
    customer_tax_id: str | None = Field(None, max_length=64)
    customer_metadata: MetadataIn = Field(default_factory=dict)
    metadata: MetadataIn = Field(default_factory=dict)
    success_url: str | None = Field(None, max_length=2000)


class CheckoutUpdatePublicIn(Schema):
    customer_email: BuyerEmail | None = None
    customer_name: str | None = Field(None, max_length=256)
    customer_billing_name: str | None = Field(None, max_length=256)
    customer_billing_address: AddressIn | None = None
    customer_tax_id: str | None = Field(None, max_length=64)


class CheckoutConfirmIn(CheckoutUpdatePublicIn):
    confirmation_token_id: str | None = Field(
        None, max_length=100, description="In test mode: tok_test_success or tok_test_decline."
    )


class CheckoutProductOut(ProductFields):
    prices: list[PriceOut]
    benefits: list[Any]
    medias: list[Any]


class BillingAddressFields(Schema):
    country: str
    state: str
    city: str
    postal_code: str
    line1: str
    line2: str


class CheckoutBase(Schema):
    id: UUID
    created_at: datetime
    modified_at: datetime | None
    custom_field_data: dict[str, Any] = Field(default_factory=dict)
    payment_processor: Literal["stripe"]
    status: str
    client_secret: str
    url: str
    expires_at: datetime
    success_url: str
    return_url: None = None
    embed_origin: None = None
    amount: int
    units: None = None
    min_units: None = None
    max_units: None = None
    discount_amount: int
    net_amount: int
    tax_amount: int | None
    tax_behavior: None = None
    total_amount: int
    currency: str
    allow_trial: None = None
    active_trial_interval: None = None
    active_trial_interval_count: None = None
    trial_end: None = None
    organization_id: UUID
    product_id: UUID
    product_price_id: UUID
    discount_id: None = None
    allow_discount_codes: bool
    require_billing_address: bool
    is_discount_applicable: bool
    is_free_product_price: bool
    is_payment_required: bool
    is_payment_setup_required: bool
    is_payment_form_required: bool
    customer_id: UUID | None
    is_business_customer: bool
    customer_name: str | None
    customer_email: str | None
    customer_ip_address: None = None
    customer_billing_name: str | None
    customer_billing_address: AddressOut | None
    customer_tax_id: str | None
    payment_method_type: None = None
    payment_processor_metadata: dict[str, str]
    billing_address_fields: BillingAddressFields
    products: list[CheckoutProductOut]
    product: CheckoutProductOut
    product_price: PriceOut
    prices: dict[str, list[PriceOut]]
    discount: None = None
    attached_custom_fields: list[Any]


class CheckoutOut(CheckoutBase):
    trial_interval: None = None
    trial_interval_count: None = None
    metadata: MetadataOut
    external_customer_id: str | None
    subscription_id: UUID | None
    customer_metadata: MetadataOut


class CheckoutOrganizationOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    name: str
    slug: str
    avatar_url: None = None
    proration_behavior: Literal["invoice"]
    allow_customer_updates: bool


class CheckoutPublicOut(CheckoutBase):
    organization: CheckoutOrganizationOut


class CheckoutPublicConfirmedOut(CheckoutPublicOut):
    customer_session_token: None = None


class CheckoutList(Schema):
    items: list[CheckoutOut]
    pagination: dict


def checkout_out(checkout: Checkout, *, base_url: str, public: bool = False) -> dict:
    """`base_url` makes the links absolute: the request's host, or SITE_URL for events."""
    product = checkout.product
    price = price_out(product) | {
        "price_amount": checkout.amount,
        "price_currency": checkout.currency,
    }
    checkout_product = {
        **product_base_out(product),
        "prices": [price],
        "benefits": [],
        "medias": [],
    }
    checkout_product.pop("metadata")
    data = {
        "id": checkout.id,
        "created_at": checkout.created_at,
        "modified_at": checkout.modified_at,
        "custom_field_data": {},
        # polar-sdk 2026-10 only knows "stripe"; the processor here is the test one.
        "payment_processor": "stripe",
        "status": checkout.status,
        "client_secret": checkout.client_secret,
        "url": base_url + reverse("checkouts:page", args=[checkout.client_secret]),
        "expires_at": checkout.expires_at,
        "success_url": checkout.success_url
        or base_url + reverse("checkouts:done", args=[checkout.client_secret]),
        "amount": checkout.amount,
        "discount_amount": 0,
        "net_amount": checkout.amount,
        "tax_amount": 0,
        "total_amount": checkout.amount,
        "currency": checkout.currency,
        "organization_id": checkout.organization_id,
        "product_id": product.id,
        "product_price_id": product.price_id,
        "allow_discount_codes": False,
        "require_billing_address": False,
        "is_discount_applicable": False,
        "is_free_product_price": checkout.amount == 0,
        "is_payment_required": checkout.amount > 0,
        "is_payment_setup_required": product.is_recurring,
        "is_payment_form_required": checkout.amount > 0 or product.is_recurring,
        "customer_id": checkout.customer_id,
        "is_business_customer": bool(checkout.customer_tax_id),
        "customer_name": checkout.customer_name or None,
        "customer_email": checkout.customer_email or None,
        "customer_billing_name": checkout.customer_billing_name or None,
        "customer_billing_address": checkout.billing_address,
        "customer_tax_id": checkout.customer_tax_id or None,
        "payment_processor_metadata": {},
        "billing_address_fields": {
            "country": "optional",
            "state": "optional",
            "city": "optional",
            "postal_code": "optional",
            "line1": "optional",
            "line2": "optional",
        },
        "products": [checkout_product],
        "product": checkout_product,
        "product_price": price,
        "prices": {str(product.id): [price]},
        "attached_custom_fields": [],
    }
    if public:
        organization = checkout.organization
        data["organization"] = {
            "created_at": organization.created_at,
            "modified_at": organization.modified_at,
            "id": organization.id,
            "name": organization.name,
            "slug": organization.slug,
            "proration_behavior": "invoice",
            "allow_customer_updates": False,
        }
    else:
        data |= {
            "metadata": checkout.metadata,
            "external_customer_id": checkout.external_customer_id or None,
            "subscription_id": checkout.subscription_id,
            "customer_metadata": checkout.customer_metadata,
        }
    return data


def buyer_fields(data: dict) -> dict:
    """API input to model fields: the billing address becomes its columns."""
    fields = {}
    for key, value in data.items():
        if key == "customer_billing_address":
            address = value or {}
            for part in ("line1", "line2", "postal_code", "city", "state", "country"):
                fields[f"customer_billing_address_{part}"] = address.get(part) or ""
        elif key in ("customer_email", "customer_name", "customer_billing_name", "customer_tax_id"):
            fields[key] = value or ""
    return fields


def checkout_event(checkout: Checkout) -> dict:
    """The checkout as webhooks carry it: exactly as the API returns it."""
    from django.conf import settings

    data = checkout_out(checkout, base_url=settings.SITE_URL)
    return CheckoutOut.model_validate(data).model_dump(mode="json")
