"""How the customer page's timeline shows its entries: a title per type, the actor and
their kind, each changed field as old → new, grouped by day. Pure Python over rows
already read (no queries)."""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.timesince import timesince

from activity.models import Entry, Note, actor_name_of
from core.changes import ActorType
from customers.models import Customer

TITLES = {
    "customer.created": "Customer created",
    "customer.updated": "Profile updated",
    "customer.deleted": "Customer deleted",
    "customer.anonymized": "Customer anonymized",
    "external_id.set": "External ID set",
    "order.created": "Order created",
    "order.paid": "Order paid",
    "subscription.created": "Subscription started",
    "subscription.renewed": "Subscription renewed",
    "subscription.past_due": "Subscription past due",
    "subscription.unpaid": "Subscription unpaid",
    "subscription.canceled": "Subscription canceled",
    "subscription.uncanceled": "Cancellation undone",
    "subscription.revoked": "Subscription revoked",
    "subscription.ended": "Subscription ended",
    "checkout.completed": "Checkout completed",
    "note.added": "Note added",
    "note.edited": "Note edited",
    "note.pinned": "Note pinned",
    "note.unpinned": "Note unpinned",
    "note.deleted": "Note deleted",
    "webhook.delivery": "Webhook delivery",
}
ACTOR_KINDS = {
    ActorType.USER: "member",
    ActorType.TOKEN: "API token",
    ActorType.BUYER: "buyer",
    ActorType.STAFF: "staff",
    ActorType.CUSTOMER: "customer",
    ActorType.SYSTEM: "system",
}
FIELD_LABELS = {
    "external_id": "External ID",
    "email_verified": "Email verified",
    "tax_id": "Tax ID",
    "billing_address_line1": "Billing address line 1",
    "billing_address_line2": "Billing address line 2",
    "billing_address_country": "Billing country",
    "body": "Text",
}
# How the metadata panel names each value type (shown when a key changed type).
TYPE_LABELS = {str: "Text", int: "Integer", float: "Number", bool: "Yes/No"}
# Fields a note's entry does not list: its title says it (pinned, unpinned).
HIDDEN_NOTE_FIELDS = {"pinned"}


@dataclass
class FieldChange:
    label: str
    metadata: bool  # `metadata.<key>`: the label is the key
    old: str | None  # None: absent (shown as "—")
    new: str | None
    old_type: str = ""  # set when a metadata value changed type
    new_type: str = ""
    text: bool = False  # a note's text: line breaks kept, links clickable


@dataclass
class Row:
    entry: Entry
    title: str
    actor_name: str
    actor_kind: str
    ago: str
    changes: list[FieldChange]
    # For a note.* entry: the note as it is now (None once deleted).
    note: Note | None = None
    note_entry: bool = False


@dataclass
class Day:
    day: date
    label: str
    continued: bool  # the previous page ended within this day: no second heading
    rows: list[Row] = field(default_factory=list)


def rows_of(
    entries: list[Entry], notes: dict[Any, Note], now: datetime, customer: Customer
) -> list[Row]:
    """The rows of `customer`'s entries (its name is the actor's for an actor who is the
    customer: activity.models.actor_name_of)."""
    return [_row(entry, notes, now, customer) for entry in entries]


def _row(entry: Entry, notes: dict[Any, Note], now: datetime, customer: Customer) -> Row:
    note_entry = entry.type.startswith("note.")
    changes = [
        _field_change(name, values)
        # Sorted here: PostgreSQL's jsonb keeps keys in its own order (shortest first).
        for name, values in sorted(entry.changes.items())
        if not (note_entry and name in HIDDEN_NOTE_FIELDS)
        and isinstance(values, list | tuple)
        and len(values) == 2
    ]
    title = TITLES.get(entry.type) or entry.type.replace(".", " ").replace("_", " ").capitalize()
    if entry.type == "customer.updated" and changes and all(c.metadata for c in changes):
        title = "Metadata updated"
    note = notes.get(entry.subject_id) if note_entry else None
    if entry.type == "note.added" and note is not None:
        changes = []  # the note itself is shown, as it reads now
    kind = ACTOR_KINDS.get(entry.actor_type, entry.actor_type)
    name = actor_name_of(entry, customer) or kind
    return Row(
        entry=entry,
        title=title,
        actor_name=name,
        actor_kind="" if name.casefold() == kind.casefold() else kind,  # not "System system"
        ago=ago(entry.created_at, now),
        changes=changes,
        note=note,
        note_entry=note_entry,
    )


def _field_change(name: str, values) -> FieldChange:
    old, new = values
    metadata = name.startswith("metadata.")
    label = name.removeprefix("metadata.") if metadata else _label(name)
    change = FieldChange(
        label=label,
        metadata=metadata,
        old=_shown(old, metadata),
        new=_shown(new, metadata),
        text=name == "body",
    )
    if metadata and None not in (old, new) and type(old) is not type(new):
        change.old_type = TYPE_LABELS.get(type(old), type(old).__name__)
        change.new_type = TYPE_LABELS.get(type(new), type(new).__name__)
    return change


def _label(name: str) -> str:
    return FIELD_LABELS.get(name) or name.replace("_", " ").capitalize()


def _shown(value: Any, metadata: bool) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return ("true" if value else "false") if metadata else ("Yes" if value else "No")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value == "":
        return None
    return str(value)


def ago(moment: datetime, now: datetime) -> str:
    """ "just now", "5 minutes ago", "3 days ago": one unit, as a timeline reads."""
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago"


def days_of(rows: list[Row], *, today: date, continues: date | None = None) -> list[Day]:
    """The rows grouped by their local day, newest first; `continues` is the day the
    previous page ended in (its heading is shown there already)."""
    days: list[Day] = []
    for row in rows:
        day = timezone.localdate(row.entry.created_at)
        if not days or days[-1].day != day:
            days.append(Day(day=day, label=_day_label(day, today), continued=day == continues))
        days[-1].rows.append(row)
    return days


def _day_label(day: date, today: date) -> str:
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day.year == today.year:
        return f"{day:%A}, {day:%B} {day.day}"
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"
