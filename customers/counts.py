"""Exact customer counts for the API's `total_count`, without counting rows when a
database-kept counter can answer (see `CustomerMetadataCount`)."""

from datetime import UTC, datetime, timedelta
from datetime import time as day_start
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from customers.models import CustomerCount, CustomerDayCount, CustomerMetadataCount
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


# Below this offset, stepping over the index entries costs less than asking the counts.
DAY_SEEK_FROM_OFFSET = 1000


def created_day_seek(organization, *, descending: bool):
    """A `seek` for core.api.paginate over all live customers of `organization` in
    creation order (newest first when `descending`), on PostgreSQL: the kept counts per
    day (`CustomerDayCount`) say on which day the offset falls and how many customers the
    days before it hold, so the page is looked for within that day only. None on SQLite.

    The day is read in its own statement, before the page: a customer created or deleted
    meanwhile on another day moves neither the day found nor what is read from it.
    """
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(CustomerDayCount._meta.db_table)
    direction = "DESC" if descending else "ASC"
    sql = f"""
        SELECT day, upto - n FROM (
            SELECT day, n, SUM(n) OVER (ORDER BY day {direction} ROWS UNBOUNDED PRECEDING) AS upto
            FROM (
                SELECT day, SUM(customers) AS n FROM {table}
                WHERE organization_id = %s GROUP BY day
            ) days
        ) running
        WHERE upto > %s ORDER BY day {direction} LIMIT 1
    """

    def seek(queryset, offset: int):
        if offset < DAY_SEEK_FROM_OFFSET:
            return queryset, offset
        with connection.cursor() as cursor:
            cursor.execute(sql, [organization.pk, offset])
            found = cursor.fetchone()
        if found is None:  # past the end: the page is empty either way
            return queryset, offset
        day, before = found
        start = datetime.combine(day, day_start.min, tzinfo=UTC)
        if descending:
            queryset = queryset.filter(created_at__lt=start + timedelta(days=1))
        else:
            queryset = queryset.filter(created_at__gte=start)
        return queryset, offset - int(before)

    return seek
