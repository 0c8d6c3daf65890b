"""One writer at a time per data dir, across processes: an ``fcntl`` lock on a file.

The kernel drops the lock when its holder dies (even by ``kill -9``), so a crashed
writer never leaves the data dir locked. Whoever holds it writes its pid and command
into the file, so a second writer can say who it is waiting for.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IndexStateError

log = logging.getLogger("citeqa")

LOCK_FILE = "write.lock"
_held = threading.local()


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def write_lock(data_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the data dir's write lock for the block; wait for it if another writer has it.

    ``timeout`` (seconds) bounds the wait; past it, IndexStateError names the holder.
    """
    path = data_dir / LOCK_FILE
    held: set[Path] = _held.__dict__.setdefault("paths", set())
    if path in held:  # re-entered by the thread that holds it
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, timeout)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:2])})\n".encode(), 0)
        held.add(path)
        try:
            yield
        finally:
            held.discard(path)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, timeout: float | None) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    holder = _holder(path)
    log.warning("waiting for the write lock on %s, held by %s", path.parent, holder)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() > deadline:
                raise IndexStateError(
                    f"the data dir {path.parent} is being written by {_holder(path)}; "
                    "retry when it has finished"
                ) from None
            time.sleep(0.05)


def is_locked(data_dir: Path) -> bool:
    """Whether a writer holds the lock right now (a probe that takes and drops it)."""
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we took
    return False
