"""The webhooks' part in erasing a customer (core.erasure): the payloads of the events
that carried the customer get the erased profile where they held the customer's fields,
and a checkout's buyer details emptied; the replies endpoints sent back (an attempt's
excerpt, which may echo the payload) are cleared. Also the export's `webhook_events`.

An event carries the customer when it names them (`customer_id`), or when it is a
checkout's event written before the checkout had a customer (the buyer's email and
address were in it all the same). Each kind of payload is one UPDATE that replaces the
paths it has (core.erasure.JSONReplace never creates one), so however many events, a few
statements per customer.
"""

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

from django.db.models import F, Max, Min, Q, TextField
from django.db.models.functions import Cast

from checkouts.models import Checkout
from core.encoding import json_text
from core.erasure import Erasure, JSONReplace, RawJSON, placeholder_email
from webhooks.models import WebhookAttempt, WebhookEvent

# The customer's fields in its API shape that are personal (external_id is the merchant's
# ID and stays, as on the erased profile's `__external_id`).
PROFILE_KEYS = ("email", "email_verified", "name", "billing_name", "billing_address")
PROFILE_KEYS += ("tax_id", "locale", "metadata")
# An event is written in its change's transaction: within this of its checkout's times.
CHECKOUT_EVENT_MARGIN = timedelta(minutes=5)
BATCH = 2000


def scrub(erasure: Erasure) -> None:
    for customer_id in erasure.customer_ids:
        profile = erasure.profiles.get(customer_id) or {"email": placeholder_email(customer_id)}
        fields = [(key, profile.get(key)) for key in PROFILE_KEYS]
        events = WebhookEvent.objects.filter(
            organization_id=erasure.organization_id, customer_id=customer_id
        )
        by_kind = {
            "customer.": [((key,), value) for key, value in fields],
            "order.": [(("customer", key), value) for key, value in fields]
            + [(("billing_name",), None), (("billing_address",), profile.get("billing_address"))],
            "subscription.": [(("customer", key), value) for key, value in fields]
            + [(("customer_cancellation_comment",), None)],
            "checkout.": _checkout_paths(customer_id),
        }
        for prefix, paths in by_kind.items():
            replacements = [(("data", *path), value) for path, value in paths]
            events.filter(type__startswith=prefix).update(
                payload=JSONReplace(F("payload"), replacements)
            )
    pending = _buyer_checkout_events(erasure.organization_id, erasure.customer_ids)
    if pending is not None:
        for customer_id, checkout_events in pending:
            replacements = [(("data", *p), v) for p, v in _checkout_paths(customer_id)]
            checkout_events.update(payload=JSONReplace(F("payload"), replacements))
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


def webhook_events_section(organization_id: UUID, ids: tuple) -> Iterator[RawJSON]:
    """Each event that carried the customer: its ID, type, time and the body sent (as
    stored, written through without parsing it again). A batch's IDs are read first and
    then their payloads: sorting the payloads themselves for each batch made PostgreSQL
    read every later one again."""
    condition = Q(customer_id__in=ids)
    for _, checkout_events in _buyer_checkout_events(organization_id, ids) or ():
        condition |= Q(pk__in=checkout_events.values("pk"))
    events = WebhookEvent.objects.filter(organization_id=organization_id).filter(condition)
    batch_ids = events.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        batch = list((batch_ids if last is None else batch_ids.filter(pk__gt=last))[:BATCH])
        if not batch:
            return
        rows = (
            WebhookEvent.objects.filter(pk__in=batch)
            .order_by("pk")
            .annotate(payload_text=Cast("payload", TextField()))
            .values_list("pk", "type", "created_at", "customer_id", "payload_text")
        )
        for pk, type_, created_at, customer_id, payload_text in rows:
            head = json_text(
                {"id": pk, "type": type_, "created_at": created_at, "customer_id": customer_id}
            )
            yield RawJSON(f'{head[:-1]},"payload":{payload_text}}}')
        last = batch[-1]


def _checkout_paths(customer_id) -> list:
    return [
        (("customer_email",), placeholder_email(customer_id)),
        (("customer_name",), None),
        (("customer_billing_name",), None),
        (("customer_billing_address",), None),
        (("customer_tax_id",), None),
        (("customer_metadata",), {}),
    ]


def _buyer_checkout_events(organization_id, ids) -> list | None:
    """Per customer, the events of its checkouts written before the checkout had a
    customer (`customer_id` empty): found by the checkout's ID in the payload, within the
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
                    payload__data__id__in=checkout_ids,
                ),
            )
        )
    return found or None
