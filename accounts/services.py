"""Sign-in protection: failed sign-ins are counted per username and per client address,
slowed down, then locked for a while. The counters live in the database, so every worker
process sees the same ones."""

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import SignInLock


@dataclass(frozen=True)
class SignInFailure:
    """What one failed sign-in led to."""

    failures: int  # the larger of the username's and the address's count in the window
    locked_until: datetime | None  # set when this failure reached a limit

    @property
    def delay_seconds(self) -> float:
        """How long to hold the answer: nothing for a first slip, then longer each time."""
        return min(
            settings.SIGN_IN_SLOWDOWN_SECONDS * max(self.failures - 1, 0),
            settings.SIGN_IN_SLOWDOWN_MAX_SECONDS,
        )


def client_address(request: HttpRequest) -> str:
    """The address that sent the request: REMOTE_ADDR, or behind our own proxy the last
    X-Forwarded-For entry (the one that proxy appended; earlier entries come from the
    client and can be anything)."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            address = forwarded
    return address


def username_key(username: str) -> str:
    return username.casefold()[:255]


def address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:255]
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        # One client usually holds a whole /64, so counting single addresses would let it
        # try 2**64 times.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def minutes_left(locked_until: datetime, now: datetime | None = None) -> int:
    seconds = (locked_until - (now or timezone.now())).total_seconds()
    return max(1, math.ceil(seconds / 60))


def sign_in_locked_until(
    *, username: str, address: str, now: datetime | None = None
) -> datetime | None:
    """When the lock on this username or this address ends; None when neither is locked."""
    now = now or timezone.now()
    return SignInLock.objects.filter(
        _keys(username=username, address=address), locked_until__gt=now
    ).aggregate(until=Max("locked_until"))["until"]


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
