"""Webhook deliveries on a customer's timeline: one entry per delivery, brought up to date
by each attempt (the webhooks' worker reports them as `webhook.delivery` changes)."""

from activity.models import Entry


def delivery_entry_record(change) -> None:
    """The activity app's consumer of `webhook.delivery` (registered beside entry_record):
    update the delivery's entry, or write it at its first attempt."""
    if change.type != "webhook.delivery" or change.customer_id is None:
        return
    delivery = change.subject
    # The entry is the customer's, written no earlier than the delivery: the customer's
    # timeline index narrows the search to the entries since then.
    updated = Entry.objects.filter(
        customer_id=change.customer_id,
        created_at__gte=delivery.created_at,
        type=change.type,
        subject_id=delivery.pk,
    ).update(changes=change.changes)
    if updated:
        return
    actor = change.acting.actor
    Entry.objects.create(
        organization_id=change.organization_id,
        customer_id=change.customer_id,
        type=change.type,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        source=change.acting.source,
        request_id=change.acting.request_id,
        subject_id=delivery.pk,
        changes=change.changes,
    )
