from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from core.ids import uuid7
from customers.models import Customer
from organizations.models import Organization


class Entry(models.Model):
    """One change on a customer's timeline (and in the organization's audit log): what
    happened, who did it, from where, in which request, and each changed field as
    `[old, new]` (metadata per key as `metadata.<key>`).

    Written by the services' change interface (core.changes) in the change's own
    transaction, never by signals or views: no change without its entry, no entry
    without its change.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="timeline", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    type = models.CharField(max_length=40)
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_name = models.CharField(max_length=254, blank=True)
    source = models.CharField(max_length=16)
    request_id = models.CharField(max_length=64, blank=True)
    # The order, subscription or checkout the entry is about (None for the customer).
    subject_id = models.UUIDField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name_plural = "entries"
        indexes = [
            # The timeline: a customer's entries, newest first, keyset paged.
            models.Index(fields=["customer", "created_at", "id"], name="entry_customer_created"),
            # The audit log: the organization's entries, newest first, and by actor.
            models.Index(fields=["organization", "created_at", "id"], name="entry_org_created"),
            models.Index(
                fields=["organization", "actor_type", "actor_id", "created_at"],
                name="entry_org_actor_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} by {self.actor_name or self.actor_type}"
