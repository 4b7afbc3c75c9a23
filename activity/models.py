from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from activity.querysets import EntryQuerySet, NoteQuerySet
from core.changes import ActorType
from core.erasure import ERASED
from core.ids import uuid7
from customers.models import Customer
from organizations.models import Organization

NOTE_MAX_LENGTH = 5_000
# Actors who are the entry's own customer: the buyer at checkout (its ID the checkout's),
# the customer in the portal (the customer's ID). Their entries store no name: readers show
# the customer's as it is when read (`actor_name_of`), so erasing a customer rewrites none
# of them. Entries written before that kept a name (the buyer's email, the customer's
# name): those are shown, and erased, as stored.
PERSONAL_ACTORS = (ActorType.BUYER, ActorType.CUSTOMER)


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
    # None for a change to the organization itself (its settings): in the audit log only.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="timeline", db_index=False, null=True
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

    objects = EntryQuerySet.as_manager()

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


def actor_name_of(entry: Entry, customer: Customer | None) -> str:
    """The name an entry's actor is shown by: the one it stores, else, for an actor who is
    the customer (PERSONAL_ACTORS), `customer`'s (the entry's) name or email as it is now,
    ERASED once the customer is erased; "" for none (the reader shows the actor's kind).
    `customer` is passed in, read with the page (its name, email and erased_at)."""
    if entry.actor_name or entry.actor_type not in PERSONAL_ACTORS or customer is None:
        return entry.actor_name
    return ERASED if customer.erased_at else customer.display_name


class Note(models.Model):
    """A member's note about a customer: plain text (rendered escaped, line breaks kept,
    links made clickable), at most NOTE_MAX_LENGTH characters, optionally pinned to the
    top of the customer's page.

    Written only by activity.services (note_add, note_edit, note_pin, note_delete), each
    of which leaves a `note.*` entry on the timeline. Deleting a note removes its row (no
    soft delete): the timeline keeps who deleted it and when, with the text it had.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="notes", db_index=False
    )
    # None for a note written through the API (the token is the entry's actor) or by a
    # member who has since left.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who wrote it, as they were named then: the member, or the API token's name.
    author_name = models.CharField(max_length=254, blank=True)
    body = models.TextField()
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    objects = NoteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("body"), NOTE_MAX_LENGTH),
                name="note_body_max_length",
            ),
        ]
        indexes = [
            # A customer's notes (the pinned ones first), and the timeline's note lookups.
            models.Index(fields=["customer", "-pinned", "-created_at"], name="note_customer"),
        ]

    def __str__(self) -> str:
        return self.body[:60]

    def editable_by(self, membership) -> bool:
        """Only its author edits a note (an owner can delete it, not reword it)."""
        return (
            membership.organization_id == self.organization_id
            and self.author_id is not None
            and self.author_id == membership.user_id
        )

    def removable_by(self, membership) -> bool:
        """Its author and the organization's owners may delete, pin and unpin a note."""
        return self.editable_by(membership) or (
            membership.organization_id == self.organization_id and membership.is_owner
        )
