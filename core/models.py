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
