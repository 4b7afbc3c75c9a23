"""Merging two customers of one organization: the preview (nothing written) and the merge.

The customer that stays (the *survivor*, `customer`) takes, per choice, the email, name and
billing details of either; the metadata of both (for a key both hold with different values,
the one chosen); and everything that pointed at the other (`from_customer`): orders,
subscriptions, checkouts, notes, timeline entries, its aliases and the customers merged into
it before. The other is soft-deleted with `merged_into` set, and its IDs answer for the
survivor (`CustomerAlias`).

External IDs (the lock is absolute, so the survivor's never changes):
- both have one: the survivor keeps its own; the other's stays on the merged row (so the
  unique constraint keeps it taken, by any path, racing or not) and becomes an alias;
- only the merged one has one: the survivor takes it (setting an empty external ID once is
  what the lock allows), so the merchant's ID stays the survivor's primary one; the merged
  row lets go of it in the UPDATE that deletes it, as a deletion does;
- only the survivor, or neither: nothing changes.

Refusals: a customer missing or of another organization is Customer.DoesNotExist (404), so
is a deleted one; one already merged away is MergeConflict (409, naming where it went: the
loser of two racing merges gets it), and so is a version other than the preview's; a
customer into itself is a ValidationError (422).

Both rows are locked `SELECT ... FOR UPDATE` in ID order, one lock order for every merge,
so two merges of overlapping pairs queue instead of deadlocking, and the second sees what
the first did. The moves are one UPDATE per table, whatever the number of rows.
"""

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.changes import Change, diff, record_many, same
from core.metadata import validate_metadata
from customers.models import BILLING_FIELDS, Customer, CustomerAlias, DuplicatePair
from customers.schemas import customer_event
from customers.services import _save_validated, snapshot

CUSTOMER, FROM_CUSTOMER = "customer", "from_customer"
CHOICES = (CUSTOMER, FROM_CUSTOMER)
# Chosen per group: an address is taken whole, never a mix of two.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_verified"),
    "name": ("name",),
    "billing": BILLING_FIELDS,
}
FIELD_LABELS = {
    "email": "Email",
    "email_verified": "Email verified",
    "name": "Name",
    "billing_name": "Billing name",
    "billing_address_line1": "Address line 1",
    "billing_address_line2": "Address line 2",
    "billing_address_postal_code": "Postal code",
    "billing_address_city": "City",
    "billing_address_state": "State",
    "billing_address_country": "Country",
    "tax_id": "Tax ID",
    "locale": "Locale",
}
# What moves to the survivor: (model label, its foreign key to the customer). Named, not
# imported: these apps sit above customers (pyproject's layers), and a merge moves their rows
# with one UPDATE each, which needs no more of them than their table.
MOVES: dict[str, tuple[str, str]] = {
    "orders": ("orders.Order", "customer"),
    "subscriptions": ("orders.Subscription", "customer"),
    "checkouts": ("checkouts.Checkout", "customer"),
    "notes": ("activity.Note", "customer"),
    "timeline": ("activity.Entry", "customer"),
}


class MergeConflict(Exception):
    """The merge cannot go ahead as asked (409): a customer changed since the preview, or
    was merged away meanwhile."""


@dataclass
class MergePlan:
    """Both customers, what the survivor becomes, and how much moves."""

    survivor: Customer
    merged: Customer
    choices: dict[str, str]
    metadata_choices: dict[str, str]
    result: dict[str, Any]
    result_metadata: dict
    external_id: str | None
    external_id_alias: str | None
    moves: dict[str, int] = field(default_factory=dict)

    @property
    def fields(self) -> list[dict]:
        """One row per field: both values, the result, and the group it is chosen by."""
        return [
            {
                "field": name,
                "label": FIELD_LABELS[name],
                "group": group,
                "choice": self.choices[group],
                CUSTOMER: getattr(self.survivor, name),
                FROM_CUSTOMER: getattr(self.merged, name),
                "result": self.result[name],
                "differs": not same(getattr(self.survivor, name), getattr(self.merged, name)),
            }
            for group, names in FIELD_GROUPS.items()
            for name in names
        ]

    @property
    def metadata(self) -> list[dict]:
        keys = sorted(self.survivor.metadata.keys() | self.merged.metadata.keys())
        rows = []
        for key in keys:
            mine, theirs = self.survivor.metadata.get(key), self.merged.metadata.get(key)
            both = key in self.survivor.metadata and key in self.merged.metadata
            rows.append(
                {
                    "key": key,
                    CUSTOMER: mine,
                    FROM_CUSTOMER: theirs,
                    "result": self.result_metadata[key],
                    "conflict": both and not same(mine, theirs),
                    "choice": self.metadata_choices.get(key, CUSTOMER),
                }
            )
        return rows


def merge_preview(
    *, organization, customer_id, from_customer_id, fields=None, metadata=None
) -> MergePlan:
    """What merging `from_customer_id` into `customer_id` would do, with these choices
    (defaults: the survivor's values, or the other's where the survivor has none). Reads
    only; raises as `customer_merge` would."""
    survivor, merged = _pair(organization, customer_id, from_customer_id, lock=False)
    plan = _plan(survivor, merged, fields or {}, metadata or {})
    plan.moves = _counts(merged)
    return plan


def customer_merge(
    *,
    organization,
    customer_id,
    from_customer_id,
    fields=None,
    metadata=None,
    expected_versions: dict[str, int] | None = None,
) -> MergePlan:
    """Merge `from_customer_id` into `customer_id` (see the module's docstring), in one
    transaction. `expected_versions` ({"customer": n, "from_customer": m}, as the preview
    showed them) makes a change made since a MergeConflict."""
    with transaction.atomic():
        survivor, merged = _pair(organization, customer_id, from_customer_id, lock=True)
        for role, customer in ((CUSTOMER, survivor), (FROM_CUSTOMER, merged)):
            expected = (expected_versions or {}).get(role)
            if expected is not None and expected != customer.version:
                raise MergeConflict(
                    f"{customer.display_name} changed since the preview (version "
                    f"{customer.version}, not {expected}): preview the merge again."
                )
        plan = _plan(survivor, merged, fields or {}, metadata or {})
        survivor_before, merged_before = snapshot(survivor), snapshot(merged)
        now = timezone.now()
        postgresql = connection.vendor == "postgresql"
        if postgresql:
            _set_merging(True)
        plan.moves = {
            name: _model(label)
            ._base_manager.filter(**{f"{fk}_id": merged.pk})
            .update(**{f"{fk}_id": survivor.pk})
            for name, (label, fk) in MOVES.items()
        }
        # Earlier merges follow along: their aliases and merged rows now name the survivor.
        CustomerAlias.objects.filter(customer=merged).update(customer=survivor)
        Customer._base_manager.filter(merged_into=merged).update(merged_into=survivor)
        DuplicatePair.objects.filter(Q(customer=merged) | Q(other=merged)).delete()
        aliases = [
            (CustomerAlias.Kind.ID, str(merged.pk)),
            (CustomerAlias.Kind.EXTERNAL_ID, plan.external_id_alias),
        ]
        CustomerAlias.objects.bulk_create(
            [
                CustomerAlias(
                    organization_id=organization.pk, customer=survivor, kind=kind,
                    value=value, merged_customer=merged, created_at=now,
                )
                for kind, value in aliases
                if value is not None
            ]
        )  # fmt: skip

        # The merged row first: it frees its email (and, when the survivor takes it, its
        # external ID) before the survivor's UPDATE needs them.
        merged.deleted_at, merged.merged_into = now, survivor
        merged.version += 1
        update = ["deleted_at", "merged_into", "version", "modified_at"]
        if plan.external_id_alias is None and merged.external_id is not None:
            merged.external_id = None
            update.append("external_id")
        merged.save(update_fields=update)

        for name, value in plan.result.items():
            setattr(survivor, name, value)
        survivor.metadata = plan.result_metadata
        if survivor.external_id is None:
            survivor.external_id = plan.external_id
        survivor.version += 1
        _save_validated(survivor, fields=[*plan.result, "metadata", "external_id", "version"])
        if postgresql:
            _set_merging(False)
            _refresh_figures(survivor.pk, merged.pk)
        record_many(
            [
                _survivor_change(survivor, survivor_before, merged),
                _merged_change(merged, merged_before, survivor),
            ]
        )
    return plan


# --- Helpers ----------------------------------------------------------------------------


def _model(label: str):
    return apps.get_model(label)


def _pair(organization, customer_id, from_customer_id, *, lock: bool):
    """Both customers, the survivor first; locked in ID order when `lock`."""
    if str(customer_id) == str(from_customer_id):
        raise ValidationError(
            {"from_customer_id": "A customer cannot be merged into itself."}, code="self"
        )
    rows = Customer.objects.filter(
        organization=organization, pk__in=[customer_id, from_customer_id]
    )
    if lock:
        rows = rows.select_for_update(of=("self",)).order_by("pk")
    by_id = {str(c.pk): c for c in rows.select_related("organization")}
    survivor, merged = by_id.get(str(customer_id)), by_id.get(str(from_customer_id))
    for customer in (survivor, merged):
        if customer is None:
            raise Customer.DoesNotExist("No such customer.")
        if customer.merged_into_id is not None:
            raise MergeConflict(
                f"{customer.display_name} was merged into customer {customer.merged_into_id} "
                "meanwhile: it can take part in no other merge."
            )
        if customer.is_deleted:
            raise Customer.DoesNotExist("This customer has been deleted.")
    return survivor, merged


def _plan(survivor: Customer, merged: Customer, fields: dict, metadata: dict) -> MergePlan:
    errors: dict[str, list[str]] = {}
    choices = {}
    for group, names in FIELD_GROUPS.items():
        choice = fields.get(group)
        if choice is None:
            # The survivor's, unless it has nothing there and the other has something.
            empty = all(getattr(survivor, n) in ("", None, False) for n in names)
            has = any(getattr(merged, n) not in ("", None, False) for n in names)
            choice = FROM_CUSTOMER if group != "email" and empty and has else CUSTOMER
        elif choice not in CHOICES:
            errors.setdefault(f"fields.{group}", []).append(
                f"Choose {CUSTOMER!r} or {FROM_CUSTOMER!r}."
            )
            continue
        choices[group] = choice
    for group in fields.keys() - FIELD_GROUPS.keys():
        errors.setdefault(f"fields.{group}", []).append(
            f"Not a field a merge chooses: choose among {', '.join(FIELD_GROUPS)}."
        )
    result_metadata = {**merged.metadata, **survivor.metadata}
    metadata_choices = {}
    for key, choice in metadata.items():
        if choice not in CHOICES:
            errors.setdefault(f"metadata.{key}", []).append(
                f"Choose {CUSTOMER!r} or {FROM_CUSTOMER!r}."
            )
        elif key not in result_metadata:
            errors.setdefault(f"metadata.{key}", []).append("Neither customer has this key.")
        else:
            metadata_choices[key] = choice
            source = survivor if choice == CUSTOMER else merged
            if key in source.metadata:
                result_metadata[key] = source.metadata[key]
    try:
        validate_metadata(result_metadata)
    except ValidationError as error:
        errors.setdefault("metadata", []).extend(error.messages)
    if errors:
        raise ValidationError(errors)
    result = {
        name: getattr(survivor if choices[group] == CUSTOMER else merged, name)
        for group, names in FIELD_GROUPS.items()
        for name in names
    }
    both = survivor.external_id is not None and merged.external_id is not None
    return MergePlan(
        survivor=survivor,
        merged=merged,
        choices=choices,
        metadata_choices=metadata_choices,
        result=result,
        result_metadata=result_metadata,
        external_id=survivor.external_id
        if survivor.external_id is not None
        else merged.external_id,
        external_id_alias=merged.external_id if both else None,
    )


def _counts(merged: Customer) -> dict[str, int]:
    """How many rows of each kind would move (one indexed COUNT each)."""
    return {
        name: _model(label)._base_manager.filter(**{f"{fk}_id": merged.pk}).count()
        for name, (label, fk) in MOVES.items()
    }


def _set_merging(on: bool) -> None:
    """The list figures' row triggers skip while on (migration 0015): the moved orders are
    recounted once per customer, by _refresh_figures, not once per row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('customers.merging', %s, true)", ["on" if on else "off"])


def _refresh_figures(*customer_ids) -> None:
    with connection.cursor() as cursor:
        for customer_id in sorted(customer_ids):
            cursor.execute(
                "SELECT customers_order_figures_refresh(%s), "
                "customers_subscription_figures_refresh(%s)",
                [customer_id, customer_id],
            )


def _survivor_change(survivor: Customer, before: dict, merged: Customer) -> Change:
    changes = diff(before, snapshot(survivor))
    changes["merged_from"] = [None, str(merged.pk)]
    return Change(
        type="customer.updated",
        organization_id=survivor.organization_id,
        customer_id=survivor.pk,
        subject=survivor,
        changes=dict(sorted(changes.items())),
        event_data=lambda: customer_event(survivor),
    )


def _merged_change(merged: Customer, before: dict, survivor: Customer) -> Change:
    changes = diff(before, snapshot(merged))
    changes["merged_into"] = [None, str(survivor.pk)]
    return Change(
        type="customer.deleted",
        organization_id=merged.organization_id,
        customer_id=merged.pk,
        subject=merged,
        changes=dict(sorted(changes.items())),
        # Our extension of Polar's payload: where the customer went.
        event_data=lambda: {**customer_event(merged), "merged_into": str(survivor.pk)},
    )
