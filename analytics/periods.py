"""A range of dates cut into periods (hour, day, week, month, year) in a timezone.

A day is the merchant's day: periods start at local midnight (or the local hour) and each
ends where the next starts, so a day across a DST change lasts 23 or 25 hours and months
keep their own lengths. Weeks start on Monday (ISO), as PostgreSQL's `date_trunc('week')`
and Django's TruncWeek do. The first period starts at the start of the interval holding
the range's first day (a month from the 1st), the last one ends at the end of the range
(only the range's data counts in either); the one holding "now" is marked partial.
"""

from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from core.timezones import local_midnight

INTERVALS = ("hour", "day", "week", "month", "year")


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, in the requested zone
    end: datetime  # the next period's start (exclusive)
    partial: bool = False  # holds now: its figures are still moving


def _interval_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "year":
        return day.replace(month=1, day=1)
    return day


def _next_day(day: date, interval: str) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7)
    if interval == "month":
        return (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return day.replace(year=day.year + 1, month=1, day=1)


def range_bounds(start_date: date, end_date: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants the range covers: from the first day's local midnight to the end of
    the last day (exclusive)."""
    return local_midnight(start_date, tz), local_midnight(end_date + timedelta(days=1), tz)


def periods(
    start_date: date, end_date: date, interval: str, tz: ZoneInfo, *, now: datetime
) -> list[Period]:
    """The periods of the range, oldest first (see the module's docstring)."""
    if interval not in INTERVALS:
        raise ValueError(f"Unknown interval {interval!r}.")
    if end_date < start_date:
        raise ValueError("end_date is before start_date.")
    cut = list(_periods(start_date, end_date, interval, tz))
    # The one holding now, if any: the last to start by now, unless it ended already.
    index = bisect_right(cut, now, key=lambda period: period.start) - 1
    if index >= 0 and now < cut[index].end:
        cut[index] = replace(cut[index], partial=True)
    return cut


@lru_cache(maxsize=64)
def _periods(start_date: date, end_date: date, interval: str, tz: ZoneInfo) -> tuple[Period, ...]:
    """The periods of the range, none partial: they depend on nothing else, and a page
    asks for the same ones again and again (a year by day is 365 local midnights)."""
    _, range_end = range_bounds(start_date, end_date, tz)
    starts: list[datetime] = []
    if interval == "hour":
        # Hours step in absolute time: a DST day has 23 or 25 of them.
        utc = ZoneInfo("UTC")
        moment = local_midnight(start_date, tz).astimezone(utc)
        while moment < range_end:
            starts.append(moment.astimezone(tz))
            moment += timedelta(hours=1)
    else:
        day = _interval_start(start_date, interval)
        while (moment := local_midnight(day, tz)) < range_end:
            starts.append(moment)
            day = _next_day(day, interval)
    # Each period ends where the next starts; the last at the range's end. The first may
    # start before the range (a month from its 1st): only the range's data is counted.
    ends = [*starts[1:], range_end]
    return tuple(Period(start, end) for start, end in zip(starts, ends, strict=True))
