"""API shapes of customers, as Polar's API (2026-10) and `polar-sdk` define them.

Where a Polar field has no meaning here (payment methods, events, avatars, benefits,
meters) it carries its empty or null value.
"""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field, WithJsonSchema

from core.encoding import json_ready
from core.metadata import MAX_KEY_LENGTH, MAX_KEYS, MAX_STRING_LENGTH
from customers.models import ADDRESS_PARTS, EMAIL_MAX_LENGTH, Customer

# What the model's EmailField takes, stated in the document; the model checks the rest.
Email = Annotated[
    str,
    Field(min_length=1, max_length=EMAIL_MAX_LENGTH, json_schema_extra={"format": "email"}),
]


# Metadata as it comes in. One validator (core/metadata.py, through check_metadata)
# checks it, so every rule is reported the same way at its key; the document states the
# same rules, from the same constants.
MetadataIn = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_KEYS,
            "propertyNames": {"minLength": 1, "maxLength": MAX_KEY_LENGTH},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": MAX_STRING_LENGTH},
                    {"type": "integer"},
                    {"type": "number"},
                    {"type": "boolean"},
                ]
            },
        }
    ),
]


class AddressIn(Schema):
    line1: str | None = Field(None, max_length=256)
    line2: str | None = Field(None, max_length=256)
    postal_code: str | None = Field(None, max_length=32)
    city: str | None = Field(None, max_length=128)
    state: str | None = Field(None, max_length=128)
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code.")


class AddressOut(Schema):
    line1: str | None
    line2: str | None
    postal_code: str | None
    city: str | None
    state: str | None
    country: str


class CustomerCreateIn(Schema):
    email: Email
    name: str | None = Field(None, max_length=256)
    external_id: str | None = Field(
        None, max_length=200, description="Your ID for the customer. Once set, it can't change."
    )
    metadata: MetadataIn = Field(default_factory=dict)
    billing_address: AddressIn | None = None
    tax_id: str | None = Field(None, max_length=64)
    locale: str | None = Field(None, max_length=16)
    organization_id: UUID | None = None
    type: Literal["individual"] = "individual"


class CustomerUpdateIn(Schema):
    """Only the fields sent change; `metadata` replaces the whole object."""

    email: Email | None = None
    name: str | None = Field(None, max_length=256)
    external_id: str | None = Field(None, max_length=200)
    metadata: MetadataIn | None = None
    billing_address: AddressIn | None = None
    tax_id: str | None = Field(None, max_length=64)
    locale: str | None = Field(None, max_length=16)
    type: Literal["individual"] | None = None


class CustomerUpdateExternalIn(Schema):
    """Updating by external ID: the external ID itself is the key, so it is not here."""

    email: Email | None = None
    name: str | None = Field(None, max_length=256)
    metadata: MetadataIn | None = None
    billing_address: AddressIn | None = None
    tax_id: str | None = Field(None, max_length=64)
    locale: str | None = Field(None, max_length=16)


MetadataOut = dict[str, str | int | float | bool]


class CustomerOut(Schema):
    id: UUID
    created_at: datetime
    modified_at: datetime | None
    metadata: MetadataOut
    external_id: str | None
    email: str
    email_verified: bool
    type: Literal["individual"]
    name: str | None
    billing_name: str | None
    billing_address: AddressOut | None
    tax_id: list[Any] | None
    locale: str | None
    organization_id: UUID
    default_payment_method_id: None = None
    deleted_at: datetime | None
    first_user_event_at: None = None
    avatar_url: None = None


class Pagination(Schema):
    total_count: int
    max_page: int


class CustomerList(Schema):
    items: list[CustomerOut]
    pagination: Pagination


class CustomerStateSubscription(Schema):
    id: UUID
    created_at: datetime
    modified_at: datetime | None
    metadata: MetadataOut
    # polar-sdk 2026-10 types this field as "granted" | "disabled".
    status: Literal["granted", "disabled"]
    amount: int
    currency: str
    recurring_interval: Literal["day", "week", "month", "year"]
    current_period_start: datetime
    current_period_end: datetime
    trial_start: None = None
    trial_end: None = None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    started_at: datetime | None
    ends_at: datetime | None
    product_id: UUID
    discount_id: None = None
    seats: None = None
    units: None = None
    meters: list[Any] = Field(default_factory=list)


class CustomerState(CustomerOut):
    active_subscriptions: list[CustomerStateSubscription]
    granted_benefits: list[Any] = Field(default_factory=list)
    active_meters: list[Any] = Field(default_factory=list)


def customer_out(customer: Customer) -> dict:
    return {
        "id": customer.id,
        "created_at": customer.created_at,
        "modified_at": customer.modified_at,
        "metadata": customer.metadata,
        "external_id": customer.external_id,
        "email": customer.email,
        "email_verified": customer.email_verified,
        "type": "individual",
        "name": customer.name or None,
        "billing_name": customer.billing_name or None,
        "billing_address": customer.billing_address,
        # Polar returns [value, format]; the format is not recorded here.
        "tax_id": [customer.tax_id, None] if customer.tax_id else None,
        "locale": customer.locale or None,
        "organization_id": customer.organization_id,
        "default_payment_method_id": None,
        "deleted_at": customer.deleted_at,
        "first_user_event_at": None,
        "avatar_url": None,
    }


def customer_state_out(customer: Customer, subscriptions) -> dict:
    return {
        **customer_out(customer),
        "active_subscriptions": [
            {
                "id": s.id,
                "created_at": s.created_at,
                "modified_at": s.modified_at,
                "metadata": {},
                "status": "granted",
                "amount": s.amount,
                "currency": s.currency,
                "recurring_interval": s.recurring_interval,
                "current_period_start": s.current_period_start,
                "current_period_end": s.current_period_end,
                "trial_start": None,
                "trial_end": None,
                "cancel_at_period_end": s.cancel_at_period_end,
                "canceled_at": s.canceled_at,
                "started_at": s.started_at,
                "ends_at": s.ends_at,
                "product_id": s.product_id,
                "discount_id": None,
                "seats": None,
                "units": None,
                "meters": [],
            }
            for s in subscriptions
        ],
        "granted_benefits": [],
        "active_meters": [],
    }


def profile_changes(data: dict) -> dict:
    """API fields to model fields: a billing address becomes its columns; null text clears."""
    changes = {}
    for field, value in data.items():
        if field == "billing_address":
            address = value or {}
            for part in ADDRESS_PARTS:
                changes[f"billing_address_{part}"] = (address.get(part) or "").strip()
        elif field in ("name", "tax_id", "locale"):
            changes[field] = (value or "").strip()
        elif field in ("email", "external_id", "metadata"):
            changes[field] = value
    return changes


def customer_event(customer: Customer) -> dict:
    """The customer as webhooks carry it: the API's shape, JSON-ready, as
    `CustomerOut.model_validate(customer_out(c)).model_dump(mode="json")` gives it
    (core.encoding; tests/webhooks/test_payload_shapes.py holds the two side by side)."""
    return json_ready(customer_out(customer))
