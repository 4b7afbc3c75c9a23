"""Time-ordered identifiers.

UUIDv7 (RFC 9562) puts a millisecond timestamp in the high bits, so new rows land at the
right edge of primary-key indexes instead of at random pages: inserts stay cheap and
recently created rows stay together in cache. Python gains `uuid.uuid7` only in 3.14.
"""

import os
import time
import uuid

_last_ms = 0
_counter = 0
# Random bytes are read from the system a few kilobytes at a time (one read per UUID was
# most of an import's cost of making its IDs); a forked child starts a pool of its own, so
# no two processes ever share random bits.
_POOL_BYTES = 8192
_pool = b""
_taken = 0


def _random(n: int) -> int:
    global _pool, _taken
    if _taken + n > len(_pool):
        _pool, _taken = os.urandom(_POOL_BYTES), 0
    start, _taken = _taken, _taken + n
    return int.from_bytes(_pool[start:_taken])


def _forget_pool() -> None:
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def uuid7() -> uuid.UUID:
    """Return a UUIDv7 that sorts after every one this process made before."""
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000
    if ms > _last_ms:
        _last_ms = ms
        # A random start in the lower half leaves room to count up within the millisecond.
        _counter = _random(2) & 0x07FF
    else:
        # Same (or an earlier, after a clock step) millisecond: keep order with a counter.
        _counter += 1
        if _counter > 0x0FFF:
            _last_ms += 1
            _counter = 0
        ms = _last_ms
    rand = _random(8) & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)
