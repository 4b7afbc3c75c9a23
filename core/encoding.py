"""JSON text of plain data (dicts, lists, UUIDs, datetimes) as pydantic's JSON mode writes
it, so webhook payloads built straight from the `*_out` dicts are the schemas' own dumps
(tests/webhooks/test_payload_shapes.py holds them side by side) at a fraction of the cost:
orjson encodes in C what validating through the schema would take tens of microseconds
for. Datetimes keep their microseconds, UTC as "Z".

orjson takes integers within 64 bits; metadata may hold larger ones, and those go
through the standard library instead.
"""

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

_OPTIONS = orjson.OPT_UTC_Z


def json_text(data: Any) -> str:
    try:
        return orjson.dumps(data, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _slow_text(data)


def json_ready(data: Any) -> Any:
    """`data` as it reads back from its JSON text."""
    try:
        return orjson.loads(orjson.dumps(data, option=_OPTIONS))
    except orjson.JSONEncodeError:
        return json.loads(_slow_text(data))


def _slow_text(data: Any) -> str:
    return json.dumps(data, default=_default, separators=(",", ":"), ensure_ascii=False)


def _default(value: Any) -> str:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
