"""Inserting many new rows at once: COPY on PostgreSQL.

`bulk_create` on PostgreSQL sends each column as an array (INSERT ... SELECT UNNEST(...)),
which psycopg escapes element by element in Python: for an import's batch (thousands of
customers, their timeline entries and webhook events), most of the insert's time. COPY
sends the rows as psycopg writes them, in C. Row triggers, constraints and defaults apply
to COPY as to an INSERT, and the statement is recorded with the connection's queries, so
pinned statement counts still see it.

Two doors: `insert_many` takes model instances (what the caller goes on using, such as an
import's new customers); `insert_rows` takes each row as a dict of field values (what is
written and never used again: timeline entries, webhook events and deliveries), which
spares the model's construction, most of the time of a row written by COPY. Fields a row
leaves out get the model's defaults, as a model instance would.

Below COPY_MIN_ROWS rows, and on SQLite, `bulk_create` is as fast and is used.
"""

import json
import time
from collections.abc import Iterable

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

COPY_MIN_ROWS = 100


class RawJSON(str):
    """A JSON field's value already encoded (a webhook's payload): written as it is."""


def insert_many(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert these new, unsaved rows (their primary keys already set, as UUIDs are)."""
    if len(objs) < COPY_MIN_ROWS or connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    fields = model._meta.concrete_fields
    now = timezone.now()
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                setattr(obj, field.attname, now)
    attnames = [field.attname for field in fields]
    _copy(model, fields, ([getattr(obj, a) for a in attnames] for obj in objs), len(objs))
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def insert_rows(model: type[models.Model], rows: list[dict]) -> None:
    """Insert these rows, each a dict of field values by attname (`organization_id`); a
    field left out takes its default (a new UUID, now for the timestamps, ...)."""
    if not rows:
        return
    if len(rows) < COPY_MIN_ROWS or connection.vendor != "postgresql":
        model.objects.bulk_create(
            model(**{a: json.loads(v) if isinstance(v, RawJSON) else v for a, v in row.items()})
            for row in rows
        )
        return
    fields = model._meta.concrete_fields
    now = timezone.now()
    defaults = []  # per field: (attname, a constant, or a callable for each row)
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults.append((field.attname, now, False))
        elif field.has_default():
            default = field.default
            defaults.append((field.attname, default, callable(default)))
        else:
            defaults.append((field.attname, None, False))

    def values(row: dict) -> list:
        out = []
        for attname, default, call in defaults:
            value = row.get(attname, row)
            if value is row:  # left out
                value = default() if call else default
            out.append(value)
        return out

    _copy(model, fields, (values(row) for row in rows), len(rows))


def _copy(model, fields, rows: Iterable[list], count: int) -> None:
    convert = [(i, _converter(field)) for i, field in enumerate(fields) if _converter(field)]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    started = time.monotonic()
    # Django's own errors (IntegrityError for a constraint), as an INSERT raises them.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            for i, c in convert:
                row[i] = c(row[i])
            copy.write_row(row)
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{sql} -- {count} rows", "time": f"{time.monotonic() - started:.3f}"}
        )


def _converter(field):
    if isinstance(field, models.JSONField):
        encoder = field.encoder

        def dumps(value):
            return json.dumps(value, cls=encoder)

        def convert(value):
            if value is None:
                return None
            if isinstance(value, RawJSON):
                return Jsonb(value, str)
            return Jsonb(value, dumps)

        return convert
    return None
