"""Rows of the ``documents`` table: writing a document with its passages, reading
documents and their listing. A mixin of ``Store`` (``db.py``), which owns the connection."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from index.documents import Document, DocumentInfo, Span
from index.errors import NotFoundError
from index.read.passages import NewPassage
from index.store.layouts import layout_from_json, layout_to_json
from index.store.local.vector_rows import half_blob

Vectors = npt.NDArray[np.float32]


class DocumentRows:
    """Documents by id; ``put_document`` writes a document and its passage rows at once."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def content_hash(self, doc_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT content_hash FROM documents WHERE doc_id = ?", (doc_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def put_document(
        db: sqlite3.Connection,
        doc: Document,
        content_hash: str,
        passages: Sequence[NewPassage],
        vectors: Vectors,
        sentence_vectors: Sequence[Vectors | None] | None = None,
    ) -> list[int]:
        """Insert or replace one document and its passages; return the new passage row ids."""
        db.execute("DELETE FROM documents WHERE doc_id = ?", (doc.doc_id,))
        cursor = db.execute(
            "INSERT INTO documents (doc_id, text, title, source, url, published, metadata, "
            "content_hash, chars, layout) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.doc_id, doc.text, doc.title, doc.source, doc.url, doc.published,
             json.dumps(dict(doc.metadata)), content_hash, len(doc.text),
             layout_to_json(doc.layout)),
        )  # fmt: skip
        document_row = cursor.lastrowid
        ids: list[int] = []
        per_sentence = sentence_vectors or [None] * len(passages)
        for passage, vector, sents in zip(passages, vectors, per_sentence, strict=True):
            cursor = db.execute(
                "INSERT INTO passages (document_id, seq, char_start, char_end, sentences, "
                "embedding, sentence_vectors, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (document_row, passage.seq, passage.span.start, passage.span.end,
                 json.dumps([[s.start, s.end] for s in passage.sentences]),
                 np.asarray(vector, dtype=np.float32).tobytes(), half_blob(sents),
                 doc.text[passage.span.start : passage.span.end]),
            )  # fmt: skip
            ids.append(int(cursor.lastrowid or 0))
        return ids

    @staticmethod
    def passage_ids_of(db: sqlite3.Connection, doc_id: str) -> list[int]:
        rows = db.execute(
            "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id "
            "WHERE d.doc_id = ?",
            (doc_id,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    @staticmethod
    def delete_document(db: sqlite3.Connection, doc_id: str) -> bool:
        return db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount > 0

    def document(self, doc_id: str) -> Document:
        with self._lock:
            row = self._db.execute(
                "SELECT doc_id, text, title, source, url, published, metadata, layout "
                "FROM documents "
                "WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no document with id {doc_id!r}; GET /v1/documents (or `citeqa documents`) "
                "lists the ids"
            )
        return Document(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]),
                        layout=layout_from_json(row[7]))  # fmt: skip

    def passage_spans(self, doc_id: str) -> list[Span]:
        """Where the document's passages lie, in order; text outside them was skipped."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.char_start, p.char_end FROM passages p JOIN documents d "
                "ON d.id = p.document_id WHERE d.doc_id = ? ORDER BY p.seq",
                (doc_id,),
            ).fetchall()
        return [Span(int(a), int(b)) for a, b in rows]

    _INFO_SQL = (
        "SELECT d.doc_id, d.title, d.source, d.url, d.published, "
        "(SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id), d.chars, d.layout "
        "FROM documents d"
    )

    @staticmethod
    def _info(row: Sequence[Any]) -> DocumentInfo:
        doc_id, title, source, url, published, passages, chars, layout = row
        return DocumentInfo(doc_id, title, source, url, published, passages, chars,
                            layout_from_json(layout))  # fmt: skip

    def documents(self) -> list[DocumentInfo]:
        with self._lock:
            rows = self._db.execute(f"{self._INFO_SQL} ORDER BY d.doc_id").fetchall()
        return [self._info(row) for row in rows]

    def infos(self, doc_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        """Listing rows for some documents, by id."""
        wanted = list(doc_ids)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._lock:
            rows = self._db.execute(f"{self._INFO_SQL} WHERE d.doc_id IN ({marks})", wanted)
            return {row[0]: self._info(row) for row in rows.fetchall()}

    def sources(self) -> set[str]:
        """The distinct ``source`` values of the stored documents (a filter checks against them)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT source FROM documents WHERE source IS NOT NULL"
            ).fetchall()
        return {str(row[0]) for row in rows}

    def counts(self) -> tuple[int, int]:
        with self._lock:
            docs = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            passages = self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        return int(docs), int(passages)
