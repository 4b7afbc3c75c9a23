"""`/v1/customers/{id}/timeline`: a customer's timeline through the API.

Our extension, not part of Polar's API (the OpenAPI document tags it so): the same
conventions as the rest (token scopes, Polar's error bodies, an `/external/{external_id}`
twin), but keyset paged with an opaque cursor instead of pages, since a timeline only
grows at its newest end and a page 5,000 entries deep must cost what the first does.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field, StringConstraints

from activity.models import Entry
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
MAX_LIMIT = 100

# Every type an entry can have: the changes the timeline records, the moment an external ID
# is set, the notes' own, and a webhook delivery about the customer (with its outcome).
ENTRY_TYPES = sorted(
    TIMELINE_TYPES
    | {"external_id.set", "note.added", "note.edited", "note.deleted", "webhook.delivery"}
)
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
    customers = Customer.objects.for_org(request.organization).filter(external_id=external_id)
    return _timeline(found_or_404(customers.values_list("pk", flat=True).first()), filters)


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
    customers = Customer.objects.for_org(request.organization).filter(pk=uuid_or_404(id))
    return _timeline(found_or_404(customers.values_list("pk", flat=True).first()), filters)


def _timeline(customer_id, filters: TimelineQuery):
    entries = Entry.objects.filter(customer_id=customer_id)
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
    notes = _notes_of(page.rows)
    return json_response(
        {
            "items": [timeline_entry_out(entry, notes) for entry in page.rows],
            "pagination": {"next_cursor": page.next_cursor},
        }
    )


ENTRY_FIELDS = ("id", "type", "created_at", "actor_type", "actor_id", "actor_name", "source")
ENTRY_FIELDS += ("subject_id", "changes")


def timeline_entry_out(entry: Entry, notes: dict) -> dict:
    """An entry as TimelineEntryOut, its fields in the schema's order."""
    return {
        "id": entry.id,
        "type": entry.type,
        "created_at": entry.created_at,
        "actor": {"type": entry.actor_type, "id": entry.actor_id, "name": entry.actor_name},
        "source": entry.source,
        "changes": entry.changes,
        "note": notes.get(entry.subject_id) if entry.type in NOTE_TYPES else None,
    }


def _notes_of(entries: list[Entry]) -> dict:
    """The notes the page's note entries are about, by ID, in one query (none without note
    entries). Until the notes exist (activity.Note), there is nothing to show."""
    ids = {e.subject_id for e in entries if e.type in NOTE_TYPES and e.subject_id}
    if not ids:
        return {}
    from django.apps import apps

    try:
        note_model = apps.get_model("activity", "Note")
    except LookupError:
        return {}
    return {
        note.pk: {"id": note.pk, "body": note.body, "pinned": bool(note.pinned)}
        for note in note_model.objects.filter(pk__in=ids)
    }
