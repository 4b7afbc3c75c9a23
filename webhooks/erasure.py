"""The webhooks' part in erasing a customer (core.erasure): the personal values of the
events that carried the customer are erased, the replies endpoints sent back (an
attempt's excerpt, which may echo the payload) are cleared. Also the export's
`webhook_events`.

Events keep their personal values apart (webhooks.personal): the customer's EventPerson
rows, and their checkouts' (a checkout's events written before it had a customer), get
the erased profile's values, a few rows however many events. Events written before
that design (no `person`) still hold the values in their payloads: those get the erased
profile where they held the customer's fields, a checkout's buyer details emptied, one
UPDATE per kind of payload that replaces the paths it has (core.erasure.JSONReplace never
creates one).

An event carries the customer when it names them (`customer_id`), or when it is a
checkout's event written before the checkout had a customer (the buyer's email and
address were in it all the same).
"""

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID

import orjson
from django.db.models import F, Max, Min, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.db.models.lookups import In

from checkouts.models import Checkout
from core.encoding import json_text
from core.erasure import (
    CUSTOMER_KEY,
    Erasure,
    JSONReplace,
    RawJSON,
    iter_batches,
    placeholder_email,
)
from webhooks import personal
from webhooks.models import EventPerson, WebhookAttempt, WebhookEvent

# An event is written in its change's transaction: within this of its checkout's times.
CHECKOUT_EVENT_MARGIN = timedelta(minutes=5)
BATCH = 2000
ID_CHUNK = 25 * BATCH


def scrub(erasure: Erasure) -> None:
    _scrub_people(erasure)
    for customer_id in erasure.customer_ids:
        profile = _profile(erasure, customer_id)
        events = WebhookEvent.objects.filter(
            organization_id=erasure.organization_id, customer_id=customer_id, person=None
        )
        for prefix in personal.PATHS:
            events.filter(type__startswith=prefix).update(
                payload=JSONReplace(F("payload"), _replacements(prefix, profile, customer_id))
            )
    pending = _buyer_checkout_events(erasure.organization_id, erasure.customer_ids)
    if pending is not None:
        for customer_id, checkout_events in pending:
            replacements = _replacements("checkout.", {}, customer_id)
            checkout_events.filter(person=None).update(
                payload=JSONReplace(F("payload"), replacements)
            )
    events = WebhookEvent.objects.filter(organization_id=erasure.organization_id).filter(
        customer_id__in=erasure.customer_ids
    )
    WebhookAttempt.objects.filter(delivery__event__in=events).exclude(response_excerpt="").update(
        response_excerpt=""
    )
    if pending is not None:
        for _, checkout_events in pending:
            WebhookAttempt.objects.filter(delivery__event__in=checkout_events).exclude(
                response_excerpt=""
            ).update(response_excerpt="")


def _scrub_people(erasure: Erasure) -> None:
    """The EventPerson rows of the customers and of their checkouts, erased."""
    organization_id, ids = erasure.organization_id, erasure.customer_ids
    people = EventPerson.objects.filter(organization_id=organization_id)
    found = list(people.filter(owner_id__in=ids))
    checkouts = Checkout.objects.filter(organization_id=organization_id, customer_id__in=ids)
    by_checkout = list(people.filter(owner_id__in=checkouts.values("pk")))
    owners = [p.owner_id for p in by_checkout]  # none: no query
    customer_of = dict(Checkout.objects.filter(pk__in=owners).values_list("pk", "customer_id"))
    for person in found + by_checkout:
        customer_id = customer_of.get(person.owner_id, person.owner_id)
        person.values = personal.erased(person.values, _profile(erasure, customer_id), customer_id)
    EventPerson.objects.bulk_update(found + by_checkout, ["values"], batch_size=500)


def _profile(erasure: Erasure, customer_id) -> dict:
    return erasure.profiles.get(customer_id) or {"email": placeholder_email(customer_id)}


def _replacements(prefix: str, profile: dict, customer_id) -> list:
    """For a payload written before personal values were kept apart: each personal path
    of its kind (in the whole body) and its erased value."""
    paths = {".".join(path): path for path in personal.PATHS[prefix]}
    erased = personal.erased(dict.fromkeys(paths), profile, customer_id)
    return [(("data", *paths[dotted]), value) for dotted, value in erased.items()]


def webhook_events_section(organization_id: UUID, ids: tuple) -> Iterator[RawJSON]:
    """Each event that carried the customer: its ID, type, time and the body sent (as
    stored, written through without parsing it again unless its personal values are put
    back: webhooks.personal), by customer, oldest first, then the checkouts' events
    written before they had a customer. A batch's IDs are read first and then their
    payloads: sorting the payloads themselves for each batch made PostgreSQL read every
    later one again (the IDs are read 50,000 at a time along the customer's index). A batch
    is encoded in a thread while the next one is read, so PostgreSQL's turning payloads
    into text and Python's putting the values back overlap."""
    patches: dict = {}  # the events' EventPerson values, by ID
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export") as pool:
        encoding = None
        batches = _id_batches(organization_id, ids)
        while True:
            batch = next(batches, None)
            if batch:
                rows = list(
                    WebhookEvent.objects.filter(pk__in=batch)
                    .annotate(payload_text=Cast("payload", TextField()))
                    .values_list(
                        "pk", "type", "created_at", "customer_id", "payload_text", "person_id"
                    )
                )
                place = {pk: n for n, pk in enumerate(batch)}
                rows.sort(key=lambda row: place[row[0]])
                wanted = {row[5] for row in rows} - patches.keys() - {None}
                people = EventPerson.objects.filter(pk__in=wanted).values_list("pk", "values")
                for pk, values in people:
                    patches[pk] = personal.Patch(values)
                used = {row[5]: patches[row[5]] for row in rows if row[5] is not None}
                following = pool.submit(_encoded_events, rows, used)
            if encoding is not None:
                yield from encoding.result()
            if not batch:
                return
            encoding = following


def _id_batches(organization_id, ids) -> Iterator[list]:
    """The IDs of the events that carried the customers, BATCH at a time: theirs along
    the (organization, customer_id, created_at) index, ID_CHUNK at a time (one range of
    the index per chunk, not per batch), then their checkouts' events without a
    customer."""
    events = WebhookEvent.objects.filter(organization_id=organization_id, customer_id__in=ids)
    rows = iter_batches(events.values_list(*CUSTOMER_KEY), key=CUSTOMER_KEY, size=ID_CHUNK)
    for batch in itertools.batched((row[2] for row in rows), BATCH):
        yield list(batch)
    for _, checkout_events in _buyer_checkout_events(organization_id, ids) or ():
        pks = checkout_events.order_by("created_at", "pk").values_list("pk", flat=True)
        for batch in itertools.batched(list(pks), BATCH):
            yield list(batch)


def _encoded_events(rows: list, patches: dict) -> list[RawJSON]:
    """The export's items of these events (rows of the section's query)."""
    items = []
    for pk, type_, created_at, customer_id, payload_text, person_id in rows:
        head = json_text(
            {"id": pk, "type": type_, "created_at": created_at, "customer_id": customer_id}
        )
        if person_id is not None:
            payload_text = json_text(patches[person_id].apply(orjson.loads(payload_text)))
        items.append(RawJSON(f'{head[:-1]},"payload":{payload_text}}}'))
    return items


def _buyer_checkout_events(organization_id, ids) -> list | None:
    """Per customer, the events of its checkouts written before the checkout had a
    customer (`customer_id` empty): found by the checkout's ID in the payload (as text: the
    column is `json`, core.fields), within the
    checkouts' times so the organization's (organization, customer_id, created_at) index
    holds the range."""
    checkouts = Checkout.objects.filter(organization_id=organization_id, customer_id__in=ids)
    spans = checkouts.values("customer_id").annotate(
        start=Min("created_at"), end=Max("modified_at")
    )
    found = []
    for span in spans:
        checkout_ids = [
            str(pk)
            for pk in checkouts.filter(customer_id=span["customer_id"]).values_list("pk", flat=True)
        ]
        found.append(
            (
                span["customer_id"],
                WebhookEvent.objects.filter(
                    organization_id=organization_id,
                    customer_id=None,
                    type__startswith="checkout.",
                    created_at__gte=span["start"] - CHECKOUT_EVENT_MARGIN,
                    created_at__lte=span["end"] + CHECKOUT_EVENT_MARGIN,
                ).filter(In(KT("payload__data__id"), checkout_ids)),
            )
        )
    return found or None
