"""Rows of the ``token_spans`` table: where each passage's token vectors lie in the
segment files (``tokens.py``). A mixin of ``Store`` (``db.py``), which owns the connection."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence

from index.store.local.tokens import Span as TokenSpan


def _token_spans(rows: Iterable[Sequence[object]]) -> dict[int, TokenSpan]:
    return {int(str(i)): TokenSpan(str(seg), int(str(start)), int(str(n)))
            for i, seg, start, n in rows}  # fmt: skip


class TokenSpanRows:
    """Token spans by passage row id, and the segment files they refer to."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def token_spans(self, row_ids: Sequence[int]) -> dict[int, TokenSpan]:
        """Where each passage's token vectors are; passages without any are left out."""
        if not row_ids:
            return {}
        marks = ",".join("?" * len(row_ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT passage_id, segment, start, count FROM token_spans "
                f"WHERE passage_id IN ({marks})",
                list(row_ids),
            ).fetchall()
        return _token_spans(rows)

    def token_segments(self) -> set[str]:
        """Segment files some committed row refers to (the rest may be deleted)."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT segment FROM token_spans").fetchall()
        return {str(r[0]) for r in rows}

    @staticmethod
    def token_count_in(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT COALESCE(SUM(count), 0) FROM token_spans").fetchone()[0])

    @staticmethod
    def token_spans_in(db: sqlite3.Connection) -> dict[int, TokenSpan]:
        rows = db.execute(
            "SELECT passage_id, segment, start, count FROM token_spans ORDER BY passage_id"
        ).fetchall()
        return _token_spans(rows)

    @staticmethod
    def set_token_spans(
        db: sqlite3.Connection, ids: Sequence[int], spans: Sequence[TokenSpan]
    ) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO token_spans (passage_id, segment, start, count) "
            "VALUES (?, ?, ?, ?)",
            [(i, s.segment, s.start, s.count) for i, s in zip(ids, spans, strict=True)],
        )

    @staticmethod
    def clear_token_vectors(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM token_spans")
