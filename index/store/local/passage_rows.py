"""Reading rows of the ``passages`` table as ``StoredPassage``, with a per-process cache
of decoded rows. A mixin of ``Store`` (``db.py``), which owns the connection and lock."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from index.documents import Passage, Span
from index.store.protocol import StoredPassage

Vectors = npt.NDArray[np.float32]
CACHED_PASSAGES = 4096
"""Decoded passages kept in memory per process (a few MB)."""


class PassageRows:
    """Passages by row id, which ones exist, and which still lack derived vectors."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    _cache: OrderedDict[int, StoredPassage]

    _PASSAGE_SQL = (
        "SELECT p.id, d.doc_id, p.seq, p.char_start, p.char_end, p.sentences, p.text, d.title, "
        "p.sentence_vectors "
        "FROM passages p "
        "JOIN documents d ON d.id = p.document_id"
    )

    @staticmethod
    def _passage(row: Sequence[object]) -> StoredPassage:
        row_id, doc_id, seq, start, end, sentences, text, title, blob = row
        spans = tuple(Span(int(s), int(e)) for s, e in json.loads(str(sentences)))
        first, last = int(str(start)), int(str(end))
        # Written with the document, from the same slice, in one transaction.
        passage = Passage(
            f"{doc_id}#{seq}", str(doc_id), int(str(seq)), first, last, str(text), spans
        )
        vectors: Vectors | None = None
        if isinstance(blob, bytes) and spans and len(blob) % (2 * len(spans)) == 0:
            half = np.frombuffer(blob, dtype=np.float16).reshape(len(spans), -1)
            vectors = half.astype(np.float32)
        return StoredPassage(
            int(str(row_id)), passage, None if title is None else str(title), vectors
        )

    def passages(self, row_ids: Sequence[int]) -> dict[int, StoredPassage]:
        """The passages of ``row_ids`` that exist, decoded rows cached: every search
        reads a few dozen, mostly the same ones."""
        if not row_ids:
            return {}
        with self._lock:
            cache = self._cache
            found = {i: cache[i] for i in row_ids if i in cache}
            missing = [i for i in row_ids if i not in found]
            if missing:
                marks = ",".join("?" * len(missing))
                rows = self._db.execute(
                    f"{self._PASSAGE_SQL} WHERE p.id IN ({marks})", missing
                ).fetchall()
                for row in rows:
                    found[int(row[0])] = cache[int(row[0])] = self._passage(row)
                while len(cache) > CACHED_PASSAGES:
                    cache.popitem(last=False)
        return found

    def forget_cached(self) -> None:
        """Drop cached passages (after their vectors changed, here or in another process)."""
        with self._lock:
            self._cache.clear()

    def passage_ids(self) -> npt.NDArray[np.int64]:
        """Every passage row id, ascending: what the derived indexes must hold."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM passages ORDER BY id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def passage_ids_in(
        self, doc_ids: Iterable[str] = (), sources: Iterable[str] = ()
    ) -> npt.NDArray[np.int64]:
        """Row ids of the passages of these documents, or of documents from these sources."""
        docs, srcs = list(doc_ids), list(sources)
        clauses, args = [], []
        if docs:
            clauses.append(f"d.doc_id IN ({','.join('?' * len(docs))})")
            args += docs
        if srcs:
            clauses.append(f"d.source IN ({','.join('?' * len(srcs))})")
            args += srcs
        where = " AND ".join(clauses) or "1"
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id "
                f"WHERE {where} ORDER BY p.id",
                args,
            ).fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def passage_texts(
        self, row_ids: Sequence[int] | None = None
    ) -> Iterator[tuple[int, str, str | None]]:
        """(row id, passage text, document title) for every passage (or those of
        ``row_ids``), in row id order."""
        where, args = "", list(row_ids or [])
        if row_ids is not None:
            where = f"WHERE p.id IN ({','.join('?' * len(args))})"
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id, p.text, d.title FROM passages p "
                f"JOIN documents d ON d.id = p.document_id {where} ORDER BY p.id",
                args,
            ).fetchall()
        for row_id, text, title in rows:
            yield int(row_id), str(text), None if title is None else str(title)

    def all_passages(self) -> Iterator[StoredPassage]:
        with self._lock:
            rows = self._db.execute(f"{self._PASSAGE_SQL} ORDER BY p.id").fetchall()
        for row in rows:
            yield self._passage(row)

    def needs_backfill(self, tokens: bool) -> bool:
        """Whether some passage lacks sentence vectors (or, with ``tokens``, token vectors):
        an index from before they were stored. EXISTS, so no row is read into Python."""
        query = "SELECT EXISTS(SELECT 1 FROM passages WHERE sentence_vectors IS NULL)"
        if tokens:
            query += (" OR EXISTS(SELECT 1 FROM passages p LEFT JOIN token_spans t "
                      "ON t.passage_id = p.id WHERE t.passage_id IS NULL)")  # fmt: skip
        with self._lock:
            return bool(self._db.execute(query).fetchone()[0])

    def passages_without_sentence_vectors(self) -> list[StoredPassage]:
        with self._lock:
            rows = self._db.execute(
                f"{self._PASSAGE_SQL} WHERE p.sentence_vectors IS NULL ORDER BY p.id"
            ).fetchall()
        return [self._passage(row) for row in rows]

    def passages_without_token_vectors(self) -> list[StoredPassage]:
        with self._lock:
            rows = self._db.execute(
                f"{self._PASSAGE_SQL} LEFT JOIN token_spans t ON t.passage_id = p.id "
                "WHERE t.passage_id IS NULL ORDER BY p.id"
            ).fetchall()
        return [self._passage(row) for row in rows]
