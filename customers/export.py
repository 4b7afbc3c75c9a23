"""Customers as CSV, streamed in constant memory: the API's export and the dashboard's
"Export CSV" button.

One row per customer, oldest first, with the columns of `CSV_COLUMNS`. Times are UTC
(`2026-11-24T21:52:10.968191Z`), empty text and a missing external ID are empty fields,
and `metadata` is the customer's JSON object, as PostgreSQL prints jsonb (keys by length,
then bytes). Lines end with `\\n`.

On PostgreSQL the server writes the CSV itself (`COPY (SELECT ...) TO STDOUT`), which is
what makes a million rows take seconds: Python only forwards the bytes in ~64 KB pieces.
SQLite has no COPY; there Python's csv module writes the same format, byte for byte.

Spreadsheet formulas (CSV injection): a text cell that begins with `=`, `+`, `-`, `@`, a
tab or a carriage return would be run as a formula by Excel, LibreOffice or Sheets
(`=HYPERLINK(...)` as a customer's name), so it gets a `'` in front, as OWASP recommends.
A value that already begins with quotes and then one of those characters (`'=x`) gets one
more quote too, so `csv_cell_decode` can take exactly one quote off and give every value
back as it was. Each piece after a `;` in a cell gets the same rule, since a spreadsheet
whose list separator is `;` splits the cell there. The rule is `FORMULA_PATTERN`, applied
in SQL on PostgreSQL and in Python on SQLite: the same bytes on both.
"""

import csv
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Case, F, Func, IntegerField, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, Concat, NullIf, StrIndex
from django.db.models.lookups import GreaterThan, In, Regex

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
# Text columns: every one but the ID (a UUID) and the time (digits). Metadata is a JSON
# object, so its text starts with "{"; it goes through the same rule all the same.
TEXT_COLUMNS = [c for c in CSV_COLUMNS if c not in ("id", "created_at")]
PIECE_BYTES = 64 * 1024
ORDER = ("created_at", "id")

# Quotes (none or more) and then a character that makes a spreadsheet read a formula, at
# the start of the cell. The same pattern for Python's re (`match` anchors it) and
# PostgreSQL's regular expressions (with a `^`); the tab and carriage return are the
# characters themselves, not escapes.
FORMULA_PATTERN = "'*[-=+@\t\r]"
_FORMULA = re.compile(FORMULA_PATTERN)
# Where the list separator is `;` (German, French, Dutch... Excel), a spreadsheet opening a
# .csv splits each line at `;` too, so what follows a `;` inside one of our cells starts a
# cell of its own (`Ada;=cmd|' /C calc'!A0`): each such piece gets the same rule.
_FORMULA_AFTER_SEMICOLON = re.compile(f";(?={FORMULA_PATTERN})")
_QUOTED_AFTER_SEMICOLON = re.compile(f";'(?={FORMULA_PATTERN})")


def csv_cell_encode(value: str) -> str:
    """The text of a CSV cell that no spreadsheet runs as a formula: `value` with a `'` in
    front when it begins with `=`, `+`, `-`, `@`, tab or carriage return, or with quotes
    followed by one of them (`'=x` becomes `''=x`); and so is each piece after a `;`
    (`x;=y` becomes `x;'=y`). Everything else is left as it is."""
    if ";" in value:
        value = _FORMULA_AFTER_SEMICOLON.sub(";'", value)
    return "'" + value if _FORMULA.match(value) else value


def csv_cell_decode(value: str) -> str:
    """The original value of a cell written by `csv_cell_encode` (for importing our own
    export): one leading `'` is taken off when what follows it would have been quoted, and
    so is one after each `;`."""
    if ";'" in value:
        value = _QUOTED_AFTER_SEMICOLON.sub(";", value)
    if value.startswith("'") and _FORMULA.match(value, 1):
        return value[1:]
    return value


# The characters a cell to quote can begin with: the triggers, and the quote itself.
_FIRST_CHARACTERS = [ord(c) for c in "=+-@\t\r'"]


def _csv_cell_encode_sql(expression):
    """`csv_cell_encode` in SQL (PostgreSQL), so COPY writes the same bytes. The regular
    expressions run only on the rare cell whose first character could need it, or that
    holds a `;`: run on every cell, one made the COPY about three times slower."""
    expression = Case(
        When(
            GreaterThan(StrIndex(expression, Value(";")), 0),
            then=Func(
                expression,
                Value(f";({FORMULA_PATTERN})"),
                Value(";'\\1"),
                Value("g"),
                function="regexp_replace",
                output_field=TextField(),
            ),
        ),
        default=expression,
        output_field=TextField(),
    )
    quoted = Case(
        When(Regex(expression, "^" + FORMULA_PATTERN), then=Concat(Value("'"), expression)),
        default=expression,
        output_field=TextField(),
    )
    first = Func(expression, function="ascii", output_field=IntegerField())
    return Case(
        When(In(first, _FIRST_CHARACTERS), then=quoted),
        default=expression,
        output_field=TextField(),
    )


def csv_pieces(customers: QuerySet, piece_bytes: int = PIECE_BYTES) -> Iterator[bytes]:
    """The CSV of `customers` (already scoped and filtered) in pieces of about
    `piece_bytes`; the header comes first, even when there is no customer."""
    if connections[customers.db].vendor == "postgresql":
        return _postgres_pieces(customers, piece_bytes)
    return _python_pieces(customers, piece_bytes)


def _postgres_pieces(customers: QuerySet, piece_bytes: int) -> Iterator[bytes]:
    # NULL, not '': COPY quotes an empty string ("") but leaves NULL empty.
    text = {c: NullIf(F(c), Value("")) for c in TEXT_COLUMNS}
    text["metadata"] = Cast("metadata", TextField())
    columns = {
        "id": F("id"),
        "created_at": Func(
            F("created_at"),
            template="to_char(%(expressions)s AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')',
            output_field=TextField(),
        ),
        **{c: _csv_cell_encode_sql(expression) for c, expression in text.items()},
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


def _jsonb_text(metadata: dict) -> str:
    """The metadata object as PostgreSQL prints jsonb, so both databases export the same
    bytes: keys by length in bytes, then by bytes; floats as `numeric` prints them (no
    exponent, no negative zero). Metadata is flat; anything nested is printed by json."""
    if not isinstance(metadata, dict):
        return json.dumps(metadata, ensure_ascii=False)
    items = sorted(metadata.items(), key=lambda item: (len(item[0].encode()), item[0].encode()))
    pairs = (f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_value_text(v)}" for k, v in items)
    return "{" + ", ".join(pairs) + "}"


def _jsonb_value_text(value) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return format(Decimal(repr(value or 0.0)), "f")  # `or`: -0.0 is 0.0 in numeric
    return json.dumps(value, ensure_ascii=False)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _python_pieces(customers: QuerySet, piece_bytes: int) -> Iterator[bytes]:
    writer = csv.writer(_Echo(), lineterminator="\n")
    piece, size = [writer.writerow(CSV_COLUMNS)], 0
    created_at = CSV_COLUMNS.index("created_at")
    text = [CSV_COLUMNS.index(c) for c in TEXT_COLUMNS]
    rows = customers.order_by(*ORDER).values_list(*CSV_COLUMNS)
    for row in rows.iterator(chunk_size=5000):
        *fields, metadata = row
        fields[created_at] = fields[created_at].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        fields.append(_jsonb_text(metadata))
        for i in text:
            if fields[i]:  # None (no external ID) and "" stay empty
                fields[i] = csv_cell_encode(fields[i])
        line = writer.writerow(fields)
        piece.append(line)
        size += len(line)
        if size >= piece_bytes:
            yield "".join(piece).encode()
            piece, size = [], 0
    if piece:
        yield "".join(piece).encode()
