"""Recording events. The webhooks consume every change the services record (core.changes)
inside their own transaction, so an event exists exactly when its change does: a
rolled-back change leaves no event behind."""

import functools
import json
import time
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, Subquery

from core.bulk import RawJSON, insert_rows
from core.changes import Change
from core.encoding import json_ready, json_text
from core.ids import uuid7
from webhooks import personal
from webhooks.models import (
    EventPerson,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

API_VERSION = "2026-10"


# Each organization's listeners, per process: {organization_id: (webhooks_version, rows)}.
# The version is moved by a trigger at every endpoint change (webhooks migration 0003) and
# read with the organization, so an entry is used only while it is current.
_LISTENERS: dict = {}
_LISTENERS_KEPT = 10_000
# An organization read longer ago than this (by a long-running job, say) may carry an
# outdated version: its listeners are queried instead.
LISTENERS_VERSION_FRESH_SECONDS = 1.0


def listeners(organization) -> list[WebhookEndpoint]:
    """The endpoints that record events, shared by all events of a change.

    An endpoint the worker disabled for failing still records them (they wait until it is
    enabled again); one its owner disabled records nothing.

    Given an Organization read from the database within the last second (in the writer's
    transaction, or with the request's access token), they come from this process's
    cache while its `webhooks_version` is the one cached: no statement. Otherwise (an ID,
    an older read, a version not cached) one query, which refreshes the cache when the
    version is known. An endpoint added while a write is under way
    may miss that write, as it would if the query ran: the two are concurrent.
    """
    version = None
    organization_id = getattr(organization, "pk", organization)
    read_at = getattr(organization, "read_at", None)
    if read_at is not None and time.monotonic() - read_at < LISTENERS_VERSION_FRESH_SECONDS:
        version = organization.webhooks_version
    if version is not None:
        cached = _LISTENERS.get(organization_id)
        if cached is not None and cached[0] == version:
            return cached[1]
    rows = list(
        WebhookEndpoint.objects.filter(organization_id=organization_id)
        .filter(Q(enabled=True) | Q(disabled_automatically=True))
        .only("id", "organization_id", "events")
    )
    if version is not None:
        if len(_LISTENERS) >= _LISTENERS_KEPT:
            _LISTENERS.clear()
        _LISTENERS[organization_id] = (version, rows)
    return rows


def _organization_of(row):
    """The row's organization when it is already loaded (no query), else its ID."""
    cached = row._state.fields_cache.get("organization")
    return cached if cached is not None else row.organization_id


def record_event(
    *,
    organization_id,
    type: str,
    data,
    customer_id=None,
    coalesce_key: str = "",
    endpoints: list[WebhookEndpoint] | None = None,
    kept: set | None = None,
) -> WebhookEvent | None:
    """Write the event and a pending delivery per enabled endpoint that wants it.

    `data` may be a callable, so the payload is only built when someone listens; nothing
    is written when no endpoint does. With `coalesce_key`, an event with the same key that
    no worker has claimed yet is updated in place instead. The payload's personal values
    go to their EventPerson (webhooks.personal), written unless its ID is in `kept` (the
    IDs a change's earlier events wrote), which it then joins.
    """
    if endpoints is None:
        endpoints = listeners(organization_id)
    endpoints = [e for e in endpoints if type in e.events]
    if not endpoints:
        return None
    now = datetime.now(UTC)
    data, person = personal.split(type, data() if callable(data) else data, customer_id)
    payload = _payload(type, data, now)
    if person is not None and (kept is None or person.id not in kept):
        keep_people(organization_id, [person])
        if kept is not None:
            kept.add(person.id)
    person_id = person.id if person is not None else None
    if coalesce_key:
        waiting = _unclaimed_event(organization_id, coalesce_key)
        if waiting is not None:
            waiting.payload, waiting.person_id = payload, person_id
            waiting.save(update_fields=["payload", "person", "modified_at"])
            _deliver_to(waiting, [e for e in endpoints if e.pk not in waiting.endpoint_ids], now)
            return waiting
    event = WebhookEvent.objects.create(
        organization_id=organization_id,
        type=type,
        payload=payload,
        person_id=person_id,
        customer_id=customer_id,
        coalesce_key=coalesce_key,
    )
    _deliver_to(event, endpoints, now)
    return event


def _payload(type: str, data, now: datetime) -> dict:
    """The whole body sent, as JSON stores it."""
    return json.loads(_payload_text(type, data, _timestamp(now)))


def _payload_text(type: str, data, timestamp: str) -> RawJSON:
    return RawJSON(
        json_text({"type": type, "timestamp": timestamp, "api_version": API_VERSION, "data": data})
    )


def _timestamp(now: datetime) -> str:
    """The payload's `timestamp`, as it has always been written (milliseconds, "Z")."""
    return _ENCODER.default(now)


_ENCODER = DjangoJSONEncoder()


def keep_people(organization_id, people: list) -> None:
    """Write these webhooks.personal.Person rows, each unless it is there already."""
    if people:
        EventPerson.objects.bulk_create(
            [
                EventPerson(
                    id=p.id, organization_id=organization_id, owner_id=p.owner_id, values=p.values
                )
                for p in people
            ],
            ignore_conflicts=True,
        )


def _unclaimed_event(organization_id, coalesce_key: str) -> WebhookEvent | None:
    """The newest event with this key, if no worker has claimed any of its deliveries.

    One statement: the newest event's deliveries, locked while we decide. A worker claiming
    them meanwhile skips locked rows (SKIP LOCKED), and one that claimed them first has
    committed a lease, which the lock then sees. `locked_until` is never cleared once set
    (see WebhookDelivery), so an event that was ever claimed, sent or redelivered is never
    changed again.
    """
    newest = (
        WebhookEvent.objects.filter(organization_id=organization_id, coalesce_key=coalesce_key)
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    deliveries = list(
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("event")
        .filter(event_id=Subquery(newest))
    )
    if not deliveries or any(
        d.locked_until is not None or d.status != WebhookDelivery.Status.PENDING for d in deliveries
    ):
        return None
    event = deliveries[0].event
    event.endpoint_ids = {d.endpoint_id for d in deliveries}
    return event


def _deliver_to(event, endpoints, now) -> None:
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=e, event=event, next_attempt_at=now) for e in endpoints]
    )


# --- What each change sends ------------------------------------------------------------

# Each change type (core.changes) and the webhook events it sends, all with the subject's
# payload; after those marked, the customer's state too (customer.state_changed, coalesced).
SENT: dict[str, tuple[tuple[str, ...], bool]] = {
    "customer.created": ((EventType.CUSTOMER_CREATED,), True),
    "customer.updated": ((EventType.CUSTOMER_UPDATED,), True),
    "customer.deleted": ((EventType.CUSTOMER_DELETED,), True),
    "order.created": ((EventType.ORDER_CREATED,), False),
    "order.paid": ((EventType.ORDER_PAID,), False),
    "subscription.created": (
        (EventType.SUBSCRIPTION_CREATED, EventType.SUBSCRIPTION_ACTIVE),
        True,
    ),
    "subscription.canceled": (
        (EventType.SUBSCRIPTION_UPDATED, EventType.SUBSCRIPTION_CANCELED),
        True,
    ),
    "subscription.uncanceled": (
        (EventType.SUBSCRIPTION_UPDATED, EventType.SUBSCRIPTION_UNCANCELED),
        True,
    ),
    "subscription.revoked": (
        (EventType.SUBSCRIPTION_UPDATED, EventType.SUBSCRIPTION_REVOKED),
        True,
    ),
    "subscription.renewed": ((EventType.SUBSCRIPTION_UPDATED,), True),
    "subscription.past_due": ((EventType.SUBSCRIPTION_UPDATED,), True),
    "subscription.unpaid": ((EventType.SUBSCRIPTION_UPDATED,), True),
    "checkout.created": ((EventType.CHECKOUT_CREATED,), False),
    "checkout.updated": ((EventType.CHECKOUT_UPDATED,), False),
    "checkout.completed": ((EventType.CHECKOUT_UPDATED,), False),
}


def on_changes(changes: list[Change]) -> None:
    """The webhooks' consumer of every change (registered in WebhooksConfig.ready): per
    change, the events its type sends, each with the payload its app built
    (`change.event_data`), then the customer's state where that changed. Changes made
    within `acting(webhooks=False)` send nothing."""
    sending = [c for c in changes if c.acting.webhooks and c.type in SENT]
    if len(sending) == 1:
        _on_change(sending[0])
    elif sending:
        _on_batch(sending)


def _on_change(change: Change) -> None:
    types, state = SENT[change.type]
    subject = change.subject
    endpoints = listeners(_organization_of(subject))
    data = functools.cache(change.event_data) if change.event_data else None
    kept: set = set()
    for type in types:
        record_event(
            organization_id=change.organization_id,
            type=type,
            data=data,
            customer_id=change.customer_id,
            endpoints=endpoints,
            kept=kept,
        )
    if state:
        customer_state_changed(_customer_of(change), endpoints=endpoints, kept=kept)


def _on_batch(changes: list[Change]) -> None:
    """Many changes at once (an import): all their events in one INSERT, their personal
    values in one before it and all their deliveries in another, the customers' states
    read in one query (and their customers in one more, for subjects that are not
    customers and have not loaded theirs); with the listeners cached, that many statements
    however many changes.

    Unlike the one-change path, state events are not coalesced with unclaimed ones: each
    carries the state as stored at its change, and an import writes each customer once, so
    there is nothing to fold together (and looking for it would cost a query per customer).
    They keep their coalesce key, so a later single change still folds into the newest.
    """
    from customers.models import Customer
    from orders.models import Subscription

    now = datetime.now(UTC)
    endpoints_of: dict = {}  # per organization, as listeners() gives them
    planned = []  # per change: (change, [(type, endpoints)], state endpoints, customer)
    missing_customers = set()
    for change in changes:
        types, state = SENT[change.type]
        if change.organization_id not in endpoints_of:
            endpoints_of[change.organization_id] = listeners(_organization_of(change.subject))
        listening = endpoints_of[change.organization_id]
        sends = [(t, [e for e in listening if t in e.events]) for t in types]
        sends = [(t, wanted) for t, wanted in sends if wanted]
        state_type = EventType.CUSTOMER_STATE_CHANGED
        to_state = [e for e in listening if state_type in e.events] if state else []
        customer = _customer_of(change, load=False) if to_state else None
        if to_state and customer is None:
            missing_customers.add(change.customer_id)
        if sends or to_state:
            planned.append((change, sends, to_state, customer))
    if not planned:
        return
    loaded = Customer._base_manager.in_bulk(missing_customers) if missing_customers else {}
    stated = [
        customer if customer is not None else loaded[change.customer_id]
        for change, _, to_state, customer in planned
        if to_state
    ]
    subscriptions: dict = {}
    if stated:
        active = Subscription.objects.filter(customer_id__in={c.pk for c in stated}).active()
        for subscription in active.order_by("pk"):
            subscriptions.setdefault(subscription.customer_id, []).append(subscription)

    events, deliveries = [], []
    people: dict = {}  # per organization: {person ID: Person}
    timestamp = _timestamp(now)

    def add(change, type, data, endpoints, *, customer_id, coalesce_key=""):
        event_id = uuid7()
        data, person = personal.split(type, data, customer_id)
        if person is not None:
            people.setdefault(change.organization_id, {}).setdefault(person.id, person)
        events.append(
            {
                "id": event_id,
                "organization_id": change.organization_id,
                "type": type,
                "payload": _payload_text(type, data, timestamp),
                "person_id": person.id if person is not None else None,
                "customer_id": customer_id,
                "coalesce_key": coalesce_key,
                "created_at": now,
            }
        )
        deliveries.extend(
            {"endpoint_id": e.pk, "event_id": event_id, "next_attempt_at": now, "created_at": now}
            for e in endpoints
        )

    stated_customers = iter(stated)
    for change, sends, to_state, _ in planned:
        data = functools.cache(change.event_data) if change.event_data else lambda: None
        for type, endpoints in sends:
            add(change, type, data(), endpoints, customer_id=change.customer_id)
        if to_state:
            customer = next(stated_customers)
            add(
                change,
                EventType.CUSTOMER_STATE_CHANGED,
                _customer_state_data(customer, subscriptions.get(customer.pk, [])),
                to_state,
                customer_id=customer.pk,
                coalesce_key=f"customer.state_changed:{customer.pk}",
            )
    for organization_id, kept in people.items():
        keep_people(organization_id, list(kept.values()))
    insert_rows(WebhookEvent, events)
    insert_rows(WebhookDelivery, deliveries)


def _customer_of(change: Change, *, load: bool = True):
    """The customer whose state the change moves: its subject, or the subject's customer
    (None when that is not loaded and `load` is False)."""
    subject = change.subject
    if change.type.startswith("customer."):
        return subject
    return subject.customer if load else subject._state.fields_cache.get("customer")


def customer_state_changed(customer, *, endpoints=None, kept: set | None = None) -> None:
    from orders.models import Subscription

    def data():
        subscriptions = Subscription.objects.filter(customer=customer).active()
        return _customer_state_data(customer, subscriptions.order_by("pk"))

    record_event(
        organization_id=customer.organization_id,
        type=EventType.CUSTOMER_STATE_CHANGED,
        data=data,
        customer_id=customer.pk,
        coalesce_key=f"customer.state_changed:{customer.pk}",
        endpoints=endpoints,
        kept=kept,
    )


def _customer_state_data(customer, subscriptions) -> dict:
    """The customer.state_changed payload's data: the customer with its active
    subscriptions (ordered by ID)."""
    from customers.schemas import customer_state_out

    # CustomerState's model_dump(mode="json"), as tests/webhooks/test_payload_shapes.py
    # holds it (core.encoding).
    return json_ready(customer_state_out(customer, subscriptions))
