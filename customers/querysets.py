"""Reads of customers. Every tenant read starts at `Customer.objects.for_org(org)`."""

import math
import re

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.fields.json import KeyTransform

METADATA_PARAM = re.compile(r"^metadata\[(.+)\]$")
INTEGER = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")

# Sort keys as the API names them, each mapped to its model field.
SORTINGS = {"created_at": "created_at", "email": "email", "name": "name"}
DEFAULT_SORTING = "-created_at"


class CustomerQuerySet(models.QuerySet):
    def for_org(self, organization) -> "CustomerQuerySet":
        """Live customers of one organization: the start of every tenant read."""
        return self.filter(organization=organization, deleted_at__isnull=True)

    def live(self) -> "CustomerQuerySet":
        return self.filter(deleted_at__isnull=True)

    def search(self, query: str) -> "CustomerQuerySet":
        """Name, email or external ID contains `query`, ignoring case."""
        query = query.strip()
        if not query:
            return self
        return self.filter(
            Q(email__icontains=query) | Q(name__icontains=query) | Q(external_id__icontains=query)
        )

    def filter_active(self, active: bool | None) -> "CustomerQuerySet":
        """Customers with (True) or without (False) an active subscription."""
        if active is None:
            return self
        from orders.models import Subscription

        exists = Exists(Subscription.objects.active().filter(customer=OuterRef("pk")))
        return self.filter(exists if active else ~exists)

    def filter_metadata(self, filters: dict[str, list]) -> "CustomerQuerySet":
        """`{key: [values]}`: values of one key are OR-ed, different keys AND-ed.

        A value from a URL is text, so "3" also matches the number 3 and "true" the
        boolean: the stored type is the merchant's, the query string has none.
        """
        queryset = self
        for index, (key, values) in enumerate(filters.items()):
            candidates = [c for value in values for c in typed_candidates(value)]
            if connection.vendor == "postgresql":
                # jsonb containment (@>) is what a GIN index on metadata serves.
                match = Q()
                for candidate in candidates:
                    match |= Q(metadata__contains={key: candidate})
                queryset = queryset.filter(match)
            else:
                # An alias keeps a key holding "__" one key (no metadata__<key> lookup).
                alias = f"metadata_filter_{index}"
                match = Q()
                for candidate in candidates:
                    match |= Q(**{alias: candidate})
                queryset = queryset.alias(**{alias: KeyTransform(key, "metadata")}).filter(match)
        return queryset

    def update(self, **kwargs) -> int:
        if "external_id" in kwargs:
            self._refuse_external_id_change(kwargs["external_id"], kwargs.get("deleted_at"))
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        objs = list(objs)
        if "external_id" in fields:
            # Checked here, before bulk_update opens its transaction: an error raised
            # inside it would leave the caller's transaction unusable.
            stored = dict(
                self.filter(pk__in=[obj.pk for obj in objs], external_id__isnull=False).values_list(
                    "pk", "external_id"
                )
            )
            if any(obj.pk in stored and obj.external_id != stored[obj.pk] for obj in objs):
                raise _external_id_locked()
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def _refuse_external_id_change(self, new_value, deleted_at) -> None:
        """Refuse an UPDATE that would change or clear any row's set external ID.

        The new value may be an expression (bulk_update sends a CASE per row), so the
        comparison runs in the database. Rows soft-deleted by this same update are exempt:
        deleting a customer frees its external ID.
        """
        if not hasattr(new_value, "resolve_expression"):
            new_value = Value(new_value, output_field=models.CharField())
        locked = self.filter(external_id__isnull=False)
        if deleted_at is not None:
            locked = locked.filter(deleted_at__isnull=False)
        changed = locked.alias(new_external_id=new_value).filter(
            Q(new_external_id__isnull=True) | ~Q(external_id=F("new_external_id"))
        )
        if changed.exists():
            raise _external_id_locked()


def mark_active_subscriptions(customers: list) -> list:
    """Set `has_active_subscription` on a page of customers with one indexed query.

    An EXISTS per row in the list query looks cheaper than it is: PostgreSQL turns it into
    a hashed subplan that reads every subscription of every customer (measured: 24 ms of
    a 24 ms first page at 200k customers), while the page only needs 50 answers.
    """
    from orders.models import Subscription

    active = set(
        Subscription.objects.active()
        .filter(customer_id__in=[c.pk for c in customers])
        .values_list("customer_id", flat=True)
    )
    for customer in customers:
        customer.has_active_subscription = customer.pk in active
    return customers


def metadata_filters(params) -> dict[str, list[str]]:
    """`metadata[key]=value` pairs from a query string; repeated keys keep every value."""
    filters: dict[str, list[str]] = {}
    for name in params:
        match = METADATA_PARAM.match(name)
        if match:
            values = [v for v in params.getlist(name) if v != ""]
            if values:
                filters[match.group(1)] = values
    return filters


def typed_candidates(value) -> list:
    if not isinstance(value, str):
        return [value]
    candidates: list = [value]
    if value in ("true", "false"):
        candidates.append(value == "true")
    # Only plain decimal notation: int("1_000") and float("inf") would be surprises.
    if INTEGER.fullmatch(value):
        candidates.append(int(value))
    elif DECIMAL.fullmatch(value) and math.isfinite(number := float(value)):
        candidates.append(number)  # "1.0e400" is inf: metadata never holds it
    return candidates


def _external_id_locked() -> ValidationError:
    from customers.models import EXTERNAL_ID_LOCKED_MESSAGE

    return ValidationError({"external_id": EXTERNAL_ID_LOCKED_MESSAGE}, code="locked")
