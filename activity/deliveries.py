"""Webhook deliveries on a customer's timeline: one entry per delivery, brought up to date
by each attempt (the webhooks' worker reports them as `webhook.delivery` changes)."""

from activity.models import Entry
from core.changes import Change


def delivery_entry_record(changes: list[Change]) -> None:
    """The activity app's consumer of `webhook.delivery` (registered beside entry_record):
    update each delivery's entry, or write it at its first attempt. At most three
    statements for the whole list: the existing entries, their update, the new ones."""
    latest: dict = {}
    for change in changes:
        if change.type == "webhook.delivery" and change.customer_id is not None:
            latest[change.subject.pk] = change  # a delivery reported twice: its last state
    if not latest:
        return
    # The entries are their customers', written no earlier than their deliveries: the
    # customer's timeline index narrows the search to the entries since then.
    existing = list(
        Entry.objects.filter(
            customer_id__in={c.customer_id for c in latest.values()},
            created_at__gte=min(c.subject.created_at for c in latest.values()),
            type="webhook.delivery",
            subject_id__in=latest.keys(),
        ).only("id", "subject_id")
    )
    for entry in existing:
        entry.changes = latest[entry.subject_id].changes
    for entry in existing:
        latest.pop(entry.subject_id, None)
    if existing:
        Entry.objects.bulk_update(existing, ["changes"])
    Entry.objects.bulk_create([_entry_of(c) for c in latest.values()])


def _entry_of(change: Change) -> Entry:
    actor = change.acting.actor
    return Entry(
        organization_id=change.organization_id,
        customer_id=change.customer_id,
        type=change.type,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        source=change.acting.source,
        request_id=change.acting.request_id,
        subject_id=change.subject.pk,
        changes=change.changes,
    )
