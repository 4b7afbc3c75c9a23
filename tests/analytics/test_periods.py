"""The periods of a range are kept per range (analytics.periods._periods): each call marks
its own partial period, from its own `now`, without touching the kept ones."""

from datetime import UTC, date, datetime

from analytics.periods import periods
from core.timezones import zone


def test_each_call_marks_the_period_holding_its_now():
    paris = zone("Europe/Paris")
    start, end = date(2026, 3, 28), date(2026, 3, 30)
    on_the_29th = periods(start, end, "day", paris, now=datetime(2026, 3, 29, 12, tzinfo=UTC))
    assert [p.partial for p in on_the_29th] == [False, True, False]
    # Another now, the same range: another partial period, and the first list unchanged.
    on_the_30th = periods(start, end, "day", paris, now=datetime(2026, 3, 30, 12, tzinfo=UTC))
    assert [p.partial for p in on_the_30th] == [False, False, True]
    assert [p.partial for p in on_the_29th] == [False, True, False]
    # The 29th is 23 hours long in Paris (DST starts): each period ends where the next starts.
    assert [p.start.isoformat() for p in on_the_30th] == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    ]
    assert on_the_30th[1].end == on_the_30th[2].start


def test_now_outside_the_range_marks_nothing():
    utc = zone("UTC")
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    # The first week starts on its Monday before the range (29 December); the last ends
    # with the range (exclusive).
    for now in (datetime(2025, 12, 28, 23, 59, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)):
        assert not any(p.partial for p in periods(start, end, "week", utc, now=now))
    first = periods(start, end, "week", utc, now=datetime(2025, 12, 29, tzinfo=UTC))
    assert first[0].partial and first[0].start.date() == date(2025, 12, 29)
