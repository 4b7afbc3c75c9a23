"""core.ids.uuid7: time-ordered, unique, and never sharing random bits across a fork."""

import os
import uuid

import pytest

from core.ids import uuid7


def test_ids_are_version_7_distinct_and_ordered():
    ids = [uuid7() for _ in range(20_000)]  # several pools of random bytes
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_draws_random_bits_of_its_own():
    uuid7()  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next IDs, sent to the parent
        os.close(read)
        os.write(write, b"".join(uuid7().bytes for _ in range(4)))
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(uuid7().bytes for _ in range(4))

    # The low 62 bits of each are random: none may repeat between the two processes.
    def low(blob):
        return {int.from_bytes(blob[i + 8 : i + 16]) & ((1 << 62) - 1) for i in range(0, 64, 16)}

    assert not low(child) & low(parent)
