"""IANA timezones: which names are valid, and the zone for one."""

import functools
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError


@functools.cache
def timezone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def zone(name: str) -> ZoneInfo:
    """The zone named `name`; ValueError when there is none by that name."""
    if name not in timezone_names():
        raise ValueError(f"Unknown timezone {name!r}: use an IANA name such as Europe/Paris.")
    return ZoneInfo(name)


def validate_timezone(value: str) -> None:
    if value not in timezone_names():
        raise ValidationError(
            "Unknown timezone %(value)s: use an IANA name such as Europe/Paris.",
            code="invalid",
            params={"value": repr(value)},
        )
