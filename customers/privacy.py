"""A customer's data exported and erased: what a data-subject access request and an
erasure request need (README, "Privacy: export and erase").

Export: one JSON document (`FORMAT_VERSION`), written a piece at a time so a customer with
10,000 orders costs one batch of rows in memory. The customer's own rows (profile,
metadata, orders, subscriptions) are read here; the sections the upper apps keep
(checkouts, notes, timeline, webhook events) come from what they registered with
core.erasure, so customers imports none of them.

Erase: one transaction that anonymises the profile of the customer and of every customer
merged into it, scrubs every app's rows about them (core.erasure.erase: each app's
scrubber, set-based), keeps the financial records, soft-deletes them, writes the audit
entry and sends `customer.deleted` with the erased profile.
"""

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from core import erasure
from core.changes import Change, record
from core.encoding import json_text
from customers import services
from customers.counts import metadata_token
from customers.models import (
    ADDRESS_PARTS,
    DELETED_EXTERNAL_ID_KEY,
    Customer,
    CustomerAlias,
    CustomerMetadataCount,
    DuplicatePair,
)
from customers.schemas import customer_event, customer_out
from orders.models import Order, Subscription

FORMAT_VERSION = 1
# The document's sections after the profile, in this order; a registered section not
# named here comes after them.
SECTIONS = ("orders", "subscriptions", "checkouts", "notes", "timeline", "webhook_events")
BATCH = 2000

# What erasing clears on the profile. The billing country stays (it is what tax records
# need beside the orders), and so do the dates, the version and the organization.
CLEARED_FIELDS = (
    "name",
    "billing_name",
    *(f"billing_address_{part}" for part in ADDRESS_PARTS if part != "country"),
    "tax_id",
    "locale",
)


class AlreadyErasedError(Exception):
    """The customer was erased (or deleted) already: there is nothing left to erase."""


# --- Export ------------------------------------------------------------------------------


def customer_export_pieces(*, customer: Customer) -> Iterator[str]:
    """The export of `customer` (and of the customers merged into it) as JSON text, a
    piece at a time. Reads only; `customer_export_audit` records who asked."""
    organization_id = customer.organization_id
    merged = _merged_customers(customer)
    ids = (customer.pk, *(c.pk for c in merged))
    yield "{"
    yield f'"format_version":{FORMAT_VERSION},'
    yield f'"exported_at":{json_text(timezone.now().astimezone(UTC))},'
    organization = customer.organization
    yield f'"organization":{json_text({"id": organization.pk, "name": organization.name})},'
    yield f'"customer":{json_text(_profile(customer))},'
    yield f'"merged_customers":{json_text([_profile(c) for c in merged])}'
    registered = erasure.sections()
    own = {"orders": _orders, "subscriptions": _subscriptions}
    names = [*SECTIONS, *sorted(set(registered) - set(SECTIONS))]
    for name in names:
        section = own.get(name) or registered.get(name)
        if section is None:
            continue
        yield f',"{name}":['
        first = True
        for item in section(organization_id, ids):
            text = item if isinstance(item, erasure.RawJSON) else json_text(item)
            yield text if first else "," + text
            first = False
        yield "]"
    yield "}\n"


def customer_export_audit(*, customer: Customer) -> None:
    """Put the export on the customer's timeline (and so the audit log): who, when."""
    record(
        Change(
            type="customer.exported",
            organization_id=customer.organization_id,
            customer_id=customer.pk,
            subject=customer,
        )
    )


def export_filename(customer: Customer, *, now: datetime | None = None) -> str:
    """`<org>-customer-<id>-export-<date>.json`."""
    day = (now or timezone.now()).astimezone(UTC).date().isoformat()
    return f"{customer.organization.slug}-customer-{customer.pk}-export-{day}.json"


def _profile(customer: Customer) -> dict:
    return {
        **customer_out(customer),
        "version": customer.version,
        "merged_into_id": customer.merged_into_id,
        "erased_at": customer.erased_at,
    }


def _orders(organization_id: UUID, ids: tuple) -> Iterator[dict]:
    orders = Order.objects.filter(organization_id=organization_id, customer_id__in=ids).values(
        "id", "created_at", "modified_at", "customer_id", "status", "billing_reason",
        "subtotal_amount", "discount_amount", "tax_amount", "total_amount", "refunded_amount",
        "currency", "product_id", "subscription_id", product_name=F("product__name"),
    )  # fmt: skip
    yield from erasure.iter_batches(orders, key=erasure.CUSTOMER_KEY, size=BATCH)


def _subscriptions(organization_id: UUID, ids: tuple) -> Iterator[dict]:
    subscriptions = Subscription.objects.filter(
        organization_id=organization_id, customer_id__in=ids
    ).values(
        "id", "created_at", "modified_at", "customer_id", "status", "amount", "currency",
        "recurring_interval", "current_period_start", "current_period_end",
        "cancel_at_period_end", "canceled_at", "started_at", "ends_at", "ended_at",
        "customer_cancellation_reason", "customer_cancellation_comment", "product_id",
        product_name=F("product__name"),
    )  # fmt: skip
    yield from erasure.iter_batches(subscriptions, key=erasure.CUSTOMER_KEY, size=BATCH)


# --- Erase -------------------------------------------------------------------------------


def customer_erase(
    *,
    customer: "Customer | services.CustomerKey",
    erased_by=None,
    expected_version: int | None = None,
    export_to=None,
) -> Customer:
    """Erase a live customer's personal data, irreversibly, with the customers merged
    into it, in one transaction (README, "Privacy: export and erase", lists what is
    cleared and what stays).

    With `export_to` (a binary file), the export is written to it first, in the same
    transaction under the same lock: if it cannot be produced, nothing is erased.
    `erased_by` is the dashboard user (None through the API: the token is the audit
    entry's actor). With `expected_version`, a customer changed since the page was read
    raises services.StaleCustomerError. A customer missing, deleted or erased meanwhile
    raises Customer.DoesNotExist.
    """
    with transaction.atomic():
        current = services._lock_live(customer)
        if expected_version is not None and current.version != expected_version:
            raise services.StaleCustomerError(
                "Someone changed this customer since you opened this page: download the "
                "export again before erasing.",
                current=current,
            )
        if export_to is not None:
            for piece in customer_export_pieces(customer=current):
                export_to.write(piece.encode())
            export_to.flush()
            customer_export_audit(customer=current)
        merged = _merged_customers(current, lock=True)
        everyone = [current, *merged]
        ids = tuple(c.pk for c in everyone)
        now = timezone.now()
        emails = tuple(sorted({c.email.lower() for c in everyone}))

        from orders.services import subscription_revoke  # as customer_delete does

        ongoing = Subscription.objects.filter(customer_id__in=ids).ongoing().select_for_update()
        for subscription in ongoing:
            subscription_revoke(subscription=subscription, now=now)
        Subscription.objects.filter(customer_id__in=ids).exclude(
            customer_cancellation_comment=""
        ).update(customer_cancellation_comment="")
        held = {
            (key, metadata_token(value))
            for person in everyone
            for key, value in person.metadata.items()
            if key != DELETED_EXTERNAL_ID_KEY
        }
        for person in everyone:
            _anonymise(person, now=now, erased_by=erased_by)
        _drop_emptied_counters(current.organization_id, held)
        # IDs only, no personal value; but nothing is left for them to answer for.
        CustomerAlias.objects.filter(customer_id__in=ids).delete()
        DuplicatePair.objects.filter(customer_id__in=ids).delete()
        DuplicatePair.objects.filter(other_id__in=ids).delete()

        erasure.erase(
            erasure.Erasure(
                organization_id=current.organization_id,
                customer_ids=ids,
                emails=emails,
                profiles={c.pk: customer_event(c) for c in everyone},
            )
        )
        # Recorded after the scrub, with no personal value: the audit entry and the event.
        record(
            Change(
                type="customer.erased",
                organization_id=current.organization_id,
                customer_id=current.pk,
                subject=current,
                changes={"erased_at": [None, now], "merged_customers_erased": [0, len(merged)]},
            )
        )
        record(
            Change(
                type="customer.deleted",
                organization_id=current.organization_id,
                customer_id=current.pk,
                subject=current,
                changes={"deleted_at": [None, now]},
                event_data=lambda: customer_event(current),
            )
        )
    return current


def export_then_erase(*, customer: Customer, erased_by=None, expected_version=None):
    """The export (a temporary file, at the start) and the erased customer: the export is
    produced before the erasure, in its transaction, so no export means no erasure."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    try:
        erased = customer_erase(
            customer=customer,
            erased_by=erased_by,
            expected_version=expected_version,
            export_to=spool,
        )
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, erased


def _drop_emptied_counters(organization_id, held: set) -> None:
    """The metadata counters (PostgreSQL's triggers keep them) of values no live customer
    holds any more after the erasure: a value only this customer had would stay as the
    text of a row counting zero. A value others hold too is theirs as well, and stays."""
    if not held:
        return
    pairs = Q()
    for key, value in held:
        pairs |= Q(key=key, value=value)
    counters = CustomerMetadataCount.objects.filter(pairs, organization_id=organization_id)
    emptied = Q()
    for row in counters.values("key", "value").annotate(total=Sum("customers")).filter(total=0):
        emptied |= Q(key=row["key"], value=row["value"])
    if emptied:
        counters.filter(emptied).delete()


def _merged_customers(customer: Customer, *, lock: bool = False) -> list[Customer]:
    """Every customer merged into `customer`, directly or through another one merged
    into it (merges chain), oldest first."""
    found: list[Customer] = []
    frontier = [customer.pk]
    seen = {customer.pk}
    while frontier:
        rows = Customer.objects.filter(
            organization_id=customer.organization_id, merged_into_id__in=frontier
        ).order_by("created_at", "id")
        if lock:
            rows = rows.select_for_update()
        batch = [c for c in rows if c.pk not in seen]
        seen.update(c.pk for c in batch)
        found.extend(batch)
        frontier = [c.pk for c in batch]
    return found


def _anonymise(customer: Customer, *, now, erased_by) -> None:
    """The erased profile: a placeholder email (non-deliverable, unique), the personal
    fields and the metadata cleared; the external ID freed as a deletion frees it (kept
    as metadata `__external_id`, the only key left: the merchant's ID, not personal)."""
    deleting = customer.deleted_at is None
    external_id = customer.metadata.get(DELETED_EXTERNAL_ID_KEY)
    if deleting and customer.external_id is not None:
        external_id, customer.external_id = customer.external_id, None
    customer.email = erasure.placeholder_email(customer.pk)
    customer.email_verified = False
    for name in CLEARED_FIELDS:
        setattr(customer, name, "")
    customer.metadata = {DELETED_EXTERNAL_ID_KEY: external_id} if external_id else {}
    # A customer merged away was deleted then, and keeps what its merge left (an external
    # ID still set stays: the lock allows clearing one only in the deleting UPDATE).
    if deleting:
        customer.deleted_at = now
    customer.erased_at = now
    customer.erased_by = erased_by
    customer.version += 1
    customer.save()
