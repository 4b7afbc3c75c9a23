"""The API toolkit every router shares: the body parser, Polar's error shapes, strict
date-times, named enums for the document, page-based pagination and the metadata check.
Token auth with scopes needs the organizations' tokens, so it lives above core, in
organizations/api_auth.py. `config/api.py` assembles the API."""

import json
import math
import re
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import ValidationError
from ninja.parser import Parser
from ninja.throttling import BaseThrottle
from pydantic import AfterValidator, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

from core.clients import address_key, client_address
from core.metadata import metadata_errors


def _to_utc(value: datetime) -> datetime:
    """Any offset Python accepts (up to ±24 h) becomes UTC; the database takes only ±16 h."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("The time is out of range.") from None


_ISO_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?"
)


def _iso_date_time(value: Any) -> Any:
    """Only what the document promises (`format: date-time`): pydantic alone would also
    read a bare number as seconds since 1970 (`0.5`) and a date as its midnight."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_TIME.fullmatch(value.strip()):
        raise PydanticCustomError(
            "datetime_format",
            "Input should be an ISO 8601 date-time, such as 2026-10-01T12:00:00Z",
        )
    return value


# A time from a query string or body: an ISO 8601 date-time (one without an offset is
# UTC), normalised to UTC.
Timestamp = Annotated[datetime, BeforeValidator(_iso_date_time), AfterValidator(_to_utc)]


# Text a list searches for (`query=`): at most as long as the dashboard's search box takes.
# Unbounded, a long one reached the database: SQLite refuses a LIKE pattern over 50,000
# bytes, and the API answered that as a database outage (503).
SEARCH_MAX_LENGTH = 200
SearchText = Annotated[str, StringConstraints(max_length=SEARCH_MAX_LENGTH)]


def choices_enum(name: str, choices) -> type[StrEnum]:
    """Django `choices` as an enum with a name of its own in the OpenAPI document:
    `Subscription.Status` and `Checkout.Status` are both called `Status`, and ninja
    merges same-named components into one (the subscriptions filter once listed checkout
    statuses)."""
    return StrEnum(name, [(choice.name, choice.value) for choice in choices])


def sort_enum(name: str, fields) -> type[StrEnum]:
    """Polar's `<Thing>SortProperty`: each field, and with a leading `-` descending, so
    the document lists exactly the sort keys the server takes."""
    members = []
    for field in fields:
        members += [(field, field), (f"{field}_desc", f"-{field}")]
    return StrEnum(name, members)


def sort_order(sorting: list[str], allowed: dict[str, str]) -> list[str]:
    """`order_by` fields for a list's `sorting` (each one of its `sort_enum` values: the
    schema refused the rest), `allowed` mapping each sort key to its field; the ID breaks
    ties in the last criterion's direction."""
    fields = [
        ("-" if criterion.startswith("-") else "") + allowed[criterion.removeprefix("-")]
        for criterion in sorting
    ]
    return [*fields, "-id" if fields and fields[-1].startswith("-") else "id"]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonObjectParser(Parser):
    """Request bodies: a JSON object whose text is valid Unicode, or a 422 before any
    operation runs.

    JSON can spell a lone UTF-16 surrogate (`"\\ud800"`), which is no character at all:
    PostgreSQL refuses to store it, so it must never get past the parser, whatever field
    it is in (keys included). Every body of this API is an object; a list, string,
    number or null is refused here too, since pydantic would read one as an object with
    no fields (and a PATCH of nothing succeeds). ninja reports a parser's exception as a
    400; config/api.py answers the ValidationError it wraps as the 422 it is.
    """

    def parse_body(self, request: HttpRequest):
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValidationError(
                [
                    {
                        "type": "model_attributes_type",
                        "loc": ["body"],
                        "msg": "Input should be a valid dictionary or object to extract "
                        "fields from",
                        "input": data,
                    }
                ]
            )
        errors = list(_invalid_text(data, ["body"]))
        if errors:
            raise ValidationError(errors)
        return data


def _invalid_text(value: Any, loc: list):
    """A pydantic-style error for each string (or key) holding text no column can store:
    a lone surrogate, or a NUL character (JSON's `\\u0000`, which PostgreSQL refuses too)."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            yield {
                "type": "string_unicode",
                "loc": loc,
                "msg": "Input should be valid Unicode text; it holds a lone UTF-16 surrogate.",
                "input": escape_surrogates(value),
            }
        elif "\x00" in value:
            yield {
                "type": "string_nul",
                "loc": loc,
                "msg": "Input should not contain a NUL character (\\u0000).",
                "input": _printable(value),
            }
    elif isinstance(value, dict):
        for key, item in value.items():
            if _LONE_SURROGATE.search(key) or "\x00" in key:
                yield from _invalid_text(key, [*loc, _printable(key)])
            else:
                yield from _invalid_text(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _invalid_text(item, [*loc, index])


def _printable(text: str) -> str:
    return escape_surrogates(text).replace("\x00", "\\u0000")


def escape_surrogates(text: str) -> str:
    """`text` with each lone surrogate written as its escape, so an error can show it."""
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class ErrorOut(Schema):
    error: str
    detail: str


class ValidationDetail(Schema):
    type: str
    loc: list[str | int]
    msg: str
    input: Any = None


class ValidationErrorOut(Schema):
    error: Literal["PolarRequestValidationError"]
    detail: list[ValidationDetail]


# Documented on every operation, so clients (and the schema fuzzer) know every answer.
ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    413: ErrorOut,
    422: ValidationErrorOut,
    429: ErrorOut,
}


class ApiError(Exception):
    """An error with Polar's name for it: `{"error": error, "detail": detail}`."""

    def __init__(self, status: int, error: str, detail: str):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def validation_error(loc: list, msg: str, value: Any = None, type_: str = "value_error"):
    """A 422 for one bad input, in the shape pydantic errors take."""
    return ValidationError([{"type": type_, "loc": loc, "msg": msg, "input": value}])


def check_metadata(metadata, loc=("body", "metadata")) -> None:
    """422 with one entry per broken rule, each located at its key."""
    errors = metadata_errors(metadata)
    if errors:
        raise ValidationError(
            [
                {
                    "type": "value_error",
                    "loc": [*loc, *([key] if key is not None else [])],
                    "msg": message,
                    "input": metadata.get(key) if key is not None else None,
                }
                for key, message in errors
            ]
        )


def get_or_404(queryset: QuerySet, raw_id: str):
    """The row of `queryset` (already scoped to the organization) with this ID, or a 404
    that reads the same for a malformed ID, a missing row and another organization's."""
    return found_or_404(queryset.filter(pk=uuid_or_404(raw_id)).first())


def uuid_or_404(raw_id: str) -> UUID:
    """An ID from a URL; a malformed one is a 404, like an ID nobody has."""
    try:
        return UUID(raw_id)
    except ValueError:
        raise Http404 from None


def found_or_404(obj):
    if obj is None:
        raise Http404
    return obj


def excludes_our_organization(request: HttpRequest, organization_ids) -> bool:
    """An `organization_id` filter can only name the token's organization (filtering
    nothing) or leave it out (nothing matches)."""
    return bool(organization_ids) and request.organization.pk not in organization_ids


def paginate(
    queryset: QuerySet,
    *,
    page: int,
    limit: int,
    serialize,
    total: int | None = None,
    ids_first: bool = False,
    seek=None,
) -> dict:
    """Polar's page-based envelope: `{"items": [...], "pagination": {...}}`. `total`, when
    the caller knows it more cheaply, saves counting the rows; so does the page itself
    when it proves the total (a short page that is not empty, or a short first page), so
    a filter matching few rows is read once, not once to count and once to show.

    `ids_first`: past the first page, the IDs of the page are read alone and then its
    rows by ID. OFFSET has to step over every row before the page; over IDs alone, with
    an index holding the sort key and the ID (and the visibility map current), that walk
    is an index-only scan, never a visit of each skipped row in the table. Worth it where
    the ordering has such an index and the filters are the index's own.

    `seek(queryset, offset)`, with `ids_first`, may shorten that walk: it returns the
    queryset narrowed to start at a known position and the offset left from there (kept
    counts can say how many rows come before a given sort key; see
    customers.counts.created_day_seek)."""
    offset = (page - 1) * limit
    if total is not None and offset >= total:
        rows, found = [], 0
    elif ids_first and offset:
        source, skip = seek(queryset, offset) if seek is not None else (queryset, offset)
        ids = list(source.values_list("pk", flat=True)[skip : skip + limit])
        found = len(ids)
        # A row deleted between the two statements is left out, as a later request would.
        by_id = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)} if ids else {}
        rows = [by_id[pk] for pk in ids if pk in by_id]
    else:
        rows = list(queryset[offset : offset + limit])
        found = len(rows)
    if total is None:
        proven = found < limit and (found or page == 1)
        total = offset + found if proven else queryset.count()
    return {
        "items": [serialize(obj) for obj in rows],
        "pagination": {"total_count": total, "max_page": math.ceil(total / limit)},
    }


def _date_time_text(value: datetime) -> str:
    """A datetime as ninja's encoder (Django's) writes it: milliseconds, and UTC as "Z"."""
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """`data` encoded as it is, for an operation whose `*_out` functions already give the
    exact shape of its response schema (every field, in the schema's order): ninja would
    validate each row of a list through the schema again and encode it with the standard
    library, most of a list's time. The bytes parse to what ninja would send (datetimes,
    UUIDs and all); tests/api/test_lean_reads.py holds the two side by side.

    orjson takes integers within 64 bits; metadata may hold larger ones, and those
    responses go through the standard library instead."""
    # A page repeats many datetimes (a customer's in each of its orders, an order's in its
    # items): each is formatted once. Keyed with the zone too: equal instants in two zones
    # are written differently.
    texts: dict[tuple, str] = {}

    def default(value: Any) -> str:
        if isinstance(value, UUID):  # orjson writes these itself; the standard library not
            return str(value)
        if not isinstance(value, datetime):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        key = (value, value.tzinfo)
        text = texts.get(key)
        if text is None:
            text = texts[key] = _date_time_text(value)
        return text

    try:
        content = orjson.dumps(data, default=default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except orjson.JSONEncodeError:
        # Only for the integers: any other type orjson refused is refused here too.
        content = json.dumps(data, default=default, separators=(",", ":")).encode()
    return HttpResponse(content, status=status, content_type="application/json; charset=utf-8")


class RateLimit(BaseThrottle):
    """Fixed-window counters in the configured cache: per access token, or per client IP
    for the endpoints that take no token (the buyer's checkout calls). Counting with
    cache.incr is atomic in both local memory and Redis, so concurrent requests cannot
    slip past the limit."""

    WINDOW_SECONDS = 60

    def allow_request(self, request: HttpRequest) -> bool:
        token = getattr(request, "auth", None)
        if token is not None:
            ident, limit = f"token:{token.pk}", settings.API_RATE_LIMIT_PER_MINUTE
        else:
            ident, limit = (
                f"ip:{address_key(client_address(request))}",
                settings.API_CLIENT_RATE_LIMIT_PER_MINUTE,
            )
        now = time.time()
        window = int(now // self.WINDOW_SECONDS)
        key = f"ratelimit:{ident}:{window}"
        cache.add(key, 0, timeout=self.WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr: count this request alone
            cache.set(key, 1, timeout=self.WINDOW_SECONDS + 5)
            count = 1
        self.retry_after = (window + 1) * self.WINDOW_SECONDS - now
        return count <= limit

    def wait(self) -> float:
        return self.retry_after
