"""Customers as CSV, streamed in constant memory: the API's export and the dashboard's
"Export CSV" button.

One row per customer, oldest first, with the columns of `CSV_COLUMNS`. Times are UTC
(`2026-11-24T21:52:10.968191Z`), empty text and a missing external ID are empty fields,
and `metadata` is the customer's JSON object. Lines end with `\\n`.

On PostgreSQL the server writes the CSV itself (`COPY (SELECT ...) TO STDOUT`), which is
what makes a million rows take seconds: Python only forwards the bytes in ~64 KB pieces.
SQLite has no COPY; there Python's csv module writes the same format.
"""

import csv
import json
from collections.abc import Iterator
from datetime import UTC

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Func, QuerySet, TextField, Value
from django.db.models.functions import Cast, NullIf

CSV_COLUMNS = [
    "id",
    "external_id",
    "created_at",
    "email",
    "name",
    "tax_id",
    "billing_name",
    "billing_address_line1",
    "billing_address_line2",
    "billing_address_postal_code",
    "billing_address_city",
    "billing_address_state",
    "billing_address_country",
    "metadata",
]
PIECE_BYTES = 64 * 1024
ORDER = ("created_at", "id")


def csv_pieces(customers: QuerySet, piece_bytes: int = PIECE_BYTES) -> Iterator[bytes]:
    """The CSV of `customers` (already scoped and filtered) in pieces of about
    `piece_bytes`; the header comes first, even when there is no customer."""
    if connections[customers.db].vendor == "postgresql":
        return _postgres_pieces(customers, piece_bytes)
    return _python_pieces(customers, piece_bytes)


def _postgres_pieces(customers: QuerySet, piece_bytes: int) -> Iterator[bytes]:
    text_columns = [c for c in CSV_COLUMNS if c not in ("id", "created_at", "metadata")]
    columns = {
        "id": F("id"),
        "created_at": Func(
            F("created_at"),
            template="to_char(%(expressions)s AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')',
            output_field=TextField(),
        ),
        # NULL, not '': COPY quotes an empty string ("") but leaves NULL empty.
        **{c: NullIf(F(c), Value("")) for c in text_columns},
        "metadata": Cast("metadata", TextField()),
    }
    rows = customers.order_by(*ORDER).values_list(*[columns[c] for c in CSV_COLUMNS])
    yield (",".join(CSV_COLUMNS) + "\n").encode()
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # queryset.none(): nothing to ask the database
        return
    copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
    with (
        connections[customers.db].cursor() as cursor,
        cursor.cursor.copy(copy_sql, params) as copy,
    ):
        piece, size = [], 0
        for data in copy:  # one row per message
            piece.append(data)
            size += len(data)
            if size >= piece_bytes:
                yield b"".join(piece)
                piece, size = [], 0
        if piece:
            yield b"".join(piece)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _python_pieces(customers: QuerySet, piece_bytes: int) -> Iterator[bytes]:
    writer = csv.writer(_Echo(), lineterminator="\n")
    piece, size = [writer.writerow(CSV_COLUMNS)], 0
    created_at = CSV_COLUMNS.index("created_at")
    rows = customers.order_by(*ORDER).values_list(*CSV_COLUMNS)
    for row in rows.iterator(chunk_size=5000):
        *fields, metadata = row
        fields[created_at] = fields[created_at].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = writer.writerow([*fields, json.dumps(metadata, ensure_ascii=False)])
        piece.append(line)
        size += len(line)
        if size >= piece_bytes:
            yield "".join(piece).encode()
            piece, size = [], 0
    if piece:
        yield "".join(piece).encode()
