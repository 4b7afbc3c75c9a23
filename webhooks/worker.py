"""Delivering webhooks: claim due deliveries, send them signed, record every attempt.

Claiming takes a short lease on each delivery (SELECT ... FOR UPDATE SKIP LOCKED on
PostgreSQL), so several workers share the queue without sending an attempt twice; a worker
that dies mid-delivery loses nothing, since its lease runs out and another worker sends the
delivery again, with the same `webhook-id` so the receiver can tell.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from standardwebhooks import Webhook

from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.urlcheck import check_webhook_url

logger = logging.getLogger(__name__)

# Waits after each failed attempt: about a day in all, then the delivery fails for good.
RETRY_DELAYS = [
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=8),
    timedelta(hours=8),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
LEASE = timedelta(seconds=60)
EXCERPT_LENGTH = 1000


@dataclass
class Sent:
    succeeded: bool
    status_code: int | None
    duration_ms: int
    excerpt: str
    error: str


def deliver_due(*, now: datetime | None = None, limit: int = 50, client=None) -> int:
    """Send every delivery that is due (up to `limit`); return how many were attempted."""
    now = now or datetime.now(UTC)
    claimed = _claim(now, limit)
    owns_client = client is None
    client = client or httpx.Client(timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        for delivery in claimed:
            sent = _send(delivery, client, now)
            _record(delivery.pk, sent, now)
    finally:
        if owns_client:
            client.close()
    return len(claimed)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure, with ±20% jitter so retries spread out."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(0.8, 1.2)


def _claim(now: datetime, limit: int) -> list[WebhookDelivery]:
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "event")
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(endpoint__enabled=True)  # a disabled endpoint's deliveries wait
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("next_attempt_at")[:limit]
        )
        if due:
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in due]).update(
                locked_until=now + LEASE
            )
    return due


def _send(delivery: WebhookDelivery, client, now: datetime) -> Sent:
    endpoint, event = delivery.endpoint, delivery.event
    body = _json(event.payload)
    started = time.monotonic()
    try:
        # Checked again at send time: a name can come to point at a private address later.
        check_webhook_url(endpoint.url)
        signature = Webhook(endpoint.secret).sign(str(event.pk), now, body)
        response = client.post(
            endpoint.url,
            content=body.encode(),
            headers={
                "content-type": "application/json",
                "user-agent": "customers-webhooks/1.0",
                "webhook-id": str(event.pk),
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            },
        )
    except (httpx.HTTPError, ValidationError) as error:
        message = error.messages[0] if isinstance(error, ValidationError) else type(error).__name__
        return Sent(False, None, _ms(started), "", str(message)[:500])
    return Sent(
        succeeded=200 <= response.status_code < 300,
        status_code=response.status_code,
        duration_ms=_ms(started),
        excerpt=response.text[:EXCERPT_LENGTH],
        error="",
    )


def _record(delivery_id, sent: Sent, now: datetime) -> None:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .get(pk=delivery_id)
        )
        endpoint = delivery.endpoint
        WebhookAttempt.objects.create(
            delivery=delivery,
            succeeded=sent.succeeded,
            status_code=sent.status_code,
            duration_ms=sent.duration_ms,
            response_excerpt=sent.excerpt,
            error=sent.error,
        )
        delivery.attempts += 1
        delivery.locked_until = None
        if sent.succeeded:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.next_attempt_at = None
            endpoint.consecutive_failures = 0
        else:
            endpoint.consecutive_failures += 1
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + retry_delay(delivery.attempts)
            what = f"HTTP {sent.status_code}" if sent.status_code else sent.error
            if delivery.status == WebhookDelivery.Status.FAILED or (
                endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES
            ):
                endpoint.enabled = False
                endpoint.disabled_reason = (
                    f"Disabled on {now:%Y-%m-%d %H:%M} UTC after {endpoint.consecutive_failures} "
                    f"failed attempts in a row (last: {what})."
                )
                logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, what)
        delivery.save()
        endpoint.save(
            update_fields=["consecutive_failures", "enabled", "disabled_reason", "modified_at"]
        )


def _json(payload: dict) -> str:
    import json

    return json.dumps(payload, separators=(",", ":"))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
