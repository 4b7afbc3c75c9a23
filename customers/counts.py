"""Exact customer counts for the API's `total_count`, without counting rows when a
database-kept counter can answer (see `CustomerMetadataCount`)."""

from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from customers.models import CustomerCount, CustomerMetadataCount
from customers.querysets import typed_candidates


def metadata_token(value) -> str:
    """A metadata value as the counters store it; the SQL function
    `customers_metadata_token` (migration 0004) spells it the same way. Numbers compare
    by value, as `@>` does: 3, 3.0 and 3.00 are all "n:3"."""
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, int):
        return f"n:{value}"
    if isinstance(value, float):
        number = Decimal(repr(value)).normalize()
        return "n:" + ("0" if number == 0 else format(number, "f"))
    return f"s:{value}"


def metadata_count(organization, filters: dict[str, list[str]]) -> int | None:
    """Live customers of `organization` matching a metadata filter on one key (its
    values OR-ed), read from the counters; None when they cannot answer: on SQLite, or
    for several keys, whose AND the per-value counts cannot give."""
    if connection.vendor != "postgresql" or len(filters) != 1:
        return None
    ((key, values),) = filters.items()
    tokens = {metadata_token(c) for value in values for c in typed_candidates(value)}
    total = CustomerMetadataCount.objects.filter(
        organization_id=organization.pk, key=key, value__in=tokens
    ).aggregate(total=Sum("customers"))["total"]
    return total or 0


def customer_count(organization, *, active: bool | None = None) -> int | None:
    """Live customers of `organization` (with `active`, those with or without an active
    subscription), summed from the counters PostgreSQL keeps; None on SQLite."""
    if connection.vendor != "postgresql":
        return None
    # Plain SQL: on every unfiltered list, the ORM's aggregate() took longer to build than
    # PostgreSQL takes to sum the shards.
    table = connection.ops.quote_name(CustomerCount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            # SUM of bigint is numeric (a Decimal in Python): cast back.
            f"SELECT COALESCE(SUM(live), 0)::bigint, COALESCE(SUM(active), 0)::bigint FROM {table} "
            "WHERE organization_id = %s",
            [organization.pk],
        )
        live, with_active = cursor.fetchone()
    if active is None:
        return live
    return with_active if active else live - with_active
