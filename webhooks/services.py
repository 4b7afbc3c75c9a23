"""Writes of webhook endpoints and deliveries."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, new_webhook_secret
from webhooks.urlcheck import check_webhook_url


def _check(url: str, events: list[str]) -> list[str]:
    try:
        check_webhook_url(url)
    except ValidationError as error:
        raise ValidationError({"url": error.messages}) from None
    unknown = sorted(set(events) - set(EventType.values))
    if unknown:
        raise ValidationError({"events": f"Unknown event types: {', '.join(unknown)}."})
    if not events:
        raise ValidationError({"events": "Choose at least one event type."})
    return sorted(set(events))


def endpoint_create(*, organization, url: str, events: list[str]) -> WebhookEndpoint:
    """Add an endpoint; its secret (whsec_...) is generated and shown to the owner once."""
    endpoint = WebhookEndpoint(organization=organization, url=url, events=_check(url, events))
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change the URL, the events, or switch the endpoint on or off.

    Switching it off by hand stops recording events for it. Switching it on again clears
    the reason it was disabled and its failure count, and sends what waited, oldest first
    (what waited longer than WEBHOOK_RETENTION_DAYS is marked expired instead)."""
    new_url = endpoint.url if url is None else url
    new_events = endpoint.events if events is None else events
    target = None
    if (new_url, sorted(new_events)) != (endpoint.url, sorted(endpoint.events)):
        # Only a new target is checked (with a DNS lookup, before any row is locked):
        # switching an endpoint off must work even when its host no longer resolves.
        target = new_url, _check(new_url, new_events)
    with transaction.atomic():
        # The row as it is now, locked: while the owner edited, the worker may have counted
        # failures, cleared them or disabled the endpoint, and the secret may have been
        # rotated; saving the copy the owner loaded would undo all of that.
        endpoint.refresh_from_db(from_queryset=WebhookEndpoint.objects.select_for_update())
        if target is not None:
            endpoint.url, endpoint.events = target
        switched_on = enabled is True and not endpoint.enabled
        if enabled is not None:
            if switched_on:
                endpoint.disabled_reason = ""
                endpoint.consecutive_failures, endpoint.failing_since = 0, None
            endpoint.enabled = enabled
            # Whoever switches it, it is no longer the worker's automatic disabling.
            endpoint.disabled_automatically = False
        endpoint.full_clean()
        endpoint.save()
        if switched_on:
            _resume_waiting(endpoint)
    return endpoint


def _resume_waiting(endpoint: WebhookEndpoint) -> None:
    """Make the deliveries that waited for the endpoint due now, in the order their events
    happened (the worker sends the earliest due first), each with a fresh set of retries;
    those older than the retention window expire instead."""
    now = datetime.now(UTC)
    waiting = WebhookDelivery.objects.filter(
        endpoint=endpoint, status=WebhookDelivery.Status.PENDING
    )
    cutoff = now - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    # Old by its last change: a waiting event is coalesced into, keeping the time it was
    # first written and carrying the newest state, which must not expire with it.
    waiting.filter(event__modified_at__lt=cutoff).update(
        status=WebhookDelivery.Status.EXPIRED, next_attempt_at=None, modified_at=now
    )
    waiting.filter(event__modified_at__gte=cutoff).update(
        next_attempt_at=F("created_at"), attempts=0, modified_at=now
    )


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret, effective for the next delivery; the old one stops working."""
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret", "modified_at"])
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with a fresh set of retries (same webhook-id)."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = datetime.now(UTC)
        # locked_until stays: a worker may hold the delivery, and its mark keeps the event
        # from being coalesced into.
        delivery.save()
    return delivery
