import base64
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.fields import TextJSONField
from core.models import BaseModel
from organizations.models import Organization
from webhooks import personal


class EventType(models.TextChoices):
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_DELETED = "customer.deleted"
    CUSTOMER_STATE_CHANGED = "customer.state_changed"
    ORDER_CREATED = "order.created"
    ORDER_PAID = "order.paid"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_UPDATED = "subscription.updated"
    SUBSCRIPTION_ACTIVE = "subscription.active"
    SUBSCRIPTION_CANCELED = "subscription.canceled"
    SUBSCRIPTION_UNCANCELED = "subscription.uncanceled"
    SUBSCRIPTION_REVOKED = "subscription.revoked"
    CHECKOUT_CREATED = "checkout.created"
    CHECKOUT_UPDATED = "checkout.updated"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(BaseModel):
    """Where an organization wants its events sent, and which ones."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    # Kept in clear: every delivery is signed with it. Never logged, shown once.
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    enabled = models.BooleanField(default=True)
    # Disabled by the worker after failing for WEBHOOK_DISABLE_AFTER_HOURS: events are still
    # recorded for it and wait. An endpoint its owner disables records nothing.
    disabled_automatically = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The first failed attempt since the last success: failing "for 72 hours" counts from it.
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"], name="endpoint_org_created")]

    def __str__(self) -> str:
        return self.url


class EventPerson(models.Model):
    """The personal values of the events that carried one owner's (a customer's, or a
    checkout's before it had a customer), once per distinct set: webhooks.personal. The ID
    is derived from the owner and the values as first written; an erasure replaces the
    values and keeps the ID."""

    id = models.UUIDField(primary_key=True, editable=False)
    # No index of its own: person_owner starts with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    owner_id = models.UUIDField()
    # {path within the payload's data, dotted: value}.
    values = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "owner_id"], name="person_owner")]

    def __str__(self) -> str:
        return f"personal values of {self.owner_id}"


class WebhookEvent(BaseModel):
    """Something that happened, written in the same transaction as the change itself."""

    # No index of its own: event_customer starts with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_events", db_index=False
    )
    type = models.CharField(max_length=40, choices=EventType.choices)
    # The body sent, {"type", "timestamp", "api_version", "data"}, with the personal
    # values in `data` as null: they are the person's (`document()` puts them back). Kept
    # as the text written (core.fields): read whole, never searched inside.
    payload = TextJSONField()
    person = models.ForeignKey(
        EventPerson, null=True, blank=True, on_delete=models.RESTRICT, related_name="+",
        db_index=False,
    )  # fmt: skip
    customer_id = models.UUIDField(null=True, blank=True)
    # A new event with the same key replaces this one's payload while no worker has claimed
    # any of its deliveries, so a burst of changes sends one customer.state_changed. Once
    # claimed, an event never changes: later changes make a new event.
    coalesce_key = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "customer_id", "created_at"], name="event_customer"
            ),
            models.Index(
                fields=["coalesce_key"], condition=~Q(coalesce_key=""), name="event_coalesce"
            ),
        ]

    def document(self) -> dict:
        """The whole body as it is sent: the payload with the person's values in it (a
        query for the person unless it was selected with the event)."""
        if self.person_id is None:
            return self.payload
        return personal.document(self.payload, self.person.values)


class WebhookDelivery(BaseModel):
    """One event to one endpoint, tried until it succeeds or the retries run out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # Waited for a disabled endpoint longer than WEBHOOK_RETENTION_DAYS: not sent.
        EXPIRED = "expired", "Expired"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds a delivery while it sends it; a worker that dies lets go when this
    # passes, and another worker sends it again (with the same webhook-id). Set at the first
    # claim and never cleared (recording an attempt sets it to that moment), so it also
    # says "a worker has had this": coalescing never changes such an event.
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once_per_endpoint")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due"
            ),
            models.Index(fields=["endpoint", "created_at"], name="delivery_endpoint_created"),
        ]


class WebhookAttempt(BaseModel):
    """One HTTP request of a delivery, as the delivery log shows it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    succeeded = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivery", "created_at"], name="attempt_delivery_created")]
