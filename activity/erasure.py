"""The timeline's part in erasing a customer (core.erasure): notes deleted, the personal
values in the entries' diffs replaced by core.erasure.ERASED, and so is the actor's name
an older entry kept for a buyer or customer (newer ones store none, the timeline shows the
customer's: activity.models.PERSONAL_ACTORS); and its part in the export (the notes and
the entries). Also the entries of the erasure and the export themselves
(`privacy_entry_record`), which the organization's audit log lists with who and when.

Each scrub is one statement whatever the number of entries: the diffs are rewritten in SQL
(PostgreSQL's jsonb functions, SQLite's json1), and only the entries that hold a personal
value are written.
"""

from collections.abc import Iterator
from uuid import UUID

from django.db import models
from django.db.models import Case, F, Func, Q, TextField, Value, When
from django.db.models.functions import Cast

from activity.models import PERSONAL_ACTORS, Entry, Note
from activity.services import _entries_of
from core.bulk import insert_rows
from core.changes import Change
from core.encoding import json_text
from core.erasure import CUSTOMER_KEY, ERASED, Erasure, RawJSON, iter_batches
from customers.models import ADDRESS_PARTS

# Diff keys whose values are personal: the customer's profile (the billing country stays,
# as it does on the profile), a note's text, a checkout's buyer details, a cancellation
# comment; and every metadata key (`metadata.<key>`, `customer_metadata.<key>`).
PERSONAL_KEYS = (
    "email",
    "name",
    "billing_name",
    *(f"billing_address_{part}" for part in ADDRESS_PARTS if part != "country"),
    "tax_id",
    "locale",
    "body",
    "customer_email",
    "customer_name",
    "customer_billing_name",
    *(f"customer_billing_address_{part}" for part in ADDRESS_PARTS if part != "country"),
    "customer_tax_id",
    "customer_cancellation_comment",
)
PERSONAL_PREFIXES = ("metadata.", "customer_metadata.")
PRIVACY_TYPES = frozenset({"customer.erased", "customer.exported"})


def scrub(erasure: Erasure) -> None:
    ids = erasure.customer_ids
    Note.objects.filter(customer_id__in=ids).delete()
    # One pass over the entries: a diff with personal values, or a name kept for an actor
    # who is the person (only by entries written before such actors were stored without).
    personal = _MayHoldPersonalValues("changes")
    actor = Q(actor_type__in=PERSONAL_ACTORS) & ~Q(actor_name__in=("", ERASED))
    Entry.objects.filter(customer_id__in=ids).annotate(personal=personal).filter(
        Q(personal=True) | actor
    ).update(
        changes=Case(When(personal=True, then=_ScrubbedChanges("changes")), default=F("changes")),
        actor_name=Case(When(actor, then=Value(ERASED)), default=F("actor_name")),
    )


def privacy_entry_record(changes: list[Change]) -> None:
    """The entries of `customer.erased` and `customer.exported` (registered beside
    entry_record, which leaves these types to it)."""
    rows = [row for c in changes if c.type in PRIVACY_TYPES for row in _entries_of(c)]
    insert_rows(Entry, rows)


def notes_section(organization_id: UUID, ids: tuple) -> Iterator[dict]:
    notes = Note.objects.filter(customer_id__in=ids).values(
        "id", "customer_id", "created_at", "modified_at", "author_name", "body", "pinned"
    )
    yield from iter_batches(notes, key=CUSTOMER_KEY)


TIMELINE_FIELDS = (
    "id", "customer_id", "created_at", "type", "actor_type", "actor_name", "source", "subject_id",
)  # fmt: skip


def timeline_section(organization_id: UUID, ids: tuple) -> Iterator[RawJSON]:
    """Every entry, its diff (`changes`, last) written through as the database gives its
    text instead of being parsed and encoded again."""
    entries = Entry.objects.filter(customer_id__in=ids).values_list(
        *TIMELINE_FIELDS, Cast("changes", TextField())
    )
    for row in iter_batches(entries, key=CUSTOMER_KEY):
        head = json_text(dict(zip(TIMELINE_FIELDS, row[:-1], strict=True)))
        yield RawJSON(f'{head[:-1]},"changes":{row[-1]}}}')


def _personal_condition(connection, key: str) -> tuple[str, list]:
    """SQL true for a diff key that is personal, and its parameters."""
    listed = ", ".join(["%s"] * len(PERSONAL_KEYS))
    prefixes = " OR ".join([f"{key} LIKE %s"] * len(PERSONAL_PREFIXES))
    return (
        f"({key} IN ({listed}) OR {prefixes})",
        [*PERSONAL_KEYS, *(f"{p}%" for p in PERSONAL_PREFIXES)],
    )


class _MayHoldPersonalValues(Func):
    """True for a diff with a personal key. PostgreSQL tests the top-level keys only (an
    index lookup in the jsonb, no element read): a diff whose personal values are all
    empty or erased already is rewritten unchanged, which is cheaper than looking at every
    value of every diff twice. SQLite looks at the values."""

    output_field = models.BooleanField()

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        prefixes = " OR ".join(["k LIKE %s"] * len(PERSONAL_PREFIXES))
        sql = (
            f"({column} ?| %s::text[] OR EXISTS (SELECT 1 FROM jsonb_object_keys({column}) "
            f"AS k WHERE {prefixes}))"
        )
        return sql, [*params, list(PERSONAL_KEYS), *params, *(f"{p}%" for p in PERSONAL_PREFIXES)]

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        personal, personal_params = _personal_condition(connection, "e.key")
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({column}) AS e, json_each("
            f"CASE WHEN e.type = 'array' THEN e.value ELSE '[]' END) AS v "
            f"WHERE {personal} AND v.type != 'null' AND NOT (v.type = 'text' "
            f"AND v.value IN ('', %s)))"
        )
        return sql, [*params, *personal_params, ERASED]


class _ScrubbedChanges(Func):
    """The diff with each personal key's non-empty values replaced by ERASED."""

    output_field = models.JSONField()

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        personal, personal_params = _personal_condition(connection, "e.key")
        sql = (
            f"(SELECT coalesce(jsonb_object_agg(e.key, CASE WHEN {personal} "
            f"AND jsonb_typeof(e.value) = 'array' THEN (SELECT coalesce(jsonb_agg("
            f"CASE WHEN v.value IN ('null'::jsonb, '\"\"'::jsonb) THEN v.value "
            f"ELSE to_jsonb(%s::text) END ORDER BY v.n), '[]'::jsonb) "
            f"FROM jsonb_array_elements(e.value) WITH ORDINALITY AS v(value, n)) "
            f"ELSE e.value END), '{{}}'::jsonb) FROM jsonb_each({column}) AS e)"
        )
        return sql, [*personal_params, ERASED, *params]

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        personal, personal_params = _personal_condition(connection, "e.key")
        sql = (
            f"(SELECT json_group_object(e.key, CASE WHEN {personal} AND e.type = 'array' "
            f"THEN (SELECT json_group_array(CASE WHEN v.type = 'null' OR (v.type = 'text' "
            f"AND v.value = '') THEN v.value ELSE %s END) FROM json_each(e.value) AS v) "
            f"WHEN e.type IN ('array', 'object') THEN json(e.value) ELSE e.value END) "
            f"FROM json_each({column}) AS e)"
        )
        return sql, [*personal_params, ERASED, *params]
