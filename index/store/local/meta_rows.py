"""Rows of the ``meta`` table: settings by key, the index generation, the token
segment counter. A mixin of ``Store`` (``db.py``), which owns the connection and lock."""

from __future__ import annotations

import sqlite3
import threading


class MetaRows:
    """Key/value settings; the numbers that must never repeat (generation, segment)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    @staticmethod
    def get_meta_in(db: sqlite3.Connection, key: str) -> str | None:
        """``get_meta`` inside a transaction the caller holds."""
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def next_segment(db: sqlite3.Connection) -> int:
        """A number no token segment has had: segment files are never overwritten."""
        number = int(MetaRows.get_meta_in(db, "token_segments") or 0) + 1
        MetaRows.set_meta(db, "token_segments", str(number))
        return number

    @staticmethod
    def bump_generation(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(row[0]) + 1 if row else 1
        MetaRows.set_meta(db, "generation", str(generation))
        return generation
