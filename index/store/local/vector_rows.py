"""Vector columns of passage rows: the passage embedding (float32) and its sentences'
vectors (float16). A mixin of ``Store`` (``db.py``), which owns the connection and lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


def half_blob(vectors: Vectors | None) -> bytes | None:
    return None if vectors is None else np.asarray(vectors, dtype=np.float16).tobytes()


class VectorRows:
    """Passage and sentence vectors, read and replaced by passage row id."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def all_vectors(self, dimension: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Every stored passage vector; rows with a missing or wrong-size vector are skipped."""
        with self._lock:
            rows = self._db.execute("SELECT id, embedding FROM passages ORDER BY id").fetchall()
        ids, vectors = [], []
        for row_id, blob in rows:
            if blob is not None and len(blob) == dimension * 4:
                ids.append(row_id)
                vectors.append(np.frombuffer(blob, dtype=np.float32))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dimension), dtype=np.float32)
        return np.asarray(ids, dtype=np.int64), np.vstack(vectors)

    def vectors_of(self, row_ids: Sequence[int], dimension: int) -> Vectors:
        """The passage vectors of ``row_ids``, in that order."""
        if not row_ids:
            return np.zeros((0, dimension), dtype=np.float32)
        marks = ",".join("?" * len(row_ids))
        with self._lock:
            rows = dict(self._db.execute(
                f"SELECT id, embedding FROM passages WHERE id IN ({marks})", list(row_ids)
            ).fetchall())  # fmt: skip
        return np.vstack([np.frombuffer(rows[i], dtype=np.float32) for i in row_ids])

    @staticmethod
    def set_sentence_vectors(
        db: sqlite3.Connection, ids: Sequence[int], vectors: Sequence[Vectors | None]
    ) -> None:
        db.executemany(
            "UPDATE passages SET sentence_vectors = ? WHERE id = ?",
            [(half_blob(v), i) for i, v in zip(ids, vectors, strict=True)],
        )

    @staticmethod
    def set_vectors(db: sqlite3.Connection, ids: Sequence[int], vectors: Vectors) -> None:
        db.executemany(
            "UPDATE passages SET embedding = ? WHERE id = ?",
            [
                (np.asarray(v, dtype=np.float32).tobytes(), i)
                for i, v in zip(ids, vectors, strict=True)
            ],
        )
