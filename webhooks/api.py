"""`/v1/webhooks/`: endpoints, the delivery log and redelivery, in Polar's shapes.

Writes go through webhooks/services.py, whose ValidationErrors (keyed "url" and "events")
become Polar's 422 bodies in config/api.py.
"""

from typing import Literal
from uuid import UUID

from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.api import (
    ERRORS,
    SearchText,
    Timestamp,
    excludes_our_organization,
    get_or_404,
    paginate,
    uuid_or_404,
    validation_error,
)
from organizations.api_auth import scopes
from webhooks import services
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.schemas import (
    WebhookDeliveryList,
    WebhookEndpointCreateIn,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointUpdateIn,
    delivery_out,
    endpoint_out,
)

router = Router(tags=["webhooks"])

READ = scopes("webhooks:read", "webhooks:write")
WRITE = scopes("webhooks:write")
MAX_LIMIT = 100
HTTP_CODE_CLASSES = {"2xx": 200, "3xx": 300, "4xx": 400, "5xx": 500}


class EndpointListQuery(Schema):
    organization_id: list[UUID] | None = None
    page: int = Field(1, ge=1, le=10_000_000)
    limit: int = Field(10, ge=1, description="Size of a page; at most 100 (larger is capped).")


class DeliveryListQuery(Schema):
    endpoint_id: list[UUID] | None = None
    start_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None
    succeeded: bool | None = None
    query: SearchText | None = Field(None, description="Text in the response body or the error.")
    http_code_class: Literal["2xx", "3xx", "4xx", "5xx"] | None = None
    event_type: list[EventType] | None = None
    page: int = Field(1, ge=1, le=10_000_000)
    limit: int = Field(10, ge=1, description="Size of a page; at most 100 (larger is capped).")


def _endpoints(request):
    return WebhookEndpoint.objects.filter(organization=request.organization)


def _endpoint(request, raw_id: str) -> WebhookEndpoint:
    return get_or_404(_endpoints(request), raw_id)


def _refuse_name(name: str | None) -> None:
    # Endpoints have no name here; refusing one beats dropping it without a word.
    if name:
        raise validation_error(
            ["body", "name"], "Endpoint names are not supported; leave name out.", name
        )


@router.get(
    "/endpoints",
    response={200: WebhookEndpointList, **ERRORS},
    summary="List webhook endpoints",
    auth=READ,
)
def list_webhook_endpoints(request: HttpRequest, filters: Query[EndpointListQuery]):
    """Newest first.

    **Scopes**: `webhooks:read` `webhooks:write`
    """
    endpoints = _endpoints(request).order_by("-created_at", "-id")
    if excludes_our_organization(request, filters.organization_id):
        endpoints = endpoints.none()
    limit = min(filters.limit, MAX_LIMIT)
    return paginate(endpoints, page=filters.page, limit=limit, serialize=endpoint_out)


@router.post(
    "/endpoints",
    response={201: WebhookEndpointOut, **ERRORS},
    summary="Create a webhook endpoint",
    auth=WRITE,
)
def create_webhook_endpoint(request: HttpRequest, payload: WebhookEndpointCreateIn):
    """Subscribe a URL to event types. The response holds the signing secret (`whsec_...`).
    The URL must be http(s) and, unless the server allows it, resolve to a public address.

    **Scopes**: `webhooks:write`
    """
    if payload.organization_id and payload.organization_id != request.organization.pk:
        raise validation_error(
            ["body", "organization_id"],
            "The access token belongs to another organization.",
            str(payload.organization_id),
        )
    _refuse_name(payload.name)
    endpoint = services.endpoint_create(
        organization=request.organization,
        url=payload.url,
        events=[str(event) for event in payload.events],
    )
    return Status(201, endpoint_out(endpoint))


@router.get(
    "/endpoints/{id}",
    response={200: WebhookEndpointOut, **ERRORS},
    summary="Get a webhook endpoint",
    auth=READ,
)
def get_webhook_endpoint(request: HttpRequest, id: str):
    """**Scopes**: `webhooks:read` `webhooks:write`"""
    return endpoint_out(_endpoint(request, id))


@router.patch(
    "/endpoints/{id}",
    response={200: WebhookEndpointOut, **ERRORS},
    summary="Update a webhook endpoint",
    auth=WRITE,
)
def update_webhook_endpoint(request: HttpRequest, id: str, payload: WebhookEndpointUpdateIn):
    """Change the URL or the events, or switch the endpoint off (`"enabled": false`) or on
    again. While switched off this way no events are recorded for it. Switching it on
    clears the failures that disabled it and sends the events that waited for it (an
    endpoint disabled automatically keeps recording them), oldest first; those older than
    the retention window are marked expired. Fields left out or null are unchanged.

    **Scopes**: `webhooks:write`
    """
    endpoint = _endpoint(request, id)
    _refuse_name(payload.name)
    updated = services.endpoint_update(
        endpoint=endpoint,
        url=payload.url,
        events=None if payload.events is None else [str(event) for event in payload.events],
        enabled=payload.enabled,
    )
    return endpoint_out(updated)


@router.delete(
    "/endpoints/{id}",
    response={204: None, **ERRORS},
    summary="Delete a webhook endpoint",
    auth=WRITE,
)
def delete_webhook_endpoint(request: HttpRequest, id: str):
    """Delete the endpoint with its deliveries and their log; nothing more is sent to it.

    **Scopes**: `webhooks:write`
    """
    services.endpoint_delete(endpoint=_endpoint(request, id))
    return Status(204, None)


@router.patch(
    "/endpoints/{id}/secret",
    response={200: WebhookEndpointOut, **ERRORS},
    summary="Regenerate a webhook endpoint secret",
    auth=WRITE,
)
def reset_webhook_endpoint_secret(request: HttpRequest, id: str):
    """A new signing secret, used from the next delivery on; the old one stops working.

    **Scopes**: `webhooks:write`
    """
    return endpoint_out(services.endpoint_rotate_secret(endpoint=_endpoint(request, id)))


@router.get(
    "/deliveries",
    response={200: WebhookDeliveryList, **ERRORS},
    summary="List webhook deliveries",
    auth=READ,
)
def list_webhook_deliveries(request: HttpRequest, filters: Query[DeliveryListQuery]):
    """Every attempt to deliver an event to one of the organization's endpoints, newest
    first, with the event it carried (`webhook_event.id` is the `webhook-id` header).

    **Scopes**: `webhooks:read` `webhooks:write`
    """
    newest = WebhookAttempt.objects.filter(delivery=OuterRef("delivery")).order_by(
        "-created_at", "-id"
    )
    attempts = (
        WebhookAttempt.objects.filter(delivery__endpoint__organization=request.organization)
        .select_related("delivery__event__person")
        .annotate(last_http_code=Subquery(newest.values("status_code")[:1]))
    )
    if filters.endpoint_id:
        attempts = attempts.filter(delivery__endpoint_id__in=filters.endpoint_id)
    if filters.start_timestamp:
        attempts = attempts.filter(created_at__gte=filters.start_timestamp)
    if filters.end_timestamp:
        attempts = attempts.filter(created_at__lte=filters.end_timestamp)
    if filters.succeeded is not None:
        attempts = attempts.filter(succeeded=filters.succeeded)
    if filters.query:
        text = filters.query.strip()
        attempts = attempts.filter(Q(response_excerpt__icontains=text) | Q(error__icontains=text))
    if filters.http_code_class:
        low = HTTP_CODE_CLASSES[filters.http_code_class]
        attempts = attempts.filter(status_code__gte=low, status_code__lt=low + 100)
    if filters.event_type:
        attempts = attempts.filter(delivery__event__type__in=filters.event_type)
    attempts = attempts.order_by("-created_at", "-id")
    limit = min(filters.limit, MAX_LIMIT)
    return paginate(attempts, page=filters.page, limit=limit, serialize=delivery_out)


@router.post(
    "/events/{id}/redeliver",
    response={202: None, **ERRORS},
    summary="Redeliver a webhook event",
    auth=WRITE,
)
def redeliver_webhook_event(request: HttpRequest, id: str):
    """Send the event (the `webhook-id` receivers saw) again, with a fresh set of retries,
    to each of the organization's endpoints it was meant for.

    **Scopes**: `webhooks:write`
    """
    event_id = uuid_or_404(id)
    deliveries = list(
        WebhookDelivery.objects.filter(
            event_id=event_id, endpoint__organization=request.organization
        ).order_by("created_at", "id")
    )
    if not deliveries:
        raise Http404
    for delivery in deliveries:
        services.delivery_redeliver(delivery=delivery)
    # Polar answers 202 with a JSON null, which its clients parse.
    return HttpResponse(b"null", status=202, content_type="application/json")
