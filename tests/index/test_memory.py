from __future__ import annotations

import sys

import pytest

from index.memory import release_freed_memory


def _anonymous_kb() -> int:
    with open("/proc/self/smaps_rollup") as rollup:
        return next(int(line.split()[1]) for line in rollup if line.startswith("Anonymous:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    # 200 MB in pieces below malloc's mmap threshold, freed behind one that stays, as
    # an ingest batch's arrays are: glibc keeps such holes until it is asked to trim.
    pieces = [bytearray(4000) for _ in range(50_000)]
    keep = bytearray(4000)
    before = _anonymous_kb()
    del pieces
    release_freed_memory()
    assert _anonymous_kb() < before - 150_000
    assert len(keep) == 4000
