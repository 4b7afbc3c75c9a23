"""A webhook payload's personal values, kept apart from it (README, "Privacy: export and
erase"): what lets an erasure rewrite a few rows instead of every event a customer had.

An event that carries a person's values (a customer's profile, an order's billing details,
a checkout's buyer) stores its payload with each of them as null, and the values in an
EventPerson row: one per owner (the customer; for a checkout's events, the checkout) and
distinct set of values, shared by every event that carried the same ones. A customer with
10,000 orders has 20,000 order events and, unless their profile changed, one EventPerson.

What is sent, listed and exported is the payload with the values put back at their paths
(`document`): the same JSON, key for key and in the same order, as before they were kept
apart. Erasing a customer rewrites their EventPerson rows (webhooks.erasure), so every
event they carried reads erased at once.

This module has the rules (which paths, the split, the assembly) and no model: models and
writers import it.
"""

import uuid
from typing import Any

from core.encoding import json_ready, json_text
from core.erasure import placeholder_email

# The customer's fields in its API shape that are personal (external_id is the merchant's
# ID and stays, as on the erased profile's `__external_id`).
PROFILE_KEYS = ("email", "email_verified", "name", "billing_name", "billing_address")
PROFILE_KEYS += ("tax_id", "locale", "metadata")
# A checkout's buyer details.
CHECKOUT_KEYS = ("customer_email", "customer_name", "customer_billing_name")
CHECKOUT_KEYS += ("customer_billing_address", "customer_tax_id", "customer_metadata")

# Per kind of event (its type's prefix), the paths in its `data` that hold personal values:
# a key of `data`, or of one object within it (split and Patch go no deeper).
PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "customer.": tuple((key,) for key in PROFILE_KEYS),
    "order.": (
        *(("customer", key) for key in PROFILE_KEYS),
        ("billing_name",),
        ("billing_address",),
    ),
    "subscription.": (
        *(("customer", key) for key in PROFILE_KEYS),
        ("customer_cancellation_comment",),
    ),
    "checkout.": tuple((key,) for key in CHECKOUT_KEYS),
}


def paths_of(type: str) -> tuple[tuple[str, ...], ...]:
    prefix = type.split(".", 1)[0] + "."
    return PATHS.get(prefix, ())


def owner_of(type: str, data, customer_id) -> uuid.UUID | None:
    """Whose values an event carries: its customer, else (a checkout's event written
    before the checkout had a customer) the checkout; None when neither is known."""
    if customer_id is not None:
        return customer_id if isinstance(customer_id, uuid.UUID) else uuid.UUID(str(customer_id))
    if type.startswith("checkout.") and isinstance(data, dict) and data.get("id"):
        try:
            return uuid.UUID(str(data["id"]))
        except ValueError:
            return None
    return None


class Person:
    """The values an event keeps apart: `values` maps each path (dotted, within `data`)
    to its value; `id` is derived from the owner and the values, so the events that carry
    the same ones share a row."""

    __slots__ = ("id", "owner_id", "values")

    def __init__(self, owner_id: uuid.UUID, values: dict[str, Any]):
        self.owner_id = owner_id
        self.values = json_ready(values)
        self.id = uuid.uuid5(owner_id, json_text(self.values))


def split(type: str, data, customer_id) -> tuple[Any, Person | None]:
    """`data` with its personal values as null, and those values (None when it carries
    none, or has no owner to keep them under). `data` itself is not changed: the parts
    that differ are copies."""
    paths = paths_of(type)
    owner = owner_of(type, data, customer_id) if paths else None
    if owner is None or not isinstance(data, dict):
        return data, None
    stored = dict(data)
    values: dict[str, Any] = {}
    for *parents, key in paths:
        node = stored
        if parents:  # a key of an object within `data` (`customer`), copied once
            (name,) = parents
            node = stored.get(name)
            if not isinstance(node, dict):
                continue
            if node is data.get(name):
                node = stored[name] = dict(node)
        if key in node:
            values[".".join((*parents, key))] = node[key]
            node[key] = None
    if not values:
        return data, None
    return stored, Person(owner, values)


def document(payload: dict, values: dict[str, Any] | None) -> dict:
    """The whole body as sent: the stored `payload` ({"type", ..., "data"}) with `values`
    (an EventPerson's) put back in its `data`, each at its place."""
    if not values:
        return payload
    return Patch(values).apply(payload)


class Patch:
    """An EventPerson's values arranged to be put back (`apply`) into many payloads fast:
    the ones of `data` itself, and per object within it (`customer`), its own."""

    __slots__ = ("nested", "top")

    def __init__(self, values: dict[str, Any]):
        self.top: dict[str, Any] = {}
        self.nested: dict[str, dict[str, Any]] = {}
        for dotted, value in values.items():
            parent, _, key = dotted.rpartition(".")
            if not parent:
                self.top[key] = value
            elif "." not in parent:
                self.nested.setdefault(parent, {})[key] = value
            else:  # deeper than any kind's paths: not written by split()
                raise ValueError(f"Unexpected path {dotted!r}")

    def apply(self, payload: dict) -> dict:
        data = payload.get("data")
        if not isinstance(data, dict):
            return payload
        data = {**data, **self.top}
        for name, values in self.nested.items():
            inner = data.get(name)
            if isinstance(inner, dict):
                data[name] = {**inner, **values}
        return {**payload, "data": data}


def erased(values: dict[str, Any], profile: dict, customer_id) -> dict[str, Any]:
    """An EventPerson's `values` once its customer is erased: the erased `profile`'s value
    for each of the customer's fields (their API shape, core.erasure's placeholder email;
    an order's billing name and address take the profile's too), a checkout's buyer
    details emptied, anything else personal (a cancellation comment) null."""
    checkout = {
        "customer_email": placeholder_email(customer_id),
        "customer_metadata": {},
    }
    out = {}
    for dotted in values:
        key = dotted.rsplit(".", 1)[-1]
        if key in CHECKOUT_KEYS:
            out[dotted] = checkout.get(key)
        elif key in PROFILE_KEYS:
            out[dotted] = profile.get(key)
        else:
            out[dotted] = None
    return out
