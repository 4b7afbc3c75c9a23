"""Sign-in protection: failed sign-ins are counted per username and per client address;
each failure after the first makes the next try wait a little longer, and enough of them
lock the username or address for a while. The counters live in the database, so every
worker process sees the same ones.

Nothing here sleeps. A request that slept to punish a client would hold a worker that
serves everyone else (three clients under the address limit once raised the API's p50
from 7 ms to 1.7 s on two sync workers). A try that comes too soon is refused at once, with
how long to wait (`SignInRefusal`); the views answer it with a 429 and `Retry-After`.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import SignInLock
from core.clients import address_key


@dataclass(frozen=True)
class SignInFailure:
    """What one failed sign-in led to."""

    failures: int  # the larger of the username's and the address's count in the window
    locked_until: datetime | None  # set when this failure reached a limit


@dataclass(frozen=True)
class SignInRefusal:
    """Why a sign-in is refused before its password is checked, and until when: a lock
    (a limit was reached) or the pause after a recent failure."""

    until: datetime
    locked: bool

    def seconds_left(self, now: datetime | None = None) -> int:
        """Whole seconds to wait, at least 1: the value of `Retry-After`."""
        return max(1, math.ceil((self.until - (now or timezone.now())).total_seconds()))


def pause_after(failures: int) -> timedelta:
    """How long the next try must wait after the `failures`-th failure in the window:
    nothing for a first slip, then longer each time, up to a maximum."""
    seconds = min(
        settings.SIGN_IN_SLOWDOWN_SECONDS * max(failures - 1, 0),
        settings.SIGN_IN_SLOWDOWN_MAX_SECONDS,
    )
    return timedelta(seconds=seconds)


def username_key(username: str) -> str:
    return username.casefold()[:255]


def minutes_left(locked_until: datetime, now: datetime | None = None) -> int:
    seconds = (locked_until - (now or timezone.now())).total_seconds()
    return max(1, math.ceil(seconds / 60))


def sign_in_refusal(
    *, username: str, address: str, now: datetime | None = None
) -> SignInRefusal | None:
    """Whether a sign-in as `username` from `address` must be refused now, before its
    password is checked: while either is locked, or during the pause that either's last
    failure asks for. None when the try may go ahead. One query."""
    now = now or timezone.now()
    longest_pause = timedelta(seconds=settings.SIGN_IN_SLOWDOWN_MAX_SECONDS)
    rows = SignInLock.objects.filter(
        Q(locked_until__gt=now) | Q(last_failure_at__gt=now - longest_pause),
        _keys(username=username, address=address),
    )
    locks, pauses = [], []
    for lock in rows:
        if lock.is_locked(now):
            locks.append(lock.locked_until)
        elif lock.locked_until is None and now - lock.window_started_at < _window():
            # Only the failures of the current window count, as they do for the lock.
            pauses.append(lock.last_failure_at + pause_after(lock.failures))
    if locks:
        return SignInRefusal(until=max(locks), locked=True)
    pauses = [until for until in pauses if until > now]
    if pauses:
        return SignInRefusal(until=max(pauses), locked=False)
    return None


def sign_in_failure_record(
    *, username: str, address: str, now: datetime | None = None
) -> SignInFailure:
    """Count a failed sign-in against the username and the address, and lock whichever
    reached its limit. Rows with nothing left to count or lock are pruned on the way."""
    now = now or timezone.now()
    username_limit = settings.SIGN_IN_USERNAME_MAX_FAILURES
    counters = [(SignInLock.Kind.USERNAME, username_key(username), username_limit)]
    if address:
        address_limit = settings.SIGN_IN_ADDRESS_MAX_FAILURES
        counters.append((SignInLock.Kind.ADDRESS, address_key(address), address_limit))
    with transaction.atomic():
        locks = [_count_failure(kind, key, limit, now) for kind, key, limit in counters]
        SignInLock.objects.filter(last_failure_at__lt=now - _retention()).delete()
    locked = [lock.locked_until for lock in locks if lock.is_locked(now)]
    return SignInFailure(
        failures=max(lock.failures for lock in locks), locked_until=max(locked, default=None)
    )


def sign_in_success_record(*, username: str) -> None:
    """A correct password clears the username's counter. The address keeps its own: one
    account that signs in must not reset the count of guesses at all the others."""
    SignInLock.objects.filter(kind=SignInLock.Kind.USERNAME, key=username_key(username)).delete()


def sign_in_locks_clear(*, locks: QuerySet[SignInLock]) -> int:
    """Lift the locks and forget the failures (staff, from the admin). Returns how many."""
    deleted, _ = locks.delete()
    return deleted


def _count_failure(kind: str, key: str, limit: int, now: datetime) -> SignInLock:
    lock, _ = SignInLock.objects.select_for_update().get_or_create(
        kind=kind, key=key, defaults={"window_started_at": now, "last_failure_at": now}
    )
    if lock.is_locked(now):
        # Locked meanwhile by a concurrent attempt: the lock stands as it is, so a stream
        # of guesses cannot keep it going forever.
        return lock
    if lock.locked_until is not None or now - lock.window_started_at >= _window():
        lock.failures, lock.window_started_at, lock.locked_until = 0, now, None
    lock.failures += 1
    lock.last_failure_at = now
    if lock.failures >= limit:
        lock.locked_until = now + timedelta(minutes=settings.SIGN_IN_LOCK_MINUTES)
    lock.save()
    return lock


def _keys(*, username: str, address: str) -> Q:
    keys = Q(kind=SignInLock.Kind.USERNAME, key=username_key(username))
    if address:
        keys |= Q(kind=SignInLock.Kind.ADDRESS, key=address_key(address))
    return keys


def _window() -> timedelta:
    return timedelta(minutes=settings.SIGN_IN_WINDOW_MINUTES)


def _retention() -> timedelta:
    # After both the window and a lock have run out, a row counts and locks nothing.
    return max(_window(), timedelta(minutes=settings.SIGN_IN_LOCK_MINUTES))
