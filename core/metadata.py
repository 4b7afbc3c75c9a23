"""The metadata rules every object with metadata follows (customers, products, orders,
subscriptions, checkouts), in one place for the models, forms, admin, API and checkout.

Metadata is a flat JSON object: at most 50 keys; keys of 1-40 characters; values a string
of 1-500 characters, an integer, a float or a boolean.
"""

import math
import re
from typing import Any

from django.core.exceptions import ValidationError

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_STRING_LENGTH = 500

MetadataValue = str | int | float | bool

# JSON can spell a lone UTF-16 surrogate ("\\ud800"): no character, and text PostgreSQL
# refuses to store. The API's parser refuses it first; this catches every other path that
# parses JSON (the admin's metadata box) with an error naming the key.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def metadata_errors(metadata: Any) -> list[tuple[str | None, str]]:
    """Every rule `metadata` breaks, as (key, message) pairs; key is None for the whole."""
    if not isinstance(metadata, dict):
        return [(None, "Metadata must be an object of key-value pairs.")]
    errors: list[tuple[str | None, str]] = []
    if len(metadata) > MAX_KEYS:
        errors.append((None, f"Metadata can have at most {MAX_KEYS} keys; it has {len(metadata)}."))
    for key, value in metadata.items():
        for message in key_errors(key) + value_errors(key, value):
            errors.append((str(key), message))
    return errors


def key_errors(key: Any) -> list[str]:
    if not isinstance(key, str):
        return [f"Metadata key {key!r} must be a string."]
    if not key:
        return ["Metadata keys must not be empty."]
    if _LONE_SURROGATE.search(key):
        return [f"Metadata key {key!r} is not valid text: it holds a lone UTF-16 surrogate."]
    if len(key) > MAX_KEY_LENGTH:
        return [
            f"Metadata key {key!r} is {len(key)} characters long; "
            f"keys can be at most {MAX_KEY_LENGTH}."
        ]
    return []


def value_errors(key: Any, value: Any) -> list[str]:
    if isinstance(value, str):
        if not value:
            return [f"Metadata value for {key!r} must not be an empty string."]
        if len(value) > MAX_STRING_LENGTH:
            return [
                f"Metadata value for {key!r} is {len(value)} characters long; "
                f"strings can be at most {MAX_STRING_LENGTH}."
            ]
        surrogate = _LONE_SURROGATE.search(value)
        if surrogate:
            return [
                f"Metadata value for {key!r} is not valid text: it holds a lone UTF-16 "
                f"surrogate (\\u{ord(surrogate.group()):04x})."
            ]
        return []
    if isinstance(value, bool | int):
        return []
    if isinstance(value, float):
        if math.isfinite(value):
            return []
        return [f"Metadata value for {key!r} must be a finite number."]
    kind = {type(None): "null", dict: "a nested object", list: "a list"}.get(
        type(value), type(value).__name__
    )
    return [
        f"Metadata value for {key!r} is {kind}; values must be a string, "
        "an integer, a float or a boolean."
    ]


def validate_metadata(metadata: Any) -> None:
    """Raise one ValidationError listing every broken rule, each naming its key."""
    errors = metadata_errors(metadata)
    if errors:
        raise ValidationError([message for _key, message in errors], code="invalid_metadata")


def validate_metadata_entry(key: Any, value: Any) -> None:
    """Validate a single key and value, as the dashboard edits one key at a time."""
    errors = key_errors(key) + value_errors(key, value)
    if errors:
        raise ValidationError(errors, code="invalid_metadata")
