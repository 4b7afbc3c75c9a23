"""What importing rows would do to each customer: the dry run, and the apply's first step.

Rows come in batches; each batch looks its customers up in two queries (by external ID and
by email, ignoring case) and every row is checked by the same rules as the services: the
model's field validation (`Customer.field_errors`: lengths, email, country), the metadata
limits and types (`core.metadata.metadata_errors`), the external-ID lock, uniqueness
against the stored customers and against the file's other rows (`claims`). Nothing is
saved here: each row gets an `Outcome` (create, update, unchanged or its errors), which
the dry run counts and the apply (imports.apply) writes.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Lower

from core.changes import diff
from core.lookups import AnyOf
from core.metadata import metadata_errors
from customers.export import csv_cell_decode
from customers.models import Customer
from customers.services import SNAPSHOT_FIELDS
from imports import mapping as m
from imports.claims import Claims, MemoryClaims

MATCH_EXTERNAL_ID, MATCH_EMAIL = "external_id", "email"
UPSERT, CREATE, UPDATE = "upsert", "create", "update"
MERGE, REPLACE = "merge", "replace"
KEEP, CLEAR = "keep", "clear"
SHOWN_CHANGES = 200  # the preview's field-by-field diffs
# What a row can set: the customer's timeline fields but `email_verified`.
FIELDS = tuple(f for f in SNAPSHOT_FIELDS if f != "email_verified")
_NEW = {f: "" for f in FIELDS} | {"external_id": None, "metadata": {}}
_BLANK = ("", None, {})


@dataclass(frozen=True)
class Options:
    match: str = MATCH_EXTERNAL_ID
    mode: str = UPSERT
    metadata: str = MERGE
    blank: str = KEEP


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # the file's column header, or "" for the whole row
    message: str


@dataclass
class Outcome:
    row: int
    action: str  # "create", "update", "unchanged" or "error"
    customer: Customer | None = None  # the matched customer, None for a new one
    after: dict = field(default_factory=dict)  # FIELDS as they would be stored
    changes: dict = field(default_factory=dict)  # {field: [old, new]}
    errors: list[RowError] = field(default_factory=list)


@dataclass
class Plan:
    counts: dict = field(
        default_factory=lambda: {"create": 0, "update": 0, "unchanged": 0, "error": 0}
    )
    changes: list = field(default_factory=list)  # (row, action, customer id, {field: [old, new]})
    errors: list[RowError] = field(default_factory=list)

    def add(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.counts[outcome.action] += 1
            self.errors.extend(outcome.errors)
            if outcome.action in ("create", "update") and len(self.changes) < SHOWN_CHANGES:
                customer_id = outcome.customer.pk if outcome.customer else None
                self.changes.append((outcome.row, outcome.action, customer_id, outcome.changes))


def batches(rows: Iterable, size: int | None = None) -> Iterable[list]:
    size = size or settings.IMPORT_BATCH_ROWS
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def dry_run(
    organization, rows: Iterable[tuple[int, list[str]]], mappings, options: Options
) -> Plan:
    """The plan of a whole file, held in memory (the background job keeps its claims on
    disk and its errors in the database instead; see imports.jobs)."""
    plan = Plan()
    planner = Planner(organization, mappings, options, MemoryClaims())
    for batch in batches(rows):
        plan.add(planner.plan(batch))
    return plan


class Planner:
    """Plans batches of rows of one file; `claims` remembers which customer, external ID
    and email each earlier row took, so two rows never claim one."""

    def __init__(self, organization, mappings, options: Options, claims: Claims):
        self.organization, self.mappings, self.options = organization, mappings, options
        self.claims = claims

    def plan(self, batch: list[tuple[int, list[str]]], *, lock: bool = False) -> list[Outcome]:
        """The outcome of each row of the batch, in order. With `lock`, the matched
        customers are read under a row lock (the apply, in its transaction)."""
        parsed = [(number, *self._values(number, cells)) for number, cells in batch]
        external_ids = {v["external_id"] for _, v, _ in parsed if v.get("external_id")}
        customers = Customer.objects.for_org(self.organization)
        if lock:
            customers = customers.select_for_update()
        by_external_id = (
            {c.external_id: c for c in customers.filter(AnyOf(F("external_id"), external_ids))}
            if external_ids
            else {}
        )
        # The emails to look up: a row matched by its external ID to a customer with the
        # same email needs no second look (most rows of a re-import).
        emails = set()
        for _, values, _ in parsed:
            email = (values.get("email") or "").lower()
            matched = (
                by_external_id.get(values.get("external_id"))
                if self.options.match == MATCH_EXTERNAL_ID
                else None
            )
            if email and (matched is None or matched.email.lower() != email):
                emails.add(email)
        by_email = (
            {
                c.email_lower: c
                for c in customers.annotate(email_lower=Lower("email")).filter(
                    AnyOf(F("email_lower"), emails)
                )
            }
            if emails
            else {}
        )
        self.claims.prefetch(
            [f"x:{x}" for x in external_ids]
            + [f"e:{v['email'].lower()}" for _, v, _ in parsed if v.get("email")]
            + [f"c:{c.pk}" for c in (*by_external_id.values(), *by_email.values())]
        )
        outcomes = []
        for number, values, errors in parsed:
            if errors:
                outcomes.append(Outcome(number, "error", errors=errors))
            else:
                outcomes.append(self._plan_row(number, values, by_external_id, by_email))
        self.claims.flush()
        return outcomes

    def _plan_row(self, number, values, by_external_id, by_email) -> Outcome:
        options = self.options
        external_id, email = values.get("external_id"), (values.get("email") or "").lower()

        def fail(column: str, message: str) -> Outcome:
            return Outcome(number, "error", errors=[RowError(number, column, message)])

        match = None
        if options.match == MATCH_EXTERNAL_ID and external_id:
            match = by_external_id.get(external_id)
        if match is None and email:
            match = by_email.get(email)
        if match is not None and external_id and match.external_id not in (None, external_id):
            return fail("external_id", _locked_message(match))
        # Matched by email (or new), the row may name an external ID another customer has.
        owner = by_external_id.get(external_id) if external_id else None
        if owner is not None and owner != match:
            return fail("external_id", "Another customer has this external ID.")
        if match is None and options.mode == UPDATE:
            return fail("", "No customer matches this row (update only).")
        if match is not None and options.mode == CREATE:
            return fail("", "This customer exists already (create only).")
        customer_key = f"c:{match.pk}" if match else None
        external_id_key = f"x:{external_id}" if external_id else None
        keys = [
            (customer_key, "", "matches the same customer as"),
            (external_id_key, "external_id", "sets the same external ID as"),
            (f"e:{email}" if email else None, "email", "has the same email as"),
        ]
        for key, column, what in keys:
            if key and (earlier := self.claims.get(key)) is not None:
                return fail(column, f"This row {what} row {earlier}.")
        if match is None and not email:
            return fail("email", "A new customer needs an email.")
        taken = by_email.get(email) if email else None
        if taken is not None and taken != match:
            return fail("email", "Another customer has this email.")
        before = {f: getattr(match, f) for f in FIELDS} if match else {}
        if match is not None and email == match.email.lower():
            values = {**values, "email": match.email}  # the same address: its case is kept
        after = self._after(before, values, new=match is None)
        if match is None:  # a new customer's diff names the fields it is given, as its entry
            changes = diff({}, {k: v for k, v in after.items() if v not in _BLANK})
        else:  # only the fields the row sets can differ
            changes = diff({k: before[k] for k in values}, {k: after[k] for k in values})
        errors = _errors(number, after, changes, new=match is None)
        if errors:
            return Outcome(number, "error", errors=errors)
        for key, _, _ in keys:
            if key:
                self.claims.add(key, number)
        action = "create" if match is None else ("update" if changes else "unchanged")
        return Outcome(number, action, customer=match, after=after, changes=changes)

    def _after(self, before: dict, values: dict, *, new: bool) -> dict:
        options = self.options
        after = dict(_NEW if new else before)
        for name, value in values.items():
            if name == "metadata":
                continue
            if value in ("", None) and options.blank == KEEP and not new:
                continue
            after[name] = value if value != "" or name != "external_id" else None
        metadata = values.get("metadata")
        if metadata is not None:
            stored = {} if options.metadata == REPLACE else dict(after.get("metadata") or {})
            for key, value in metadata.items():
                if value is None:
                    if options.blank == CLEAR or options.metadata == REPLACE:
                        stored.pop(key, None)
                else:
                    stored[key] = value
            after["metadata"] = stored
        return after

    def _values(self, number: int, cells: list[str]) -> tuple[dict, list[RowError]]:
        """The row's cells as field values (None: a blank metadata cell), or its errors."""
        values: dict[str, Any] = {}
        errors: list[RowError] = []
        first = last = None
        metadata: dict[str, Any] | None = None
        for mapping in self.mappings:
            if mapping.target == m.IGNORE:
                continue
            raw = cells[mapping.index] if mapping.index < len(cells) else ""
            cell = csv_cell_decode(raw)
            key = mapping.metadata_key
            try:
                if key is not None:
                    metadata = metadata or {}
                    metadata[key] = (
                        m.metadata_value(cell, mapping.metadata_type) if cell.strip() else None
                    )
                elif mapping.target == m.METADATA:
                    metadata = {**m.metadata_object(cell), **(metadata or {})}
                elif mapping.target == m.FIRST_NAME:
                    first = cell.strip()
                elif mapping.target == m.LAST_NAME:
                    last = cell.strip()
                else:
                    values[mapping.target] = cell.strip()
            except ValueError as error:
                errors.append(RowError(number, mapping.header, str(error)))
        if first is not None or last is not None:
            values.setdefault("name", " ".join(p for p in (first, last) if p))
        if metadata is not None:
            values["metadata"] = metadata
        if "billing_address_country" in values:
            values["billing_address_country"] = values["billing_address_country"].upper()
        return values, errors


def _errors(number: int, after: dict, changes: dict, *, new: bool) -> list[RowError]:
    """The model's own rules on what would change (a stored value the row leaves alone
    was valid when it was stored). Metadata's errors name their key, so they are reported
    at its `metadata.<key>`."""
    errors = []
    if new or any(name.startswith("metadata.") for name in changes):
        errors = [
            RowError(number, f"metadata.{key}" if key else "metadata", message)
            for key, message in metadata_errors(after.get("metadata") or {})
        ]
    # A blank value is valid for every field but the email (a new customer's is checked).
    names = (n for n in changes if n in after) if not new else after
    changed = {n: after[n] for n in names if after[n] not in ("", None) or n == "email"}
    for name, messages in Customer.field_errors(changed).items():
        errors += [RowError(number, name, message) for message in messages]
    return errors


def _locked_message(match: Customer) -> str:
    return f"The matched customer's external ID is {match.external_id!r}; it cannot change."
