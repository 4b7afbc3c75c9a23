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

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from standardwebhooks import Webhook

from core.changes import Change, record
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.urlcheck import check_webhook_url, public_address

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
LEASE = timedelta(seconds=60)  # at least; see _lease
EXCERPT_LENGTH = 1000


@dataclass
class Sent:
    succeeded: bool
    status_code: int | None
    duration_ms: int
    excerpt: str
    error: str


def deliver_due(*, now: datetime | None = None, limit: int = 50, client=None) -> int:
    """Send every delivery that is due (up to `limit`); return how many were attempted.

    `now` moves the clock (tests pass a later time); each attempt is signed and timed at
    the moment it is sent, so a slow batch never signs with a stale timestamp. The batch
    stops sending to an endpoint as soon as it is disabled (by this worker or its owner).
    """
    offset = (now - datetime.now(UTC)) if now else timedelta(0)
    claimed = _claim(datetime.now(UTC) + offset, limit)
    owns_client = client is None
    client = client or _client()
    stopped: set = set()
    attempted = 0
    try:
        for delivery in claimed:
            if delivery.endpoint_id in stopped:
                continue
            at = datetime.now(UTC) + offset
            if not _renew(delivery, at):
                continue  # the batch outlived our lease, and another worker has it now
            sent = _send(delivery, client, at)
            attempted += 1
            if not _record(delivery.pk, sent, datetime.now(UTC) + offset):
                stopped.add(delivery.endpoint_id)
    finally:
        if owns_client:
            client.close()
        _release([d.pk for d in claimed if d.endpoint_id in stopped], datetime.now(UTC) + offset)
    return attempted


class _CheckedAddressBackend(httpcore.SyncBackend):
    """Connects to the address it has just checked is public, not to the name: httpx would
    resolve the name again to connect, after our check, and a name that answers a public
    address and then a private one (DNS rebinding, TTL 0) would reach inside the network.
    TLS still verifies the certificate against the name."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
            host = public_address(host, port)
        return super().connect_tcp(host, port, timeout, local_address, socket_options)


def _client() -> httpx.Client:
    transport = httpx.HTTPTransport()
    # httpx takes no network backend of its own; its connection pool does.
    transport._pool._network_backend = _CheckedAddressBackend()
    return httpx.Client(transport=transport, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure, with ±20% jitter so retries spread out."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(0.8, 1.2)


def _claim(now: datetime, limit: int) -> list[WebhookDelivery]:
    """Lease up to `limit` due deliveries, then read them with their events and endpoints.

    The events are read after the lease is taken, by a statement of their own: the locking
    statement sees the database as it was when it began, and a coalescing write that
    committed while it ran (its rows were not locked yet) would be sent stale, under an ID
    whose stored payload says otherwise. Once the rows are ours, no write changes them.
    """
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(endpoint__enabled=True)  # a disabled endpoint's deliveries wait
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        WebhookDelivery.objects.filter(pk__in=ids).update(locked_until=now + _lease())
        return list(
            WebhookDelivery.objects.select_related("endpoint", "event__person")
            .filter(pk__in=ids)
            .order_by("next_attempt_at", "pk")
        )


def _renew(delivery: WebhookDelivery, now: datetime) -> bool:
    """Extend our lease on `delivery` just before sending it; False when it is no longer
    ours. A batch can take longer than one lease (50 receivers that each take the whole
    timeout), and a lease that ran out may have been taken by another worker, which sends
    the delivery itself: sending it here too would send it twice."""
    until = now + _lease()
    renewed = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        status=WebhookDelivery.Status.PENDING,
        locked_until=delivery.locked_until,  # still the lease this worker took
    ).update(locked_until=until)
    delivery.locked_until = until
    return bool(renewed)


def _lease() -> timedelta:
    """How long a worker holds a delivery: longer than one attempt can take, or another
    worker sends it while the first still waits for the receiver. Connecting, sending and
    the answer's first byte may each take WEBHOOK_TIMEOUT_SECONDS (the rest of the answer
    is read only until the timeout), so four of them, or LEASE if that is longer."""
    return max(LEASE, 4 * timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS))


def _send(delivery: WebhookDelivery, client, now: datetime) -> Sent:
    endpoint, event = delivery.endpoint, delivery.event
    body = _json(event.document())
    started = time.monotonic()
    try:
        # Checked again at send time: a name can come to point at a private address later.
        check_webhook_url(endpoint.url)
        signature = Webhook(endpoint.secret).sign(str(event.pk), now, body)
        with client.stream(
            "POST",
            endpoint.url,
            content=body.encode(),
            headers={
                "content-type": "application/json",
                "user-agent": "customers-webhooks/1.0",
                "accept-encoding": "identity",
                "webhook-id": str(event.pk),
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            },
        ) as response:
            excerpt = _excerpt(response, deadline=started + settings.WEBHOOK_TIMEOUT_SECONDS)
    except (httpx.HTTPError, ValidationError) as error:
        message = error.messages[0] if isinstance(error, ValidationError) else type(error).__name__
        return Sent(False, None, _ms(started), "", _storable(str(message))[:500])
    return Sent(
        succeeded=200 <= response.status_code < 300,
        status_code=response.status_code,
        duration_ms=_ms(started),
        excerpt=excerpt,
        error="",
    )


def _excerpt(response: httpx.Response, *, deadline: float) -> str:
    """The start of the receiver's answer, for the log: read only until EXCERPT_LENGTH
    characters are in or the timeout has passed. The status is what counts, and a receiver
    can answer without end (a body of gigabytes, or one byte at a time, each within the
    read timeout): reading all of it held the worker, and every endpoint behind it."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= 4 * EXCERPT_LENGTH or time.monotonic() >= deadline:
            break
    try:
        text = body.decode(response.encoding or "utf-8", errors="replace")
    except (LookupError, UnicodeError):
        # A charset that names no text encoding (`rot13`), or one that takes no error
        # handler (`idna`): the receiver's words, which must not stop the worker.
        text = body.decode("utf-8", errors="replace")
    return _storable(text[:EXCERPT_LENGTH])


def _storable(text: str) -> str:
    """Text from the receiver as a column can store it: PostgreSQL refuses NUL, and an
    attempt that could not be recorded stopped the worker on every poll."""
    return text.replace("\x00", "\ufffd")


def _record(delivery_id, sent: Sent, now: datetime) -> bool:
    """Store the attempt and schedule what follows; say whether the endpoint still takes
    deliveries (its row is read under lock here, so an owner's switch is seen at once)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self", "endpoint"))
            .select_related("endpoint", "event")
            .defer("event__payload")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:  # its endpoint was deleted while we sent: nothing to record
            return False
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
        delivery.locked_until = now  # let go, but keep the mark that it was claimed
        if sent.succeeded:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.next_attempt_at = None
            endpoint.consecutive_failures, endpoint.failing_since = 0, None
        else:
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + retry_delay(delivery.attempts)
            _count_failure(endpoint, sent, now)
        delivery.save()
        _report(delivery, sent)
        endpoint.save(
            update_fields=[
                "consecutive_failures",
                "failing_since",
                "enabled",
                "disabled_automatically",
                "disabled_reason",
                "modified_at",
            ]
        )
        return endpoint.enabled


def _report(delivery: WebhookDelivery, sent: Sent) -> None:
    """A delivery about a customer is on their timeline: one entry, which each attempt
    brings up to date (pending while retries remain, then succeeded or failed)."""
    event = delivery.event
    if event.customer_id is None:
        return
    record(
        Change(
            type="webhook.delivery",
            organization_id=event.organization_id,
            customer_id=event.customer_id,
            subject=delivery,
            changes={
                "event": [None, event.type],
                "endpoint": [None, delivery.endpoint.url],
                "status": [WebhookDelivery.Status.PENDING, delivery.status],
                "attempts": [0, delivery.attempts],
                "response_status": [None, sent.status_code],
            },
        )
    )


def _count_failure(endpoint: WebhookEndpoint, sent: Sent, now: datetime) -> None:
    """Disable the endpoint only when it has failed every attempt for
    WEBHOOK_DISABLE_AFTER_HOURS and at least WEBHOOK_DISABLE_MIN_ATTEMPTS times: a judgement
    over time, so a burst of failures across many deliveries never disables it."""
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    failing_for = now - endpoint.failing_since
    if not endpoint.enabled or (
        failing_for < timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
        or endpoint.consecutive_failures < settings.WEBHOOK_DISABLE_MIN_ATTEMPTS
    ):
        return
    what = f"HTTP {sent.status_code}" if sent.status_code else sent.error
    hours = failing_for.total_seconds() / 3600
    endpoint.enabled, endpoint.disabled_automatically = False, True
    endpoint.disabled_reason = (
        f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every attempt failed for "
        f"{hours:.0f} hours ({endpoint.consecutive_failures} attempts; last: {what}). "
        "New events are kept and sent, oldest first, when you enable it again."
    )[:500]
    logger.warning("Webhook endpoint %s disabled after failing %.0f h", endpoint.pk, hours)


def _release(delivery_ids: list, now: datetime) -> None:
    """Let go of claimed deliveries that were not sent (their endpoint was disabled)."""
    if delivery_ids:
        WebhookDelivery.objects.filter(pk__in=delivery_ids, locked_until__gt=now).update(
            locked_until=now
        )


def _json(payload: dict) -> str:
    import json

    return json.dumps(payload, separators=(",", ":"))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
