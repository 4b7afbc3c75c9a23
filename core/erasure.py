"""Erasing a customer's personal data, and exporting it first, across every app's tables.

The ground floor, like core.changes: this module imports no app. The customers service
(customers.privacy) owns the customer's profile; the rows about a customer that upper apps
keep (timeline entries and notes, webhook events, checkouts, portal sessions) are theirs
to scrub and to export. Each app registers a scrubber (`register`) and, for the export, a
section (`register_section`) in its `AppConfig.ready()`; the service calls `erase()` in
its own transaction, so a scrubber that fails rolls the whole erasure back and nothing is
left half-erased.

Scrubbers work set-based (an UPDATE or DELETE per table, whatever the number of rows): a
customer with 10,000 orders is erased in a few statements. What core itself keeps about a
customer (stored API replies, emails in the outbox) is scrubbed here, first.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import Func, Value
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.db.models.functions import Lower

# What replaces a personal value that has to stay in a row's shape (a diff's old or new
# value, a payload's field).
ERASED = "[erased]"
# Non-deliverable (RFC 6761 reserves .invalid), and unique: the customer's own ID.
PLACEHOLDER_DOMAIN = "erased.invalid"
# How the export's sections are read (iter_batches) and so ordered: by customer, oldest
# first, along the customer's index of each table.
CUSTOMER_KEY = ("customer_id", "created_at", "id")


class RawJSON(str):
    """An export item already encoded as JSON text (a stored payload): written as it is."""


def placeholder_email(customer_id: UUID) -> str:
    return f"erased-{customer_id}@{PLACEHOLDER_DOMAIN}"


@dataclass(frozen=True)
class Erasure:
    """The customers being erased together (one and those merged into it), of one
    organization: their IDs, the emails they had when erased (lowercased, to find what
    was keyed by email: sign-in codes, emails sent) and the erased profile each now has
    (`profiles[id]`: their JSON as the API shapes it, for payloads that carry a customer)."""

    organization_id: UUID
    customer_ids: tuple[UUID, ...]
    emails: tuple[str, ...] = ()
    profiles: dict[UUID, dict] = field(default_factory=dict)


Scrubber = Callable[[Erasure], None]
# A section of the export: the organization ID and the customer IDs in, JSON-ready items out
# (a generator, read a batch at a time).
Section = Callable[[UUID, tuple[UUID, ...]], Iterable[Any]]

_scrubbers: list[Scrubber] = []
_sections: dict[str, Section] = {}


def register(scrubber: Scrubber) -> None:
    """Add a scrubber (once: registering it again does nothing)."""
    if scrubber not in _scrubbers:
        _scrubbers.append(scrubber)


def register_section(name: str, section: Section) -> None:
    """Add (or replace) the export's section `name`."""
    _sections[name] = section


def sections() -> dict[str, Section]:
    """The registered export sections, by name."""
    return dict(_sections)


def erase(erasure: Erasure) -> None:
    """Scrub everything about the customers, in the caller's transaction: core's own rows
    first, then each registered scrubber in turn."""
    _scrub_core(erasure)
    for scrubber in _scrubbers:
        scrubber(erasure)


def _scrub_core(erasure: Erasure) -> None:
    from core.models import IdempotencyKey, OutgoingEmail

    if erasure.emails:
        # Receipts, sign-in codes and portal links sent to the customer: their text is
        # about them, and one still pending must not go out.
        OutgoingEmail.objects.annotate(to_lower=Lower("to")).filter(
            organization_id=erasure.organization_id, to_lower__in=erasure.emails
        ).delete()
    # A stored API reply naming the customer (its ID, or its email: a create's reply) is
    # replaced by a 410, so a retry with the same key neither replays the old body nor
    # runs the request again.
    needles = [str(pk) for pk in erasure.customer_ids] + list(erasure.emails)
    rows = IdempotencyKey.objects.filter(organization_id=erasure.organization_id)
    condition = Q()
    for index, needle in enumerate(needles):
        rows = rows.annotate(**{f"names_{index}": BytesContain("response_body", needle)})
        condition |= Q(**{f"names_{index}": True})
    if needles:
        rows.filter(condition).update(status_code=410, response_body=GONE_BODY)


GONE_BODY = (
    b'{"error": "ResourceGone", "detail": "This reply named a customer whose data was erased."}'
)


class BytesContain(Func):
    """True when a binary column holds `needle`'s UTF-8 bytes (case-insensitively for
    ASCII letters: an email is stored as typed)."""

    output_field = models.BooleanField()

    def __init__(self, expression, needle: str):
        super().__init__(expression, Value(needle.lower()))

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        needle, needle_params = compiler.compile(self.source_expressions[1])
        sql = f"(strpos(lower(convert_from({column}, 'UTF8')), {needle}) > 0)"
        return sql, [*params, *needle_params]

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        needle, needle_params = compiler.compile(self.source_expressions[1])
        return f"(instr(lower(CAST({column} AS TEXT)), {needle}) > 0)", [*params, *needle_params]


# --- JSON helpers the scrubbers share ------------------------------------------------------


class JSONReplace(Func):
    """`expression` with the value at each `path` (a tuple of keys) replaced by a JSON
    value. On SQLite a path the document lacks is left out (json_replace). On PostgreSQL
    the values are merged in level by level (`||`): the document is read once (detoasted
    in a sub-select) and rewritten once per level, where ten jsonb_set calls rewrote a
    3 KB payload ten times; a key missing from an object that exists is added there. A
    `json` column (core.fields.TextJSONField) is read as jsonb and takes the result back by
    assignment."""

    output_field = models.JSONField()

    def __init__(self, expression, replacements: list[tuple[tuple[str, ...], Any]]):
        super().__init__(expression)
        self.replacements = replacements

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        tree: dict = {}
        for path, value in self.replacements:
            node = tree
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = _Leaf(value)
        merged, merged_params = _merged("d", tree)
        return (
            f"(SELECT {merged} FROM (SELECT ({sql})::jsonb || '{{}}'::jsonb AS d OFFSET 0) "
            "AS detoasted)",
            [*merged_params, *params],
        )

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        params = list(params)
        for path, value in self.replacements:
            sql = f"json_replace({sql}, %s, json(%s))"
            params += ["$." + ".".join(f'"{key}"' for key in path), json.dumps(value)]
        return sql, params


@dataclass(frozen=True)
class _Leaf:
    value: Any


def _merged(ref: str, tree: dict) -> tuple[str, list]:
    """PostgreSQL: the object `ref` (SQL without parameters) with `tree` merged in."""
    leaves = {k: v.value for k, v in tree.items() if isinstance(v, _Leaf)}
    sql, params = ref, []
    if leaves:
        sql, params = f"{sql} || %s::jsonb", [json.dumps(leaves)]
    for key, subtree in tree.items():
        if isinstance(subtree, _Leaf):
            continue
        inner, inner_params = _merged(f"({ref} -> {_literal(key)})", subtree)
        sql = f"{sql} || jsonb_build_object({_literal(key)}, {inner})"
        params += inner_params
    return f"({sql})", params


def _literal(key: str) -> str:
    """A JSON key as an SQL string literal (keys are our own names: letters and _)."""
    if not key.replace("_", "").isalnum():
        raise ValueError(f"Unexpected JSON key {key!r}")
    return f"'{key}'"


def iter_batches(queryset, *, key: tuple[str, ...] = ("id",), size: int = 2000) -> Iterator:
    """The rows of `queryset` a batch at a time, along `key` (no cursor kept open between
    batches, memory bounded by one batch): each batch is the next `size` rows after the
    last one's key, `(k1, k2, …) > (v1, v2, …)`. `key` is the columns of an index that
    leads to the rows (unique together: it ends with "id"), such as ("customer_id",
    "created_at", "id"): read along it, a batch is a range of that index. Ordered by the
    primary key instead, PostgreSQL sometimes judged a customer's 30,000 rows of a big
    table common enough to walk the whole primary key for them (0.8 s warm, 30 s cold, for
    a batch that takes 40 ms from the customer's index). A `.values()` queryset must
    include the key's fields, a `.values_list()` one too."""
    columns = Tuple(*(F(name) for name in key))
    ordered = queryset.order_by(*key)
    places = [queryset._fields.index(name) for name in key] if queryset._fields else ()
    last = None
    while True:
        page = ordered if last is None else ordered.filter(TupleGreaterThan(columns, last))
        rows = list(page[:size])
        yield from rows
        if len(rows) < size:
            return
        row = rows[-1]
        if isinstance(row, dict):
            last = tuple(row[name] for name in key)
        elif isinstance(row, tuple):
            last = tuple(row[place] for place in places)
        else:
            last = tuple(getattr(row, name) for name in key)
