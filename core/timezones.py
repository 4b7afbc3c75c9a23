"""IANA timezones: which names are valid, and the zone for one."""

import functools
from datetime import UTC, date, datetime, timedelta
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


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`: local midnight, or where DST skips midnight,
    the first local time that exists (how analytics.periods and the list's segments cut
    days)."""
    moment = datetime(day.year, day.month, day.day, tzinfo=tz)
    # A non-existent local time round-trips to another wall time: step to the real start.
    back = moment.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != moment.replace(tzinfo=None):
        moment = back
    return moment


def day_range_bounds(
    first: date | None, last: date | None, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """The instants the days `first` to `last` (inclusive, either may be open) cover in
    `tz`, in UTC: from the first day's start to the start of the day after the last
    (exclusive)."""
    start = local_midnight(first, tz).astimezone(UTC) if first else None
    end = local_midnight(last + timedelta(days=1), tz).astimezone(UTC) if last else None
    return start, end
