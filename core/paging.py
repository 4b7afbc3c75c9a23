"""Keyset ("seek") pagination: pages cost the same at row 10 and at row 1,000,000.

A cursor names the last row shown by its sort value and id; the next page starts right
after it, using the (sort field, id) index, instead of counting past an OFFSET.
"""

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.db.models import BooleanField, F, Func, IntegerField, Q, QuerySet, Value
from django.db.models.expressions import RawSQL


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None


def keyset_page(
    queryset: QuerySet,
    *,
    field: str,
    descending: bool,
    cursor: str | None,
    limit: int,
    sort_matches_first: bool = False,
) -> Page:
    """One page of `queryset` ordered by (field, id), starting after `cursor`.

    `sort_matches_first` orders by an expression no index provides, so PostgreSQL finds
    the matching rows through the filter's own index (trigram search) and sorts just
    those, instead of walking the sort index and testing row after row: right when few
    rows match, and the matches may all sit at the far end of the sort order.
    """
    direction = "-" if descending else ""
    sort_key = _unindexed(queryset, field) if sort_matches_first else F(field)
    sort_key = sort_key.desc() if descending else sort_key.asc()
    queryset = queryset.order_by(sort_key, f"{direction}id")
    if cursor:
        value, last_id = decode_cursor(cursor, field=field, integer=_is_integer(queryset, field))
        after = "lt" if descending else "gt"
        if field in queryset.query.annotations:
            # A kept figure (lifetime revenue) has huge ties: thousands of customers share
            # a value. `(field, id) < (value, id)` is one index condition on the
            # (field, id) index, where `field <= value` would start at the top of the tie
            # and test every ID in it.
            output = _sort_output_field(queryset, field)
            queryset = queryset.filter(
                _RowCompare(
                    F(field),
                    F("id"),
                    Value(value, output_field=output),
                    Value(UUID(last_id), output_field=queryset.model._meta.pk),
                    operator="<" if descending else ">",
                )
            )
        else:
            # The redundant `field <= value` (or >=) is what PostgreSQL can start the
            # index scan from; the OR alone is applied row by row, so deep pages got
            # slower.
            queryset = queryset.filter(
                Q(**{f"{field}__{after}": value}) | Q(**{field: value, f"id__{after}": last_id}),
                **{f"{field}__{after}e": value},
            )
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return Page(rows=rows, next_cursor=None)
    last = rows[limit - 1]
    return Page(rows=rows[:limit], next_cursor=encode_cursor(getattr(last, field), last.id))


class _RowCompare(Func):
    """`(a, b) < (c, d)` (or `>`): a row comparison, which PostgreSQL's b-tree serves as
    one range on an (a, b) index. SQLite has row values too (3.15+)."""

    output_field = BooleanField()

    def __init__(self, *expressions, operator: str):
        super().__init__(*expressions)
        self.operator = operator

    def as_sql(self, compiler, connection, **extra):
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, part_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(part_params)
        a, b, c, d = parts
        return f"(({a}, {b}) {self.operator} ({c}, {d}))", params


def _sort_output_field(queryset: QuerySet, field: str):
    annotation = queryset.query.annotations.get(field)
    if annotation is not None:
        return annotation.output_field
    return queryset.model._meta.get_field(field)


def _is_integer(queryset: QuerySet, field: str) -> bool:
    return isinstance(_sort_output_field(queryset, field), IntegerField)


def _unindexed(queryset: QuerySet, field: str):
    """The same order as the column; only the planner sees a difference."""
    if field in queryset.query.annotations:  # e.g. a kept figure of the customer row
        suffix = "+ interval '0'" if field.endswith("_at") else "+ 0"
        output = _sort_output_field(queryset, field)
        return Func(F(field), template=f"(%(expressions)s {suffix})", output_field=output)
    column = f'"{queryset.model._meta.db_table}"."{field}"'
    if field.endswith("_at"):
        return RawSQL(f"({column} + interval '0')", ())
    return RawSQL(f"({column} || '')", ())


def encode_cursor(value: Any, row_id: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str, integer: bool = False) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, row_id = json.loads(raw)
        row_id = str(UUID(row_id))  # a str that is no UUID would reach the query
        if field.endswith("_at"):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise TypeError(value)
            value = value.astimezone(UTC)  # one PostgreSQL takes (year 1 to 9999 in UTC)
        elif integer:
            if type(value) is not int or abs(value) >= 2**63:  # a bool is no amount
                raise TypeError(value)
        elif not isinstance(value, str):
            raise TypeError(value)
    except (ValueError, TypeError, AttributeError, OverflowError) as error:
        raise InvalidCursor(
            "This page link is not valid; start again from the first page."
        ) from error
    return value, row_id
