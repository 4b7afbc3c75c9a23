"""The dry run: what importing a file would do to each row, with nothing written.

Rows are read in batches; each batch looks its customers up in two queries (by external
ID and by email, ignoring case) and every row is checked by the same rules as the
services: the model's field validation (`Customer.clean_fields`, `clean`: lengths,
email, country, metadata limits and types, the external-ID lock), uniqueness against the
stored customers and against the file's other rows. Nothing is saved: `Plan` says what
would be created, updated or left unchanged, and every error with its row and column.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from core.changes import diff
from core.metadata import metadata_errors
from customers.export import csv_cell_decode
from customers.models import Customer
from imports import mapping as m

MATCH_EXTERNAL_ID, MATCH_EMAIL = "external_id", "email"
UPSERT, CREATE, UPDATE = "upsert", "create", "update"
MERGE, REPLACE = "merge", "replace"
KEEP, CLEAR = "keep", "clear"
BATCH = 2_000
SHOWN_CHANGES = 200  # the preview's field-by-field diffs
FIELDS = ("email", "name", "external_id", *m.PROFILE_TARGETS, "metadata")


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
class Plan:
    counts: dict = field(
        default_factory=lambda: {"create": 0, "update": 0, "unchanged": 0, "error": 0}
    )
    changes: list = field(default_factory=list)  # (row, action, customer id, {field: [old, new]})
    errors: list[RowError] = field(default_factory=list)


def dry_run(
    organization, rows: Iterable[tuple[int, list[str]]], mappings, options: Options
) -> Plan:
    plan = Plan()
    seen = _Seen()
    batch: list[tuple[int, list[str]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            _plan_batch(organization, batch, mappings, options, plan, seen)
            batch = []
    if batch:
        _plan_batch(organization, batch, mappings, options, plan, seen)
    return plan


@dataclass
class _Seen:
    """What earlier rows of the file claimed: each customer, external ID and email once."""

    customers: dict = field(default_factory=dict)
    external_ids: dict = field(default_factory=dict)
    emails: dict = field(default_factory=dict)


def _plan_batch(organization, batch, mappings, options, plan: Plan, seen: _Seen) -> None:
    parsed = []
    for number, cells in batch:
        values, errors = _values(cells, mappings, options)
        parsed.append((number, values, [RowError(number, e.column, e.message) for e in errors]))
    external_ids = {v["external_id"] for _, v, _ in parsed if v.get("external_id")}
    emails = {v["email"].lower() for _, v, _ in parsed if v.get("email")}
    customers = Customer.objects.for_org(organization)
    by_external_id = {c.external_id: c for c in customers.filter(external_id__in=external_ids)}
    by_email = {
        c.email_lower: c
        for c in customers.annotate(email_lower=Lower("email")).filter(email_lower__in=emails)
    }
    for number, values, errors in parsed:
        if errors:
            _fail(plan, errors)
            continue
        _plan_row(organization, number, values, options, plan, seen, by_external_id, by_email)


def _plan_row(organization, number, values, options, plan, seen, by_external_id, by_email):
    external_id, email = values.get("external_id"), (values.get("email") or "").lower()
    match = None
    if options.match == MATCH_EXTERNAL_ID and external_id:
        match = by_external_id.get(external_id)
    if match is None and email:
        match = by_email.get(email)
    if match is not None and external_id and match.external_id not in (None, external_id):
        return _fail(plan, [RowError(number, "external_id", _locked_message(match))])
    if match is None and options.mode == UPDATE:
        return _fail(plan, [RowError(number, "", "No customer matches this row (update only).")])
    if match is not None and options.mode == CREATE:
        return _fail(plan, [RowError(number, "", "This customer exists already (create only).")])
    for key, claimed, column, what in (
        (match.pk if match else None, seen.customers, "", "matches the same customer as"),
        (external_id, seen.external_ids, "external_id", "sets the same external ID as"),
        (email, seen.emails, "email", "has the same email as"),
    ):
        if key and key in claimed:
            return _fail(plan, [RowError(number, column, f"This row {what} row {claimed[key]}.")])
    if match is None:
        if not email:
            return _fail(plan, [RowError(number, "email", "A new customer needs an email.")])
        customer = Customer(organization=organization, email="", metadata={})
        before: dict = {}
    else:
        customer = match
        before = {f: getattr(match, f) for f in FIELDS}
    if match is not None and email == match.email.lower():
        values = {**values, "email": match.email}  # the same address: its case is kept
    after = _apply(before, values, options, new=match is None)
    taken = by_email.get(email) if email else None
    if taken is not None and taken != match:
        return _fail(plan, [RowError(number, "email", "Another customer has this email.")])
    errors = _validate(customer, after, number)
    if errors:
        return _fail(plan, errors)
    for key, claimed in (
        (match.pk if match else None, seen.customers),
        (external_id, seen.external_ids),
        (email, seen.emails),
    ):
        if key:
            claimed[key] = number
    changes = diff(before, after)
    action = "create" if match is None else ("update" if changes else "unchanged")
    plan.counts[action] += 1
    if action != "unchanged" and len(plan.changes) < SHOWN_CHANGES:
        plan.changes.append((number, action, match.pk if match else None, changes))
    return None


def _apply(before: dict, values: dict, options: Options, *, new: bool) -> dict:
    after = (
        dict(before) if not new else {f: "" for f in FIELDS} | {"external_id": None, "metadata": {}}
    )
    for name, value in values.items():
        if name == "metadata":
            continue
        if value in ("", None) and options.blank == KEEP and not new:
            continue
        after[name] = value if value != "" or name != "external_id" else None
    metadata = values.get("metadata")
    if metadata is not None:
        stored = dict(after.get("metadata") or {})
        if options.metadata == REPLACE:
            stored = {}
        for key, value in metadata.items():
            if value is None:
                if options.blank == CLEAR or options.metadata == REPLACE:
                    stored.pop(key, None)
            else:
                stored[key] = value
        after["metadata"] = stored
    return after


def _values(cells: list[str], mappings, options) -> tuple[dict, list[RowError]]:
    """The row's cells as field values (None: a blank metadata cell), or its errors."""
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    first = last = None
    metadata: dict[str, Any] | None = None
    for mapping in mappings:
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
            errors.append(RowError(0, mapping.header, str(error)))
    if first is not None or last is not None:
        values.setdefault("name", " ".join(p for p in (first, last) if p))
    if metadata is not None:
        values["metadata"] = metadata
    if "billing_address_country" in values:
        values["billing_address_country"] = values["billing_address_country"].upper()
    return values, errors


def _validate(customer: Customer, after: dict, number: int) -> list[RowError]:
    """The model's own rules (the services' validation), on a copy: nothing is saved."""
    candidate = Customer(organization_id=customer.organization_id, **after)
    candidate.pk = customer.pk
    candidate._stored = getattr(customer, "_stored", {})
    # Metadata's errors name their key, so they are reported at its `metadata.<key>`.
    errors = [
        RowError(number, f"metadata.{key}" if key else "metadata", message)
        for key, message in metadata_errors(after.get("metadata") or {})
    ]
    try:
        candidate.clean_fields(exclude=["organization", "metadata"])
        candidate.clean()
    except ValidationError as error:
        errors += [
            RowError(number, name if name != "__all__" else "", message)
            for name, messages in error.message_dict.items()
            for message in messages
        ]
    return errors


def _locked_message(match: Customer) -> str:
    return f"The matched customer's external ID is {match.external_id!r}; it cannot change."


def _fail(plan: Plan, errors: list[RowError]) -> None:
    plan.counts["error"] += 1
    plan.errors.extend(errors)
