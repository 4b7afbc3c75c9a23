"""Inserting many new rows at once: COPY on PostgreSQL.

`bulk_create` on PostgreSQL sends each column as an array (INSERT ... SELECT UNNEST(...)),
which psycopg escapes element by element in Python: for an import's batch (thousands of
customers, their timeline entries and webhook events), most of the insert's time. COPY
sends the rows as psycopg writes them, in C. Row triggers, constraints and defaults apply
to COPY as to an INSERT, and the statement is recorded with the connection's queries, so
pinned statement counts still see it.

Below COPY_MIN_ROWS rows, and on SQLite, `bulk_create` is as fast and is used.
"""

import json
import time

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

COPY_MIN_ROWS = 100


def insert_many(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert these new, unsaved rows (their primary keys already set, as UUIDs are)."""
    if len(objs) < COPY_MIN_ROWS or connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    fields = model._meta.concrete_fields
    convert = [_converter(field) for field in fields]
    attnames = [field.attname for field in fields]
    now = timezone.now()
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                setattr(obj, field.attname, now)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    started = time.monotonic()
    # Django's own errors (IntegrityError for a constraint), as an INSERT raises them.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for obj in objs:
            copy.write_row(
                [
                    c(getattr(obj, a)) if c else getattr(obj, a)
                    for c, a in zip(convert, attnames, strict=True)
                ]
            )
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{sql} -- {len(objs)} rows", "time": f"{time.monotonic() - started:.3f}"}
        )


def _converter(field):
    if isinstance(field, models.JSONField):
        encoder = field.encoder

        def dumps(value):
            return json.dumps(value, cls=encoder)

        return lambda value: None if value is None else Jsonb(value, dumps)
    return None
