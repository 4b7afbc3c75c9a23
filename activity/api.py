"""`/v1/customers/{id}/timeline` and `/v1/customers/{id}/notes`: a customer's timeline
and notes through the API.

Our extension, not part of Polar's API (the OpenAPI document tags it so): the same
conventions as the rest (token scopes, Polar's error bodies, an `/external/{external_id}`
twin for every route), but the timeline is keyset paged with an opaque cursor instead of
pages, since it only grows at its newest end and a page 5,000 entries deep must cost what
the first does. Notes are written through activity.services, as the dashboard writes them;
the token is the author (the entry's actor).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field, StringConstraints

from activity import services
from activity.models import NOTE_MAX_LENGTH, Entry, Note, actor_name_of
from activity.services import TIMELINE_TYPES
from core.api import ERRORS, Timestamp, found_or_404, json_response, uuid_or_404, validation_error
from core.paging import InvalidCursor, keyset_page
from customers.models import Customer
from organizations.api_auth import scopes

TAG = "timeline (extension)"
TAG_DESCRIPTION = (
    "Our extension, not in Polar's API: a customer's timeline, one entry per change "
    "(who acted, from where, each changed field as [old, new]), newest first."
)

router = Router(tags=[TAG])

READ = scopes("customers:read", "customers:write")
WRITE = scopes("customers:write")
MAX_LIMIT = 100

# Every type an entry can have: the changes the timeline records, the moment an external ID
# is set, the notes' own, and a webhook delivery about the customer (with its outcome).
ENTRY_TYPES = sorted(
    TIMELINE_TYPES
    | {"external_id.set", "note.added", "note.edited", "note.deleted", "webhook.delivery"}
)
# Surrounding blank space is trimmed before the note's length is checked: the document's
# bound only keeps absurd bodies from being read at all.
NOTE_BODY_INPUT_MAX = 4 * NOTE_MAX_LENGTH
TimelineEntryType = StrEnum("TimelineEntryType", [(t.replace(".", "_"), t) for t in ENTRY_TYPES])
NOTE_TYPES = frozenset(t for t in ENTRY_TYPES if t.startswith("note."))


class TimelineQuery(Schema):
    type: list[TimelineEntryType] | None = Field(
        None, description="Only entries of these types (repeat the parameter for several)."
    )
    start: Timestamp | None = Field(None, description="Only entries at or after this time.")
    end: Timestamp | None = Field(None, description="Only entries at or before this time.")
    limit: int = Field(10, ge=1, description="Size of a page; at most 100 (larger is capped).")
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="`pagination.next_cursor` of the page before; none for the first."
    )


class TimelineActor(Schema):
    type: str = Field(description="user, token, buyer, staff, customer or system.")
    id: str = Field(description="The user's, token's or checkout's ID; empty for the system.")
    name: str


class TimelineNote(Schema):
    id: UUID
    body: str
    pinned: bool


class TimelineEntryOut(Schema):
    id: UUID
    type: str
    created_at: datetime
    actor: TimelineActor
    source: str = Field(description="dashboard, api, admin, checkout, system, import or portal.")
    changes: dict[str, list[Any]] = Field(
        description="Each changed field as [old, new]; metadata per key as `metadata.<key>`, "
        "null for absent."
    )
    note: TimelineNote | None = Field(description="The note, for an entry about a note.")


class TimelinePagination(Schema):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class TimelinePage(Schema):
    items: list[TimelineEntryOut]
    pagination: TimelinePagination


@router.get(
    "/external/{external_id}/timeline",
    response={200: TimelinePage, **ERRORS},
    summary="Get a customer's timeline by external ID",
    auth=READ,
)
def get_timeline_external(request: HttpRequest, external_id: str, filters: Query[TimelineQuery]):
    """The timeline of the customer with this external ID: see
    `GET /v1/customers/{id}/timeline`.

    **Scopes**: `customers:read` `customers:write`
    """
    return _timeline(_customer_by_external_id(request, external_id), filters)


@router.get(
    "/{id}/timeline",
    response={200: TimelinePage, **ERRORS},
    summary="Get a customer's timeline",
    auth=READ,
)
def get_timeline(request: HttpRequest, id: str, filters: Query[TimelineQuery]):
    """The customer's timeline, newest first: one entry per change, with who acted
    (`actor`), from where (`source`) and each changed field as `[old, new]`. A deleted
    customer's timeline is a 404, like the customer.

    Keyset paged: `pagination.next_cursor` is the `cursor` of the next page (null on the
    last one); a page deep in a long timeline costs what the first does.

    **Scopes**: `customers:read` `customers:write`
    """
    return _timeline(_customer_by_id(request, id), filters)


def _timeline(customer: Customer, filters: TimelineQuery):
    entries = Entry.objects.filter(customer_id=customer.pk)
    if filters.type:
        entries = entries.filter(type__in=[str(t) for t in filters.type])
    if filters.start:
        entries = entries.filter(created_at__gte=filters.start)
    if filters.end:
        entries = entries.filter(created_at__lte=filters.end)
    try:
        page = keyset_page(
            entries.only(*ENTRY_FIELDS),
            field="created_at",
            descending=True,
            cursor=filters.cursor,
            limit=min(filters.limit, MAX_LIMIT),
        )
    except InvalidCursor as error:
        raise validation_error(["query", "cursor"], str(error), filters.cursor) from None
    notes = _notes_of(customer.pk, page.rows)
    return json_response(
        {
            "items": [timeline_entry_out(entry, notes, customer) for entry in page.rows],
            "pagination": {"next_cursor": page.next_cursor},
        }
    )


ENTRY_FIELDS = ("id", "type", "created_at", "actor_type", "actor_id", "actor_name", "source")
ENTRY_FIELDS += ("subject_id", "changes")


def timeline_entry_out(entry: Entry, notes: dict, customer: Customer) -> dict:
    """An entry of `customer` as TimelineEntryOut, its fields in the schema's order (the
    actor's name is the customer's for an actor who is the customer: actor_name_of)."""
    actor_name = actor_name_of(entry, customer)
    return {
        "id": entry.id,
        "type": entry.type,
        "created_at": entry.created_at,
        "actor": {"type": entry.actor_type, "id": entry.actor_id, "name": actor_name},
        "source": entry.source,
        "changes": entry.changes,
        "note": notes.get(entry.subject_id) if entry.type in NOTE_TYPES else None,
    }


def _notes_of(customer_id, entries: list[Entry]) -> dict:
    """The notes the page's note entries are about, by ID, in one query (none without note
    entries). A deleted note is gone: its `note.deleted` entry keeps the text it had."""
    ids = {e.subject_id for e in entries if e.type in NOTE_TYPES and e.subject_id}
    if not ids:
        return {}
    notes = Note.objects.filter(customer_id=customer_id, pk__in=ids).only("id", "body", "pinned")
    return {note.pk: {"id": note.pk, "body": note.body, "pinned": note.pinned} for note in notes}


# --- Notes ------------------------------------------------------------------------------


class NoteCreateIn(Schema):
    body: Annotated[str, StringConstraints(max_length=NOTE_BODY_INPUT_MAX)] = Field(
        description=f"Plain text, line breaks kept, at most {NOTE_MAX_LENGTH:,} characters "
        "once trimmed."
    )


class NoteUpdateIn(Schema):
    body: Annotated[str, StringConstraints(max_length=NOTE_BODY_INPUT_MAX)] | None = Field(
        None, description="The new text (only the note's author may change it on the dashboard)."
    )
    pinned: bool | None = Field(None, description="Pin the note to the top of the customer's page.")


class NoteOut(Schema):
    id: UUID
    customer_id: UUID
    body: str
    pinned: bool
    created_at: datetime
    modified_at: datetime


def note_out(note: Note) -> dict:
    return {
        "id": note.pk,
        "customer_id": note.customer_id,
        "body": note.body,
        "pinned": note.pinned,
        "created_at": note.created_at,
        "modified_at": note.modified_at,
    }


@router.post(
    "/external/{external_id}/notes",
    response={201: NoteOut, **ERRORS},
    summary="Add a note to a customer by external ID",
    auth=WRITE,
)
def add_note_external(request: HttpRequest, external_id: str, payload: NoteCreateIn):
    """See `POST /v1/customers/{id}/notes`.

    **Scopes**: `customers:write`
    """
    return _add_note(_customer_by_external_id(request, external_id), payload)


@router.patch(
    "/external/{external_id}/notes/{note_id}",
    response={200: NoteOut, **ERRORS},
    summary="Update a note by the customer's external ID",
    auth=WRITE,
)
def update_note_external(
    request: HttpRequest, external_id: str, note_id: str, payload: NoteUpdateIn
):
    """See `PATCH /v1/customers/{id}/notes/{note_id}`.

    **Scopes**: `customers:write`
    """
    return _update_note(_note(_customer_by_external_id(request, external_id), note_id), payload)


@router.delete(
    "/external/{external_id}/notes/{note_id}",
    response={204: None, **ERRORS},
    summary="Delete a note by the customer's external ID",
    auth=WRITE,
)
def delete_note_external(request: HttpRequest, external_id: str, note_id: str):
    """See `DELETE /v1/customers/{id}/notes/{note_id}`.

    **Scopes**: `customers:write`
    """
    services.note_delete(note=_note(_customer_by_external_id(request, external_id), note_id))
    return Status(204, None)


@router.post(
    "/{id}/notes",
    response={201: NoteOut, **ERRORS},
    summary="Add a note to a customer",
    auth=WRITE,
)
def add_note(request: HttpRequest, id: str, payload: NoteCreateIn):
    """Add a note to the customer's timeline (a `note.added` entry, the token as its
    actor). Plain text: never sent in webhooks, shown escaped on the dashboard.

    **Scopes**: `customers:write`
    """
    return _add_note(_customer_by_id(request, id), payload)


@router.patch(
    "/{id}/notes/{note_id}",
    response={200: NoteOut, **ERRORS},
    summary="Update a note",
    auth=WRITE,
)
def update_note(request: HttpRequest, id: str, note_id: str, payload: NoteUpdateIn):
    """Change a note's text (`note.edited`) and/or pin or unpin it (`note.pinned`,
    `note.unpinned`; at most 5 pinned per customer). Sending what it already is changes
    nothing.

    **Scopes**: `customers:write`
    """
    return _update_note(_note(_customer_by_id(request, id), note_id), payload)


@router.delete(
    "/{id}/notes/{note_id}",
    response={204: None, **ERRORS},
    summary="Delete a note",
    auth=WRITE,
)
def delete_note(request: HttpRequest, id: str, note_id: str):
    """Delete a note; the timeline keeps a `note.deleted` entry with the text it had.

    **Scopes**: `customers:write`
    """
    services.note_delete(note=_note(_customer_by_id(request, id), note_id))
    return Status(204, None)


# --- Helpers ----------------------------------------------------------------------------


# What the routes read of the customer: its IDs, and what names it as an actor of its own
# entries (activity.models.actor_name_of).
CUSTOMER_FIELDS = ("id", "organization_id", "name", "email", "erased_at")


def _customer_by_id(request: HttpRequest, raw_id: str) -> Customer:
    customers = Customer.objects.for_org(request.organization).filter(pk=uuid_or_404(raw_id))
    return found_or_404(customers.only(*CUSTOMER_FIELDS).first())


def _customer_by_external_id(request: HttpRequest, external_id: str) -> Customer:
    customers = Customer.objects.for_org(request.organization).filter(external_id=external_id)
    return found_or_404(customers.only(*CUSTOMER_FIELDS).first())


def _note(customer: Customer, raw_id: str) -> Note:
    """The customer's note with this ID, or a 404 alike for a malformed ID, a note of
    another customer and a deleted one."""
    return found_or_404(Note.objects.for_customer(customer).filter(pk=uuid_or_404(raw_id)).first())


def _add_note(customer: Customer, payload: NoteCreateIn):
    note = services.note_add(customer=customer, body=payload.body)
    return json_response(note_out(note), status=201)


def _update_note(note: Note, payload: NoteUpdateIn):
    # One transaction: a pin refused (too many pinned) leaves the text as it was too.
    with transaction.atomic():
        if payload.body is not None:
            note = services.note_edit(note=note, body=payload.body)
        if payload.pinned is not None:
            note = services.note_pin(note=note, pinned=payload.pinned)
    return json_response(note_out(note))
