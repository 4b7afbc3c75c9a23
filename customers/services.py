"""Writes of customers: the only way the app changes a customer.

Each service runs in one transaction, validates in Python what needs no query, leaves the
unique and external-ID rules to the database (see `_save_validated`), and bumps
`version`, which the dashboard uses to refuse edits made on stale data.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.bulk import insert_many
from core.changes import Change, diff, record, record_many, same
from core.metadata import validate_metadata_entry
from core.prepared import PreparedQuery
from customers.models import (
    ADDRESS_PARTS,
    BILLING_FIELDS,
    DELETED_EXTERNAL_ID_KEY,
    Customer,
    CustomerAlias,
    constraint_error,
)
from customers.schemas import customer_event
from organizations.models import Organization

PROFILE_FIELDS = frozenset({"email", "email_verified", "name", *BILLING_FIELDS})
UPDATABLE_FIELDS = PROFILE_FIELDS | {"external_id", "metadata"}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class CustomerKey:
    """A live customer of an organization named by its ID or by its external ID, as an
    API call names it: the service reads and locks it in one prepared statement."""

    organization_id: UUID
    id: UUID | None = None
    external_id: str | None = None


class StaleCustomerError(Exception):
    """The customer changed since the editor loaded it; `current` holds what is stored."""

    def __init__(self, message: str, *, current: Customer):
        super().__init__(message)
        self.current = current


def customer_create(
    *,
    organization: Organization,
    email: str,
    external_id: str | None = None,
    metadata: dict | None = None,
    **profile: Any,
) -> Customer:
    """Create a customer; raise ValidationError naming the field for any broken rule."""
    _refuse_unknown_fields(profile, PROFILE_FIELDS)
    customer = Customer(
        organization=organization,
        email=email,
        external_id=external_id,
        metadata=metadata if metadata is not None else {},
        **profile,
    )
    with transaction.atomic():
        _save_validated(customer)
        _record(customer, "customer.created", before={})
    return customer


def customer_update(
    *, customer: "Customer | CustomerKey", expected_version: int | None = None, **changes: Any
) -> Customer:
    """Change some fields of a live customer and return the updated row.

    Only the fields passed change (a value equal but of another type, such as 1 for
    True in metadata, is a change). `metadata`, when passed, replaces the whole object.
    With `expected_version`, a customer changed by someone else since raises
    StaleCustomerError instead of overwriting their change. A customer that is missing,
    another organization's or deleted raises Customer.DoesNotExist.
    """
    _refuse_unknown_fields(changes, UPDATABLE_FIELDS)
    with transaction.atomic():
        current = _lock_live(customer)
        if expected_version is not None and current.version != expected_version:
            raise StaleCustomerError(
                "Someone else changed this customer while you were editing.", current=current
            )
        changed = {f: v for f, v in changes.items() if not same(getattr(current, f), v)}
        if not changed:
            return current
        before = snapshot(current)
        for field, value in changed.items():
            setattr(current, field, value)
        current.version += 1
        _save_validated(current, fields=[*changed, "version"])
        _record(current, "customer.updated", before=before)
    return current


def customer_set_metadata_key(
    *,
    customer: Customer,
    key: str,
    value: str | int | float | bool,
    expected_value: Any = UNSET,
    replaces_key: str | None = None,
) -> Customer:
    """Add or change one metadata key (optionally renaming `replaces_key` to `key`).

    `expected_value` is what the editor saw for the key being edited (UNSET for a new
    key); if the stored value differs, StaleCustomerError tells them the current one.
    """
    validate_metadata_entry(key, value)
    edited_key = replaces_key or key
    with transaction.atomic():
        current = _lock_live(customer)
        if expected_value is not UNSET:
            _check_expected_metadata(current, edited_key, expected_value)
        if key in current.metadata and (expected_value is UNSET or edited_key != key):
            raise ValidationError({"key": f"Metadata key {key!r} already exists."})
        before = snapshot(current)
        metadata = {k: v for k, v in current.metadata.items() if k != edited_key}
        metadata[key] = value
        current.metadata = metadata
        current.version += 1
        _save_validated(current, fields=["metadata", "version"])
        _record(current, "customer.updated", before=before)
    return current


def customer_remove_metadata_key(
    *, customer: Customer, key: str, expected_value: Any = UNSET
) -> Customer:
    """Remove one metadata key; removing a key that is already gone is a no-op."""
    with transaction.atomic():
        current = _lock_live(customer)
        if key not in current.metadata:
            return current
        if expected_value is not UNSET:
            _check_expected_metadata(current, key, expected_value)
        before = snapshot(current)
        current.metadata = {k: v for k, v in current.metadata.items() if k != key}
        current.version += 1
        _save_validated(current, fields=["metadata", "version"])
        _record(current, "customer.updated", before=before)
    return current


def customer_delete(*, customer: "Customer | CustomerKey", anonymize: bool = False) -> Customer:
    """Soft-delete a customer.

    The row stays for the orders that point at it, but it vanishes from every list and
    lookup. Its ongoing subscriptions are revoked; its email is free for a new customer;
    its external ID is freed too, and kept in metadata under `__external_id`.

    With `anonymize`, personal data is scrubbed as well (for erasure requests): the email
    becomes a hash, name and billing details are cleared; a business's name and tax ID
    stay, as its invoices need them.

    A customer someone else deleted meanwhile raises Customer.DoesNotExist: it is gone
    (the API answers 404), not an invalid request.
    """
    from orders.services import subscription_revoke

    with transaction.atomic():
        current = _lock_live(customer)
        before = snapshot(current)
        now = timezone.now()
        for subscription in current.subscriptions.ongoing().select_for_update():
            subscription_revoke(subscription=subscription, now=now)
        if current.external_id is not None:
            current.metadata = {**current.metadata, DELETED_EXTERNAL_ID_KEY: current.external_id}
            current.external_id = None
        if anonymize:
            _anonymize(current)
        current.deleted_at = now
        current.version += 1
        # No full_clean(): the reserved key may take metadata past 50 keys, which is fine
        # for a row no one can edit any more.
        current.save()
        _record(current, "customer.deleted", before=before)
        if anonymize:
            record(
                Change(
                    type="customer.anonymized",
                    organization_id=current.organization_id,
                    customer_id=current.pk,
                    subject=current,
                )
            )
    return current


def customers_save_many(*, created: list[Customer], updated: list[tuple[Customer, dict]]) -> None:
    """Create and update many customers of one organization in a few statements, each
    with its timeline entry and webhooks (the importer: thousands a second).

    The customers come validated by the model's own rules (`Customer.field_errors`,
    core.metadata); `updated` holds each customer read under a row lock in the caller's
    transaction with its new values set, and its changes: `diff(before, after)` of its
    `snapshot` before and after them (the importer's plan has them already). The
    database's constraints and the external-ID lock trigger refuse what raced since: the
    whole call then raises IntegrityError, rolled back to its savepoint, and the caller
    writes those customers one at a time through customer_create / customer_update to
    find which.
    """
    if not created and not updated:
        return
    with transaction.atomic():
        insert_many(Customer, created)
        now = timezone.now()
        for customer, _ in updated:
            customer.version += 1
            customer.modified_at = now
        _update_many([customer for customer, _ in updated])
        record_many(
            [_change(c, "customer.created", before={}) for c in created]
            + [_change(c, "customer.updated", changes=changes) for c, changes in updated]
        )


def _update_many(customers: list[Customer]) -> None:
    """Write SNAPSHOT_FIELDS, version and modified_at of each customer: on PostgreSQL in
    one UPDATE joined to the rows as a JSON recordset (a CASE per column and row, as
    bulk_update writes it, grows with the square of the batch)."""
    if not customers:
        return
    fields = [*SNAPSHOT_FIELDS, "version", "modified_at"]
    if connection.vendor != "postgresql":
        Customer.objects.bulk_update(customers, fields)
        return
    columns = {f: Customer._meta.get_field(f) for f in fields}
    types = {"metadata": "jsonb", "version": "integer", "modified_at": "timestamptz"}
    types |= {"email_verified": "boolean"}
    rows = [
        {"id": str(c.pk)} | {f: getattr(c, f) for f in fields if f != "modified_at"}
        for c in customers
    ]
    assignments = ", ".join(
        f'"{columns[f].column}" = v."{f}"' for f in fields if f != "modified_at"
    )
    record = ", ".join(["id uuid", *(f'"{f}" {types.get(f, "text")}' for f in fields[:-1])])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Customer._meta.db_table} AS c SET {assignments}, modified_at = %s "
            f"FROM jsonb_to_recordset(%s::jsonb) AS v({record}) WHERE c.id = v.id",
            [customers[0].modified_at, json.dumps(rows, cls=DjangoJSONEncoder)],
        )


def _anonymize(customer: Customer) -> None:
    digest = hashlib.sha256(customer.email.lower().encode()).hexdigest()[:24]
    customer.email = f"{digest}@anonymized.invalid"
    customer.email_verified = False
    if not customer.tax_id:
        customer.name = ""
    customer.billing_name = ""
    for part in ADDRESS_PARTS:
        setattr(customer, f"billing_address_{part}", "")


# The customer read and locked with its organization (for its webhooks_version), in SQL
# compiled once per process (core/prepared.py).
def _locked(lookup):
    return PreparedQuery(
        lambda p: (
            Customer.objects.filter(deleted_at=None, **lookup(p))
            .select_related("organization")
            .select_for_update(of=("self",))
        )
    )


_LOCK_BY_PK = _locked(lambda p: {"pk": p.id})
_LOCK_BY_ID = _locked(lambda p: {"organization_id": p.organization_id, "pk": p.id})
_LOCK_BY_EXTERNAL_ID = _locked(
    lambda p: {"organization_id": p.organization_id, "external_id": p.external_id}
)


def _lock_live(customer: "Customer | CustomerKey") -> Customer:
    """Read the customer under a row lock, so concurrent writers queue up: one statement,
    which also reads the organization's `webhooks_version` (see webhooks.events.listeners).
    A customer that is missing or deleted meanwhile raises Customer.DoesNotExist: it is
    gone (404), not invalid input."""
    if isinstance(customer, Customer):
        current = _LOCK_BY_PK.first(id=customer.pk)
    elif customer.external_id is not None:
        current = _LOCK_BY_EXTERNAL_ID.first(
            organization_id=customer.organization_id, external_id=customer.external_id
        )
    else:
        current = _LOCK_BY_ID.first(organization_id=customer.organization_id, id=customer.id)
    if current is None and isinstance(customer, CustomerKey):
        # An ID of a customer merged away answers for the one it was merged into.
        survivor = CustomerAlias.survivor_id(
            customer.organization_id, id=customer.id, external_id=customer.external_id
        )
        if survivor is not None:
            current = _LOCK_BY_ID.first(organization_id=customer.organization_id, id=survivor)
    if current is None:
        raise Customer.DoesNotExist("This customer has been deleted.")
    return current


# What a customer's timeline entries and diffs cover.
SNAPSHOT_FIELDS = ("email", "email_verified", "name", *BILLING_FIELDS, "external_id", "metadata")


def snapshot(customer: Customer) -> dict:
    return {field: getattr(customer, field) for field in SNAPSHOT_FIELDS}


def _record(customer: Customer, type: str, *, before: dict) -> None:
    """Report the change (timeline, webhooks) in this transaction."""
    record(_change(customer, type, before=before))


def _change(
    customer: Customer, type: str, *, before: dict | None = None, changes: dict | None = None
) -> Change:
    """The change: each field changed since `before` as [old, new], metadata per key (or
    `changes`, that diff made already). A new customer's diff names only the fields it
    was given."""
    if changes is None:
        after = snapshot(customer)
        if not before:
            after = {f: v for f, v in after.items() if v not in ("", None, {}, False)}
        changes = diff(before or {}, after)
    return Change(
        type=type,
        organization_id=customer.organization_id,
        customer_id=customer.pk,
        subject=customer,
        changes=changes,
        event_data=lambda: customer_event(customer),
    )


def _check_expected_metadata(current: Customer, key: str, expected: Any) -> None:
    stored = current.metadata.get(key, UNSET)
    # A number and its string differ, and so do True and 1: the type is part of the value.
    if stored is not UNSET and type(stored) is type(expected) and stored == expected:
        return
    shown = "removed" if stored is UNSET else f"now {stored!r}"
    raise StaleCustomerError(
        f"Someone else changed {key!r} while you were editing: it is {shown}.",
        current=current,
    )


def _save_validated(customer: Customer, fields: list[str] | None = None) -> None:
    """Validate what needs no query, then write; the database enforces the rest.

    The unique email and external ID are the database's constraints, and the external-ID
    lock is also its trigger: checking them first with SELECTs (as `full_clean()` does)
    costs a statement each and still loses a race, so their refusal is read instead and
    reported as the same field error (`constraint_error`). The organization is the
    caller's, so its existence needs no check either. The enclosing `atomic()` rolls the
    failed write back (to a savepoint when a caller's transaction surrounds it).
    """
    customer.clean_fields(exclude=["organization"])
    customer.clean()
    try:
        # An update writes the columns it changed (plus modified_at), not all twenty.
        customer.save(update_fields=None if fields is None else [*fields, "modified_at"])
    except IntegrityError as error:
        refused = constraint_error(error)
        if refused is None:
            raise
        raise refused from error


def _refuse_unknown_fields(values: dict, allowed: frozenset) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise TypeError(f"Unknown customer fields: {', '.join(unknown)}")
