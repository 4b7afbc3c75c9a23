"""Writes of timeline entries: the activity app's consumer of every change."""

from activity.models import Entry
from core.changes import ActorType
from customers.models import ADDRESS_PARTS

# The change types a customer's timeline shows (checkouts appear once completed).
TIMELINE_TYPES = frozenset(
    {
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "customer.anonymized",
        "order.created",
        "order.paid",
        "subscription.created",
        "subscription.renewed",
        "subscription.past_due",
        "subscription.unpaid",
        "subscription.canceled",
        "subscription.uncanceled",
        "subscription.revoked",
        "subscription.ended",
        "checkout.completed",
    }
)


def entry_record(change) -> None:
    """Write the change's timeline entries (registered in ActivityConfig.ready), in one
    INSERT: the entry, and an `external_id.set` beside an update that set the external
    ID, so that moment stands out on the timeline."""
    if change.customer_id is None or change.type not in TIMELINE_TYPES:
        return
    if change.type == "customer.anonymized":
        _scrub_personal_values(change.customer_id)
    acting, subject = change.acting, change.subject
    actor = acting.actor
    common = {
        "organization_id": change.organization_id,
        "customer_id": change.customer_id,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_name": actor.name[:254],
        "source": acting.source,
        "request_id": acting.request_id,
        "subject_id": None if subject is None or subject.pk == change.customer_id else subject.pk,
    }
    entries = [Entry(type=change.type, changes=change.changes, **common)]
    external_id = change.changes.get("external_id")
    if change.type == "customer.updated" and external_id and external_id[0] is None:
        entries.append(
            Entry(type="external_id.set", changes={"external_id": external_id}, **common)
        )
    Entry.objects.bulk_create(entries)


# What anonymizing a customer erases (customers.services._anonymize): their entries keep
# which of these changed and when, not the values.
PERSONAL_FIELDS = frozenset(
    {
        "email",
        "name",
        "billing_name",
        *(f"billing_address_{part}" for part in ADDRESS_PARTS),
    }
)
SCRUBBED = "[anonymized]"


def _scrub_personal_values(customer_id) -> None:
    """Replace the personal values in a customer's entries (and a buyer's email as the
    actor's name) with SCRUBBED, a batch at a time."""
    batch: list[Entry] = []
    for entry in Entry.objects.filter(customer_id=customer_id).iterator(chunk_size=500):
        changes = {
            field: [v if v in (None, "") else SCRUBBED for v in values]
            if field in PERSONAL_FIELDS
            else values
            for field, values in entry.changes.items()
        }
        buyer = entry.actor_type == ActorType.BUYER
        if changes != entry.changes or (buyer and entry.actor_name):
            entry.changes = changes
            entry.actor_name = SCRUBBED if buyer else entry.actor_name
            batch.append(entry)
        if len(batch) >= 500:
            Entry.objects.bulk_update(batch, ["changes", "actor_name"])
            batch = []
    if batch:
        Entry.objects.bulk_update(batch, ["changes", "actor_name"])
