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


def uuid7() -> uuid.UUID:
    """Return a UUIDv7 that sorts after every one this process made before."""
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000
    if ms > _last_ms:
        _last_ms = ms
        # A random start in the lower half leaves room to count up within the millisecond.
        _counter = int.from_bytes(os.urandom(2)) & 0x07FF
    else:
        # Same (or an earlier, after a clock step) millisecond: keep order with a counter.
        _counter += 1
        if _counter > 0x0FFF:
            _last_ms += 1
            _counter = 0
        ms = _last_ms
    rand = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)
