"""Querysets compiled to SQL once per process, then run many times with new values.

Django builds and compiles a queryset's SQL on every call: about 0.35 ms of Python for a
one-row lookup, more than PostgreSQL takes to answer it, and some 3 ms for a list's page,
its related rows and its count. On the hottest paths (the API's token check on every
request, a customer by ID or external ID, the order lists) that doubled the cost of a
request. A `PreparedQuery` keeps the ORM as the one way to write the query:

    by_external_id = PreparedQuery(
        lambda p: Customer.objects.filter(
            organization_id=p.organization_id, deleted_at=None, external_id=p.external_id
        )
    )
    customer = by_external_id.first(organization_id=org.pk, external_id="u_42")

The queryset is compiled on first use per database alias; each `p.<name>` becomes a
placeholder filled with the value of `<name>` on each call. A placeholder named after a
field of the model takes that field's database value (as `filter()` would prepare it);
in `AnyOf(F("<field path>"), p.<name>)` (`IN` a list, one placeholder whatever the list's
length: `= ANY(%s)` on PostgreSQL) each item is prepared by the compared field; any other
placeholder is passed as it is (text for a search). Rows come back through the fields'
converters and `select_related()` populators exactly as a queryset's would; a
`values_list()` queryset gives tuples.

A `PreparedList` does the same for a list whose filters and ordering vary: `build(p,
shape)` writes the queryset of one shape (which filters, which ordering: anything but
the values), compiled once per shape and alias; `page()` reads a slice, `count()` its
total, as `paginate()` would of the queryset.
"""

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router
from django.db.models import Count, Expression, Lookup, Model, QuerySet
from django.db.models.query import _get_from_db, get_related_populators


class Param(Expression):
    """A placeholder for the value of `name` (see the module's docstring)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.prep_field = None  # the field preparing the value (AnyOf), else the model's `name`
        self.many = False  # a list of values, each prepared by `prep_field` (AnyOf)

    def as_sql(self, compiler, connection):
        return "%s", [self]


class AnyOf(Lookup):
    """`lhs IN (the list placeholder rhs)` with one placeholder for the whole list, so one
    SQL text serves every length: `= ANY(%s)` with an array on PostgreSQL, the items of a
    JSON array elsewhere (SQLite's json_each)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        self.rhs.prep_field, self.rhs.many = self.lhs.output_field, True
        rhs_sql, rhs_params = compiler.compile(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs_sql} = ANY({rhs_sql})", [*lhs_params, *rhs_params]
        return f"{lhs_sql} IN (SELECT value FROM json_each({rhs_sql}))", [*lhs_params, *rhs_params]


class _Params:
    def __getattr__(self, name: str) -> Param:
        return Param(name)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: list  # constants and Param placeholders, in SQL order
    fields: dict  # placeholder name -> field that prepares its value (None: as it is)
    converters: list  # (position, converters, expression)
    col_count: int
    from_db: Callable | None  # None: a values_list() query, whose rows are tuples
    init_list: list[str]
    start: int
    end: int
    populators: list
    plain: bool = False  # tuples as the database gives them: nothing to convert or build

    def execute(self, cursor, connection, values: dict, limits: str = "") -> None:
        params = []
        for p in self.params:
            if not isinstance(p, Param):
                params.append(p)
                continue
            field, value = self.fields[p.name], values[p.name]
            if not p.many:
                params.append(_prepare(field, value, connection))
                continue
            items = [_prepare(field, item, connection) for item in value]
            params.append(items if connection.vendor == "postgresql" else json.dumps(items))
        cursor.execute(f"{self.sql} {limits}" if limits else self.sql, params)

    def build(self, alias: str, connection, row) -> Any:
        if self.converters:
            row = list(row)
            for position, converters, expression in self.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
        if self.from_db is None:
            return tuple(row[: self.col_count])
        obj = self.from_db(alias, self.init_list, row[self.start : self.end])
        for populator in self.populators:
            populator.populate(row, obj)
        return obj

    def rows(self, alias: str, values: dict, low: int = 0, high: int | None = None) -> list:
        connection = connections[alias]
        limits = connection.ops.limit_offset_sql(low, high) if low or high is not None else ""
        with connection.cursor() as cursor:
            self.execute(cursor, connection, values, limits)
            rows = cursor.fetchall()
        if self.plain:
            return rows
        return [self.build(alias, connection, row) for row in rows]

    def count(self, alias: str, values: dict) -> int:
        connection = connections[alias]
        with connection.cursor() as cursor:
            self.execute(cursor, connection, values)
            return cursor.fetchone()[0]


def _prepare(field, value, connection):
    return value if field is None else field.get_db_prep_value(value, connection, prepared=False)


def _field(model, name: str):
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _compile(queryset: QuerySet, alias: str) -> _Compiled:
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    fields = {
        p.name: p.prep_field or _field(queryset.model, p.name)
        for p in params
        if isinstance(p, Param)
    }
    select, klass_info = compiler.select, compiler.klass_info
    converters = [
        (position, converters, expression)
        for position, (converters, expression) in compiler.get_converters(
            [s[0] for s in select[: compiler.col_count]]
        ).items()
    ]
    compiled = {
        "sql": sql,
        "params": list(params),
        "fields": fields,
        "converters": converters,
        "col_count": compiler.col_count,
    }
    if klass_info is None or not queryset.query.default_cols:  # values_list(), a count
        plain = not converters and compiler.col_count == len(select)
        return _Compiled(
            **compiled, from_db=None, init_list=[], start=0, end=0, populators=[], plain=plain
        )
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    fetch_mode = queryset._fetch_mode
    return _Compiled(
        **compiled,
        from_db=_get_from_db(klass_info["model"], fetch_mode),
        init_list=[s[0].target.attname for s in select[start:end]],
        start=start,
        end=end,
        populators=get_related_populators(klass_info, select, alias, fetch_mode),
    )


def _compile_count(queryset: QuerySet, alias: str) -> _Compiled:
    """`SELECT COUNT(*)` of the queryset's rows, as `count()` reads it of a plain filtered
    queryset (no ordering, no selected columns or annotations)."""
    query = queryset.query.chain()
    query.clear_ordering(force=True)
    query.clear_limits()
    query.clear_select_fields()
    query.default_cols = False
    query.select_related = False
    query.add_annotation(Count("*"), "__count", select=True)
    query.set_annotation_mask({"__count"})
    return _compile(QuerySet(model=queryset.model, query=query), alias)


class PreparedQuery:
    def __init__(self, build: Callable[[_Params], QuerySet]):
        self.build = build
        self._compiled: dict[tuple[str, bool], _Compiled] = {}

    def first(self, *, using: str | None = None, **values: Any) -> Model | None:
        """The first row (by primary key unless the queryset is ordered), or None."""
        rows = self._rows(using, values, first=True)
        return rows[0] if rows else None

    def all(self, *, using: str | None = None, **values: Any) -> list:
        """Every row. `using`: the database alias, when not where the ORM would read."""
        return self._rows(using, values, first=False)

    @cached_property
    def _queryset(self) -> QuerySet:
        return self.build(_Params())

    def _rows(self, using: str | None, values: dict, first: bool) -> list:
        alias = using or router.db_for_read(self._queryset.model)
        compiled = self._compiled.get((alias, first))
        if compiled is None:
            queryset = self._queryset
            if first:
                queryset = (queryset if queryset.ordered else queryset.order_by("pk"))[:1]
            # Two threads may both compile the first time: same result, last one kept.
            compiled = self._compiled[alias, first] = _compile(queryset, alias)
        return compiled.rows(alias, values)


class PreparedList:
    """A list's queryset per shape (see the module's docstring), compiled once per shape
    and alias; at most `max_shapes` kept (the rest compiled for each call, the same way)."""

    def __init__(self, build: Callable[[_Params, Hashable], QuerySet], max_shapes: int = 256):
        self.build = build
        self.max_shapes = max_shapes
        self._querysets: dict[Hashable, QuerySet] = {}
        self._compiled: dict[tuple, _Compiled] = {}

    def alias(self, shape: Hashable) -> str:
        """The database the ORM would read the shape's rows from (a replica may serve a
        GET's reads: core/replicas.py)."""
        return router.db_for_read(self._queryset(shape).model)

    def page(self, shape: Hashable, low: int, high: int, **values: Any) -> list:
        alias = self.alias(shape)
        return self._get(shape, alias, _compile).rows(alias, values, low, high)

    def count(self, shape: Hashable, **values: Any) -> int:
        alias = self.alias(shape)
        return self._get(shape, alias, _compile_count).count(alias, values)

    def _queryset(self, shape: Hashable) -> QuerySet:
        queryset = self._querysets.get(shape)
        if queryset is None:
            queryset = self.build(_Params(), shape)
            if len(self._querysets) < self.max_shapes:
                self._querysets[shape] = queryset
        return queryset

    def _get(self, shape: Hashable, alias: str, compile: Callable) -> _Compiled:
        key = (shape, alias, compile)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = compile(self._queryset(shape), alias)
            if shape in self._querysets:
                self._compiled[key] = compiled
        return compiled
