"""Reads that tolerate a little lag go to a read replica; everything else to the primary.

`DATABASE_REPLICA_URLS` adds databases `replica_1`, `replica_2`, ... (config/settings.py).
With none, neither the router nor the middleware is installed and every query goes to
`default`, the primary, exactly as before.

What may read from a replica: the ORM reads of a GET or HEAD request (dashboard lists and
search, customer pages, exports, analytics, the API's list and get calls), unless

- the request has written (then the rest of it reads what it wrote, from the primary);
- its client wrote within `REPLICA_STICKY_SECONDS`: a write marks the request's session
  cookie, portal cookie and API token in the cache (Redis when several nodes share it), so
  a merchant who saves a metadata key never sees the old value on the next page;
- the query runs inside a transaction on the primary (a service's read-check-write,
  `select_for_update`, an idempotent replay);
- the model is one whose rows another client may have written a moment ago and whose
  staleness would refuse someone (`PRIMARY_ONLY`: sessions, users, memberships, tokens,
  customer sessions, sign-in codes and locks, idempotency keys, queued emails);
- no replica is healthy: each is checked at most every `REPLICA_CHECK_SECONDS` per process
  and skipped while it is unreachable, not in recovery, or more than
  `REPLICA_MAX_LAG_SECONDS` behind (measured on the replica: 0 while its WAL receiver is
  streaming and everything received is replayed, else the age of the last replayed
  transaction).

Writes, raw cursors (`django.db.connection`), management commands and the workers always
use the primary. A replica that fails in the middle of a request that wrote nothing gets
that request retried once on the primary, so an outage costs a retry, not an error page.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.db import DatabaseError, connections, router, transaction
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

PRIMARY_ONLY = frozenset(
    {
        "sessions.session",
        "auth.user",
        "organizations.membership",
        "organizations.organizationaccesstoken",
        "portal.customersession",
        "portal.portalsignincode",
        "accounts.signinlock",
        "core.idempotencykey",
        "core.outgoingemail",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# One row: in recovery, WAL receiver streaming (a row without status: the role may not
# read it; its existence is enough), everything received replayed, age of the last replay.
LAG_SQL = """
SELECT pg_is_in_recovery(),
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver
               WHERE coalesce(status, 'streaming') = 'streaming'),
       pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(),
       EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())
"""


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


# -- per request ---------------------------------------------------------------------------


@dataclass
class Reads:
    """What the current request may read from, and what it has done."""

    allowed: bool = False  # may read from a replica at all
    wrote: bool = False
    replica: str | None = None  # the replica this request reads from, once chosen
    chosen: bool = False


_reads: ContextVar[Reads | None] = ContextVar("replica_reads", default=None)


def current() -> Reads | None:
    return _reads.get()


# -- replica health, per process -----------------------------------------------------------


@dataclass
class Health:
    checked_at: float = -math.inf
    usable: bool = False
    lag: float | None = None  # seconds; None when unreachable or not a replica
    reason: str = "not checked yet"


_health: dict[str, Health] = {}
_health_lock = threading.Lock()
_checking: set[str] = set()


def measure(alias: str) -> Health:
    """Connect to the replica `alias` (in this thread) and read how far behind it is."""
    now = time.monotonic()
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            in_recovery, streaming, caught_up, age = cursor.fetchone()
    except DatabaseError as exc:
        _close_quietly(alias)
        return Health(now, False, None, f"unreachable: {str(exc).strip()[:200]}")
    if not in_recovery:
        return Health(now, False, None, "not in recovery (promoted, or not a standby)")
    lag = 0.0 if streaming and caught_up else (float(age) if age is not None else math.inf)
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        return Health(now, False, lag, f"{lag:.1f} s behind")
    return Health(now, True, lag, "ok")


def health(alias: str) -> Health:
    """The replica's last measured health, measured again when older than the interval.
    One thread measures; the others use the previous reading meanwhile."""
    current_health = _health.get(alias, Health())
    if time.monotonic() - current_health.checked_at < settings.REPLICA_CHECK_SECONDS:
        return current_health
    with _health_lock:
        if alias in _checking:
            return current_health
        _checking.add(alias)
    try:
        measured = measure(alias)
        previous = _health.get(alias)
        if previous is None or previous.usable != measured.usable:
            level = logging.INFO if measured.usable else logging.WARNING
            logger.log(level, "Replica %s: %s", alias, measured.reason)
        _health[alias] = measured
        return measured
    finally:
        with _health_lock:
            _checking.discard(alias)


def mark_down(alias: str, reason: str) -> None:
    _health[alias] = Health(time.monotonic(), False, None, reason)
    logger.warning("Replica %s: %s", alias, reason)


def forget_health() -> None:
    """Measure every replica afresh on next use (tests; a process after fork)."""
    _health.clear()


def healthy_replicas() -> list[str]:
    return [alias for alias in replica_aliases() if health(alias).usable]


def _close_quietly(alias: str) -> None:
    with contextlib.suppress(DatabaseError):
        connections[alias].close()


# -- the router ----------------------------------------------------------------------------


def _label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def read_alias(model) -> str:
    reads = _reads.get()
    if (
        reads is None
        or not reads.allowed
        or reads.wrote
        or _label(model) in PRIMARY_ONLY
        or connections["default"].in_atomic_block
    ):
        return "default"
    if not reads.chosen:
        # One replica for the whole request, so its reads agree with each other.
        candidates = healthy_replicas()
        reads.replica = random.choice(candidates) if candidates else None
        reads.chosen = True
    return reads.replica or "default"


class ReplicaRouter:
    """Installed by settings when DATABASE_REPLICA_URLS names at least one replica."""

    def db_for_read(self, model, **hints):
        return read_alias(model)

    def db_for_write(self, model, **hints):
        reads = _reads.get()
        if reads is not None:
            reads.wrote = True
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # Every alias holds the same data: a row read from a replica may be related to
        # one being saved on the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


@contextmanager
def statement_budget(model, milliseconds: int) -> Iterator[None]:
    """Cancel the reads of `model` in the block after `milliseconds` (OperationalError), on
    the database that serves them: a replica where the request may read from one, so a
    time-boxed list count or search does not pin the request to the primary."""
    alias = router.db_for_read(model)
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = %s", [milliseconds])
        yield
        # Within an outer transaction the budget would outlive this block.
        cursor.execute("SET LOCAL statement_timeout TO DEFAULT")


# -- the middleware ------------------------------------------------------------------------


def _identities(request: HttpRequest, response: HttpResponse | None = None) -> list[str]:
    """Cache keys for the client: its session and portal cookies and its API token (hashed;
    no secret is stored), including cookies the response has just set (a sign-in)."""
    names = (settings.SESSION_COOKIE_NAME, "portal_session")
    values = [f"{name}={request.COOKIES[name]}" for name in names if request.COOKIES.get(name)]
    if response is not None:
        for name in names:
            morsel = response.cookies.get(name)
            if morsel is not None and morsel.value:
                values.append(f"{name}={morsel.value}")
    authorization = request.headers.get("Authorization")
    if authorization:
        values.append(f"authorization={authorization}")
    return ["replica-sticky:" + hashlib.sha256(value.encode()).hexdigest()[:32] for value in values]


def _recently_wrote(request: HttpRequest) -> bool:
    keys = _identities(request)
    if not keys:
        return False
    try:
        return bool(cache.get_many(keys))
    except Exception:
        logger.warning("Cache unavailable: reading from the primary", exc_info=True)
        return True


def _remember_write(request: HttpRequest, response: HttpResponse) -> None:
    keys = _identities(request, response)
    if not keys:
        return
    try:
        cache.set_many(dict.fromkeys(keys, 1), timeout=math.ceil(settings.REPLICA_STICKY_SECONDS))
    except Exception:
        logger.warning("Cache unavailable: could not keep the client on the primary")


def _replica_failed(reads: Reads) -> bool:
    if reads.replica is None:
        return False
    # A failed connect leaves no connection behind; a broken one is no longer usable.
    connection = connections[reads.replica]
    return connection.errors_occurred and (
        connection.connection is None or not connection.is_usable()
    )


class ReplicaReadsMiddleware:
    def __init__(self, get_response):
        if not replica_aliases():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        allowed = request.method in SAFE_METHODS and not _recently_wrote(request)
        reads = Reads(allowed=allowed)
        token = _reads.set(reads)
        try:
            response = self.get_response(request)
            if _replica_failed(reads) and not reads.wrote and response.status_code >= 500:
                mark_down(reads.replica, "failed during a request")
                _close_quietly(reads.replica)
                reads = Reads(allowed=False)
                _reads.set(reads)
                response = self.get_response(request)
        finally:
            _reads.reset(token)
        if reads.wrote or request.method not in SAFE_METHODS:
            _remember_write(request, response)
        if response.streaming and reads.allowed:
            response.streaming_content = _within(reads, response.streaming_content)
        return response


def _within(reads: Reads, content):
    """Stream a response (a CSV export) with the reads of the request that made it."""
    token = _reads.set(reads)
    try:
        yield from content
    finally:
        # Closed from another context (garbage collection): nothing to undo there.
        with contextlib.suppress(ValueError):
            _reads.reset(token)
