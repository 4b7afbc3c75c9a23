"""Abstract bases shared by every app's models."""

from django.db import models
from django.utils import timezone

from core.ids import uuid7


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # A default rather than auto_now_add, so imports and demo data can keep real dates.
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class IdempotencyKey(models.Model):
    """A POST made with an `Idempotency-Key` header: its request's fingerprint and, once it
    finished, its response, replayed to retries of the same request for 24 hours."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    # Null while the first request is still running.
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_per_org")
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires")]

    def __str__(self) -> str:
        return self.key


class OutgoingEmail(BaseModel):
    """An email in the outbox: written by `core.emails.email_send` in the transaction of the
    change that asked for it, sent by the worker (`core.emails.send_due_emails`)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # every attempt failed; `last_error` says how the last one did

    # The merchant it was sent for, if any: a pointer by name, so core imports no app.
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=500)
    text = models.TextField()
    html = models.TextField(blank=True)
    # Shown with DEFAULT_FROM_EMAIL's address ("Acme <noreply@example.com>"); empty sends
    # DEFAULT_FROM_EMAIL as it is.
    from_name = models.CharField(max_length=200, blank=True)
    reply_to = models.EmailField(max_length=254, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the worker tries next; empty once sent or failed for good.
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The worker sending it, and until when (see core.emails).
    locked_by = models.CharField(max_length=32, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The worker's due query: pending emails in the order they fall due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="outgoing_email_due",
            ),
            # Failures for the admin's filter, newest first.
            models.Index(fields=["status", "-created_at"], name="outgoing_email_status"),
        ]

    def __str__(self) -> str:
        return f"Email to {self.to}"  # not the subject, which may carry a sign-in code
