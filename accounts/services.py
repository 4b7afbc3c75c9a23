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
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
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
        elif (
            lock.locked_until is None
            and now - lock.window_started_at < _window()
            and (pause := pause_after(lock.failures))
        ):
            # Only the failures of the current window count, as they do for the lock. No
            # pause is none, also for a try that read the clock before a concurrent one.
            pauses.append(lock.last_failure_at + pause)
    if locks:
        return SignInRefusal(until=max(locks), locked=True)
    pauses = [until for until in pauses if until > now]
    if pauses:
        return SignInRefusal(until=max(pauses), locked=False)
    return None


def sign_in_try(
    *, username: str, address: str, now: datetime | None = None
) -> SignInRefusal | None:
    """Refuse a sign-in now (see `sign_in_refusal`), or count it as a failure before its
    password is checked: a right password takes it back (`sign_in_success_record`), a wrong
    one may lock (`sign_in_try_failed`).

    Judged and counted in one transaction with the counters locked, so tries sent at once
    are judged one after another, each seeing the ones before it. Checked first and counted
    after the password, a burst sent in parallel all passed the check: every guess in it was
    tried, however many, where tries sent one after another get two and are told to wait.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Username first, then address, in every try: one order, so tries cannot deadlock.
        rows = [_locked_row(kind, key, now) for kind, key, _ in _counters(username, address)]
        refusal = sign_in_refusal(username=username, address=address, now=now)
        if refusal:
            return refusal
        for row in rows:
            if row.locked_until is not None or now - row.window_started_at >= _window():
                row.failures, row.window_started_at, row.locked_until = 0, now, None
            row.failures += 1
            row.last_failure_at = now
            row.save()
    return None


def _locked_row(kind: str, key: str, now: datetime) -> SignInLock:
    for _ in range(3):
        try:
            return SignInLock.objects.select_for_update().get_or_create(
                kind=kind,
                key=key,
                defaults={"failures": 0, "window_started_at": now, "last_failure_at": now},
            )[0]
        except IntegrityError:  # created by a concurrent try, and deleted by its success
            continue
    raise IntegrityError(f"Sign-in counter {kind} {key} keeps changing.")


def sign_in_try_failed(
    *, username: str, address: str, now: datetime | None = None
) -> SignInFailure:
    """The try `sign_in_try` counted had a wrong password: lock whichever counter reached
    its limit."""
    now = now or timezone.now()
    rows = []
    with transaction.atomic():
        for kind, key, limit in _counters(username, address):  # in sign_in_try's order
            row = SignInLock.objects.select_for_update().filter(kind=kind, key=key).first()
            if row is None:  # cleared by staff meanwhile
                continue
            if not row.is_locked(now) and row.failures >= limit:
                row.locked_until = now + timedelta(minutes=settings.SIGN_IN_LOCK_MINUTES)
                row.save(update_fields=["locked_until"])
            rows.append(row)
    SignInLock.objects.filter(last_failure_at__lt=now - _retention()).delete()
    locked = [row.locked_until for row in rows if row.is_locked(now)]
    return SignInFailure(
        failures=max((row.failures for row in rows), default=0),
        locked_until=max(locked, default=None),
    )


def sign_in_try_taken_back(*, username: str, address: str, now: datetime) -> None:
    """The try `sign_in_try` counted at `now` was no wrong password after all."""
    for kind, key, _ in _counters(username, address):  # one row at a time: no deadlock
        _take_back(Q(kind=kind, key=key), now)


def _take_back(keys: Q, now: datetime) -> None:
    over = now - timedelta(seconds=settings.SIGN_IN_SLOWDOWN_MAX_SECONDS)
    SignInLock.objects.filter(keys, failures__gt=0).update(
        failures=F("failures") - 1,
        # Its pause too, unless another try came since.
        last_failure_at=Case(
            When(last_failure_at=now, then=Value(over)), default=F("last_failure_at")
        ),
    )


def _counters(username: str, address: str) -> list[tuple[str, str, int]]:
    counters = [
        (SignInLock.Kind.USERNAME, username_key(username), settings.SIGN_IN_USERNAME_MAX_FAILURES)
    ]
    if address:
        counters.append(
            (SignInLock.Kind.ADDRESS, address_key(address), settings.SIGN_IN_ADDRESS_MAX_FAILURES)
        )
    return counters


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


def sign_in_success_record(
    *, username: str, address: str = "", now: datetime | None = None
) -> None:
    """A correct password clears the username's counter. The address keeps its own, less
    the try `sign_in_try` counted at `now`: one account that signs in must not reset the
    count of guesses at all the others.

    The username's row is reset, not deleted: a row deleted under concurrent tries of the
    same username made each of them re-create it, and they kept colliding."""
    SignInLock.objects.filter(kind=SignInLock.Kind.USERNAME, key=username_key(username)).update(
        failures=0, locked_until=None, window_started_at=now or timezone.now()
    )
    if address and now:
        _take_back(Q(kind=SignInLock.Kind.ADDRESS, key=address_key(address)), now)


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
