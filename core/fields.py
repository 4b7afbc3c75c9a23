"""Model fields of our own.

`TextJSONField`: a JSON value stored as written. On PostgreSQL it is a `json` column (the
text itself) where JSONField is `jsonb` (parsed into a binary form); elsewhere it is a
JSONField. For documents that are written once and read whole as text, never searched
inside: webhook payloads. Turning 20,000 `jsonb` payloads of 2.5 KB back into text took
PostgreSQL 0.88-1.01 s of a customer's export; the same payloads as `json` 0.21-0.35 s
(bench.privacy). The text keeps its keys in the order written, as sent.

A `json` column has no equality or containment operators: a lookup inside one compares
text (`KT("payload__data__id")`), and SQL that edits one casts it to `jsonb` and back
(core.erasure.JSONReplace).
"""

import json

from django.db import models
from psycopg.types.json import Json


class TextJSONField(models.JSONField):
    description = "A JSON document stored as its text"

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        return Json(value, self._dumps)

    def _dumps(self, value) -> str:
        return json.dumps(value, cls=self.encoder, separators=(",", ":"), ensure_ascii=False)

    def from_db_value(self, value, expression, connection):
        # psycopg reads a `json` column into Python itself (jsonb comes as text: Django
        # registers a text loader for it alone).
        if value is None or not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)
