"""Writes of the activity app: timeline entries (its consumer of every change) and notes."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from activity.models import NOTE_MAX_LENGTH, PERSONAL_ACTORS, Entry, Note
from core.bulk import insert_rows
from core.changes import Change, acting_now, record
from customers.models import ADDRESS_PARTS, Customer
from organizations.models import Membership

# The change types a customer's timeline shows (checkouts appear once completed).
# Changes to the organization itself (organization settings, customer portal settings):
# audit log entries without a customer, on no customer's timeline.
ORGANIZATION_TYPES = frozenset({"organization.updated"})
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
        # Notes are the timeline's own (webhooks.events.SENT does not know them, so they
        # are never sent to webhook endpoints).
        "note.added",
        "note.edited",
        "note.pinned",
        "note.unpinned",
        "note.deleted",
    }
)


def entry_record(changes: list[Change]) -> None:
    """Write the changes' timeline entries (registered in ActivityConfig.ready), all in one
    INSERT: per change, its entry, and an `external_id.set` beside an update that set the
    external ID, so that moment stands out on the timeline. (An anonymization in the list
    writes the entries before it first, so its scrub covers them.)"""
    entries: list[dict] = []
    for change in changes:
        if change.type in ORGANIZATION_TYPES:
            entries.extend(_entries_of(change))
            continue
        if change.customer_id is None or change.type not in TIMELINE_TYPES:
            continue
        if change.type == "customer.anonymized":
            # The scrub covers the entries written before it, this list's too.
            insert_rows(Entry, entries)
            entries = []
            _scrub_personal_values(change.customer_id)
        entries.extend(_entries_of(change))
    insert_rows(Entry, entries)


def _entries_of(change: Change) -> list[dict]:
    """The change's entries, as rows (core.bulk.insert_rows)."""
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
    entries = [{"type": change.type, "changes": change.changes, **common}]
    external_id = change.changes.get("external_id")
    if change.type == "customer.updated" and external_id and external_id[0] is None:
        entries.append(
            {"type": "external_id.set", "changes": {"external_id": external_id}, **common}
        )
    return entries


# What anonymizing a customer erases (customers.services._anonymize): their entries keep
# which of these changed and when, not the values.
PERSONAL_FIELDS = frozenset(
    {
        "email",
        "name",
        "billing_name",
        *(f"billing_address_{part}" for part in ADDRESS_PARTS),
        "body",  # a note's text, in note.* entries
    }
)
SCRUBBED = "[anonymized]"


def _scrub_personal_values(customer_id) -> None:
    """Replace the personal values in a customer's entries (and the name an older entry
    kept for an actor who is the customer, activity.models.PERSONAL_ACTORS; newer ones
    keep none) with SCRUBBED, a batch at a time; the customer's notes are deleted (what
    members wrote about a person is personal too)."""
    Note.objects.filter(customer_id=customer_id).delete()
    batch: list[Entry] = []
    for entry in Entry.objects.filter(customer_id=customer_id).iterator(chunk_size=500):
        changes = {
            field: [v if v in (None, "") else SCRUBBED for v in values]
            if field in PERSONAL_FIELDS
            else values
            for field, values in entry.changes.items()
        }
        named = entry.actor_type in PERSONAL_ACTORS and entry.actor_name not in ("", SCRUBBED)
        if changes != entry.changes or named:
            entry.changes = changes
            entry.actor_name = SCRUBBED if named else entry.actor_name
            batch.append(entry)
        if len(batch) >= 500:
            Entry.objects.bulk_update(batch, ["changes", "actor_name"])
            batch = []
    if batch:
        Entry.objects.bulk_update(batch, ["changes", "actor_name"])


# --- Notes ------------------------------------------------------------------------------

# Pinned notes sit at the top of the customer's page; more than a few would bury it.
MAX_PINNED_NOTES = 5


def note_body_clean(body: str) -> str:
    """The text a note stores: line endings as `\n`, no surrounding blank space, not
    empty, at most NOTE_MAX_LENGTH characters. Plain text: it is escaped when shown."""
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise ValidationError({"body": "Write the note first: it is empty."})
    if "\x00" in body:
        raise ValidationError({"body": "The note contains a NUL character; remove it."})
    if len(body) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {
                "body": f"The note is {len(body):,} characters long; "
                f"a note can be at most {NOTE_MAX_LENGTH:,}."
            }
        )
    return body


def note_add(*, customer, body: str, member: Membership | None = None) -> Note:
    """Add a note to the customer's timeline, written by `member` (a dashboard user), or
    by whoever is acting (an API token with `customers:write`) when `member` is None."""
    body = note_body_clean(body)
    if member is not None and member.organization_id != customer.organization_id:
        raise PermissionDenied("Not a member of this customer's organization.")
    now = timezone.now()
    with transaction.atomic():
        note = Note.objects.create(
            organization_id=customer.organization_id,
            customer=customer,
            author=member.user if member is not None else None,
            author_name=acting_now().actor.name[:254],
            body=body,
            created_at=now,
            modified_at=now,
        )
        _record_note("note.added", note, {"body": [None, body]})
    return note


def note_edit(*, note: Note, body: str, member: Membership | None = None) -> Note:
    """Change a note's text: only its author may (`member`; None for an API token). The
    same text again changes nothing and leaves no entry. Note.DoesNotExist if the note
    was deleted meanwhile."""
    body = note_body_clean(body)
    with transaction.atomic():
        current = _locked(note)
        if member is not None and not current.editable_by(member):
            raise PermissionDenied("Only its author can edit a note.")
        if current.body == body:
            return current
        old, current.body, current.modified_at = current.body, body, timezone.now()
        current.save(update_fields=["body", "modified_at"])
        _record_note("note.edited", current, {"body": [old, body]})
    return current


def note_pin(*, note: Note, pinned: bool, member: Membership | None = None) -> Note:
    """Pin a note to the top of the customer's page, or unpin it: its author and owners
    may (`member`; None for an API token), up to MAX_PINNED_NOTES per customer."""
    with transaction.atomic():
        current = _locked(note)
        if member is not None and not current.removable_by(member):
            raise PermissionDenied("Only its author or an owner can pin or unpin a note.")
        if current.pinned == pinned:
            return current
        if pinned:
            # Pins of one customer's notes queue on the customer's row, so two at once
            # cannot both see room for one more.
            list(
                Customer.objects.select_for_update()
                .filter(pk=current.customer_id)
                .values_list("pk", flat=True)
            )
        if pinned and (
            Note.objects.filter(customer_id=current.customer_id, pinned=True).count()
            >= MAX_PINNED_NOTES
        ):
            raise ValidationError(
                f"At most {MAX_PINNED_NOTES} notes can be pinned; unpin one first."
            )
        current.pinned = pinned
        current.save(update_fields=["pinned"])
        kind = "note.pinned" if pinned else "note.unpinned"
        _record_note(kind, current, {"pinned": [not pinned, pinned]})
    return current


def note_delete(*, note: Note, member: Membership | None = None) -> None:
    """Delete a note: its author and owners may (`member`; None for an API token). The
    row goes; the timeline keeps a `note.deleted` entry with the text it had."""
    with transaction.atomic():
        current = _locked(note)
        if member is not None and not current.removable_by(member):
            raise PermissionDenied("Only its author or an owner can delete a note.")
        _record_note("note.deleted", current, {"body": [current.body, None]})
        current.delete()


def _locked(note: Note) -> Note:
    """The note as stored, locked until the transaction ends (edits, pins and deletes of
    one note queue up instead of recording each other's old values)."""
    return Note.objects.select_for_update().get(pk=note.pk, customer_id=note.customer_id)


def _record_note(type_: str, note: Note, changes: dict) -> None:
    record(
        Change(
            type=type_,
            organization_id=note.organization_id,
            customer_id=note.customer_id,
            subject=note,
            changes=changes,
        )
    )
