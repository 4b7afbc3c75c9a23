"""API shapes of webhook endpoints and deliveries (Polar API 2026-10).

Polar's names map onto ours like this: a Polar *webhook event* is one event bound for one
endpoint (our `WebhookDelivery`, identified by the event's ID, the `webhook-id` the
receiver sees), and a Polar *webhook delivery* is one HTTP attempt (our `WebhookAttempt`).
Payloads are always sent raw (JSON) and signed with Standard Webhooks.
"""

import json
from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from customers.schemas import Pagination
from webhooks.events import API_VERSION
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint

ApiVersion = Literal["2026-10"]
# Polar also offers "discord" and "slack" payloads; only the raw JSON body is sent here.
Format = Literal["raw"]


class WebhookEndpointCreateIn(Schema):
    url: str = Field(min_length=1, max_length=2000)
    name: str | None = Field(None, description="Not supported: send null or leave it out.")
    api_version: ApiVersion = API_VERSION
    format: Format
    events: list[EventType]
    organization_id: UUID | None = None


class WebhookEndpointUpdateIn(Schema):
    url: str | None = Field(None, min_length=1, max_length=2000)
    name: str | None = Field(None, description="Not supported: send null or leave it out.")
    api_version: ApiVersion | None = None
    format: Format | None = None
    events: list[EventType] | None = None
    enabled: bool | None = None


class WebhookEndpointOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    url: str
    name: str | None = None
    api_version: ApiVersion
    format: Format
    secret: str
    organization_id: UUID
    events: list[EventType]
    enabled: bool
    uses_standard_webhook_signature: bool


class WebhookEndpointList(Schema):
    items: list[WebhookEndpointOut]
    pagination: Pagination


class WebhookEventOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    last_http_code: int | None = None
    succeeded: bool | None = None
    skipped: bool
    api_version: str
    payload: str | None
    type: EventType
    is_archived: bool


class WebhookDeliveryOut(Schema):
    created_at: datetime
    modified_at: datetime | None
    id: UUID
    succeeded: bool
    http_code: int | None
    response: str | None
    webhook_event: WebhookEventOut


class WebhookDeliveryList(Schema):
    items: list[WebhookDeliveryOut]
    pagination: Pagination


def endpoint_out(endpoint: WebhookEndpoint) -> dict:
    return {
        "created_at": endpoint.created_at,
        "modified_at": endpoint.modified_at,
        "id": endpoint.id,
        "url": endpoint.url,
        "name": None,
        "api_version": API_VERSION,
        "format": "raw",
        "secret": endpoint.secret,
        "organization_id": endpoint.organization_id,
        "events": endpoint.events,
        # Our `enabled` means what Polar's does: off, nothing is sent (an endpoint failing
        # for WEBHOOK_DISABLE_AFTER_HOURS is switched off by the worker, and its events
        # wait; the dashboard shows why).
        "enabled": endpoint.enabled,
        "uses_standard_webhook_signature": True,
    }


def delivery_out(attempt: WebhookAttempt) -> dict:
    """One attempt. Expects `delivery__event__person` joined and `last_http_code` annotated (the
    status code of the delivery's newest attempt)."""
    delivery, event = attempt.delivery, attempt.delivery.event
    return {
        "created_at": attempt.created_at,
        "modified_at": attempt.modified_at,
        "id": attempt.id,
        "succeeded": attempt.succeeded,
        "http_code": attempt.status_code,
        "response": attempt.response_excerpt if attempt.status_code else attempt.error or None,
        "webhook_event": {
            "created_at": event.created_at,
            "modified_at": delivery.modified_at,
            "id": event.id,
            "last_http_code": getattr(attempt, "last_http_code", None),
            "succeeded": _delivery_succeeded(delivery),
            "skipped": False,
            "api_version": event.payload.get("api_version", API_VERSION),
            # The body exactly as it is sent (compact JSON).
            "payload": json.dumps(event.document(), separators=(",", ":")),
            "type": event.type,
            "is_archived": False,
        },
    }


def _delivery_succeeded(delivery: WebhookDelivery) -> bool | None:
    if delivery.status == WebhookDelivery.Status.SUCCEEDED:
        return True
    return None if delivery.attempts == 0 else False
