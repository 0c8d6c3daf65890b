"""SQLite: the source of truth for documents, passages and their vectors.

Each passage row keeps the slice of its document's text at its offsets, written in the
same transaction as the document, so reading a passage never reads the document. Row ids of passages are AUTOINCREMENT, never reused,
and double as vector ids in the dense index.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.documents import Document, DocumentInfo, Passage, Span
from index.errors import IndexStateError, NotFoundError
from index.read.passages import NewPassage
from index.store.layouts import layout_from_json, layout_to_json
from index.store.local.tokens import Span as TokenSpan
from index.store.local.tokens import TokenFiles
from index.store.lock import write_lock
from index.store.protocol import StoredPassage

Vectors = npt.NDArray[np.float32]
CACHED_PASSAGES = 4096
"""Decoded passages kept in memory per process (a few MB)."""
TOKEN_CODEC_META = "token_codec"
"""SQLite meta key: the codec new token segments are written with (``tokenstore``)."""


def _run(db: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript() would commit in the middle of our transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _migration_1(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            doc_id TEXT NOT NULL UNIQUE,
            text TEXT NOT NULL,
            title TEXT, source TEXT, url TEXT, published TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL
        );
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            sentences TEXT NOT NULL,
            embedding BLOB,
            UNIQUE (document_id, seq)
        );
        CREATE INDEX passages_document ON passages(document_id);
        """,
    )


def _migration_2(db: sqlite3.Connection) -> None:
    # One float16 row per sentence of the passage, so highlights and sentence scoring need
    # no embedding at query time. NULL (older rows): embedded at query time instead.
    _run(db, "ALTER TABLE passages ADD COLUMN sentence_vectors BLOB;")


def _half(vectors: Vectors | None) -> bytes | None:
    return None if vectors is None else np.asarray(vectors, dtype=np.float16).tobytes()


def _migration_3(db: sqlite3.Connection) -> None:
    # Token vectors for late interaction (content tokens only), apart from the
    # passages so that reading candidates never loads them. A derived cache: a passage
    # without a row here is filled in on open or computed at query time.
    _run(
        db,
        """
        CREATE TABLE passage_tokens (
            passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
            vectors BLOB NOT NULL
        );
        """,
    )


def tokens_blob(vectors: Vectors) -> bytes:
    """Token vectors as int8 codes with one float16 scale per token: half the bytes of
    float16 and the same late-interaction ranking (``eval/reports/quality.md``)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    peak: Vectors = np.abs(vectors).max(axis=1, initial=0.0)
    scales = (np.maximum(peak, 1e-12) / 127).astype(np.float16)
    codes = np.rint(vectors / np.maximum(scales.astype(np.float32), 1e-12)[:, None])
    return scales.tobytes() + np.clip(codes, -127, 127).astype(np.int8).tobytes()


def tokens_from_blob(blob: bytes, dimension: int) -> Vectors | None:
    """The vectors ``tokens_blob`` stored, or None if the blob is not of that dimension."""
    if dimension <= 0:
        return None
    count, rest = divmod(len(blob), dimension + 2)
    if rest:
        return None
    scales = np.frombuffer(blob, dtype=np.float16, count=count).astype(np.float32)
    codes = np.frombuffer(blob, dtype=np.int8, offset=2 * count).reshape(count, dimension)
    return codes.astype(np.float32) * scales[:, None]


def _migration_4(db: sqlite3.Connection) -> None:
    # Token vectors go from float16 to int8 + a scale per token (``tokens_blob``). The
    # dimension comes from the passage's own float32 vector; rows whose passage has none
    # are dropped and filled in again on open.
    rows = db.execute(
        "SELECT t.passage_id, t.vectors, length(p.embedding) FROM passage_tokens t "
        "JOIN passages p ON p.id = t.passage_id"
    ).fetchall()
    for passage_id, blob, size in rows:
        dimension = (size or 0) // 4
        if dimension and len(blob) % (2 * dimension) == 0:
            half = np.frombuffer(blob, dtype=np.float16).reshape(-1, dimension)
            db.execute(
                "UPDATE passage_tokens SET vectors = ? WHERE passage_id = ?",
                (tokens_blob(half.astype(np.float32)), passage_id),
            )
        else:
            db.execute("DELETE FROM passage_tokens WHERE passage_id = ?", (passage_id,))


def _migration_5(db: sqlite3.Connection) -> None:
    # Passage rows carry their own text (and documents their length), so reading a
    # candidate never loads its document's whole text: a query's cost is bounded by
    # the candidates, not by document size. SQLite's substr counts code points, as
    # Python does, so the slice is the same one ``put_document`` writes.
    columns = {row[1] for row in db.execute("PRAGMA table_info(passages)")}
    if "text" not in columns:
        db.execute("ALTER TABLE passages ADD COLUMN text TEXT")
    if "chars" not in {row[1] for row in db.execute("PRAGMA table_info(documents)")}:
        db.execute("ALTER TABLE documents ADD COLUMN chars INTEGER NOT NULL DEFAULT 0")
    _run(
        db,
        """
        UPDATE passages SET text = (SELECT substr(d.text, passages.char_start + 1,
            passages.char_end - passages.char_start) FROM documents d
            WHERE d.id = passages.document_id);
        UPDATE documents SET chars = length(text);
        """,
    )


def _migration_6(db: sqlite3.Connection) -> None:
    # A text file's id was its stem, so notes.md and notes.txt collided; it is now its
    # path with the extension. Top-level files keep their rows under the new id.
    _run(
        db,
        """
        UPDATE OR IGNORE documents SET doc_id = json_extract(metadata, '$.path')
        WHERE json_extract(metadata, '$.path') IN (doc_id || '.txt', doc_id || '.md');
        """,
    )


def _migration_7(db: sqlite3.Connection) -> None:
    # Token vectors leave SQLite for memory-mapped segment files (``tokenstore``): rows
    # here only say where a passage's tokens are. The stored int8 blobs are copied into
    # one segment as they are (no model needed); the next writer compresses them.
    _run(
        db,
        """
        CREATE TABLE token_spans (
            passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
            segment TEXT NOT NULL,
            start INTEGER NOT NULL,
            count INTEGER NOT NULL
        );
        CREATE INDEX token_spans_segment ON token_spans(segment);
        """,
    )
    row = db.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
    if row is not None and int(row[0]) > 0:
        folder = Path(db.execute("PRAGMA database_list").fetchone()[2]).parent / "tokens"
        _copy_token_blobs(db, TokenFiles(folder), int(row[0]))
    db.execute("DROP TABLE passage_tokens")


def _migration_8(db: sqlite3.Connection) -> None:
    # PDFs and Word files: pages and the kept original (``index.store.layouts``), NULL for
    # plain text, so every older row reads back as it was.
    columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    if "layout" not in columns:
        _run(db, "ALTER TABLE documents ADD COLUMN layout TEXT;")


def _copy_token_blobs(db: sqlite3.Connection, files: TokenFiles, dimension: int) -> None:
    """The int8 blobs (scales, then codes) become int8 segment rows (scale, codes) by
    moving bytes, streamed, so a large index never sits in memory decoded."""
    width = dimension + 2
    total = db.execute(
        "SELECT COALESCE(SUM(length(vectors)), 0) FROM passage_tokens "
        f"WHERE length(vectors) % {width} = 0"
    ).fetchone()[0]
    spans: list[tuple[int, TokenSpan]] = []

    def fill(out: npt.NDArray[np.uint8], name: str) -> None:
        at = 0
        for passage_id, blob in db.execute("SELECT passage_id, vectors FROM passage_tokens"):
            count, rest = divmod(len(blob), width)
            if rest:
                continue
            raw = np.frombuffer(blob, dtype=np.uint8)
            out[at : at + count, :2] = raw[: 2 * count].reshape(count, 2)
            out[at : at + count, 2:] = raw[2 * count :].reshape(count, dimension)
            spans.append((int(passage_id), TokenSpan(name, at, count)))
            at += count

    if total:
        files.write_rows(Store.next_segment(db), "int8", (int(total) // width, width), fill)
    Store.set_token_spans(db, [i for i, _ in spans], [span for _, span in spans])


def _token_spans(rows: Iterable[Sequence[object]]) -> dict[int, TokenSpan]:
    return {int(str(i)): TokenSpan(str(seg), int(str(start)), int(str(n)))
            for i, seg, start, n in rows}  # fmt: skip


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
]
"""Numbered schema changes; ``PRAGMA user_version`` holds how many have run."""


class Store:
    """One SQLite file; safe to share between threads (calls are serialized).

    Opening never creates the file unless ``create`` is set: a reader pointed at a
    mistyped data dir is told so instead of getting a new, empty index. A schema from an
    older citeqa is migrated once, under the data dir's write lock.
    """

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        if not create and not path.exists():
            raise IndexStateError(
                f"no index in {path.parent}: run `citeqa ingest PATH` with this data dir first"
            )
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA busy_timeout = 60000")
            self._lock = threading.RLock()
            self._cache: OrderedDict[int, StoredPassage] = OrderedDict()
            if self._version() != len(MIGRATIONS):
                with write_lock(path.parent):
                    self._db.execute("PRAGMA journal_mode = WAL")
                    self._migrate()
        except sqlite3.DatabaseError as exc:
            raise IndexStateError(
                f"cannot open the SQLite database {path}: {exc}. Move it away and ingest again."
            ) from exc

    def close(self) -> None:
        self._db.close()

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self._version()
        if version > len(MIGRATIONS):
            raise IndexStateError(
                f"{self.path} has schema version {version}, newer than this citeqa knows "
                f"({len(MIGRATIONS)}); upgrade citeqa"
            )
        for number in range(version, len(MIGRATIONS)):
            with self.transaction() as db:
                MIGRATIONS[number](db)
                db.execute(f"PRAGMA user_version = {number + 1}")

    def integrity_ok(self) -> bool:
        with self._lock:
            return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: a failure rolls back every write inside the block."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------

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
        number = int(Store.get_meta_in(db, "token_segments") or 0) + 1
        Store.set_meta(db, "token_segments", str(number))
        return number

    @staticmethod
    def bump_generation(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(row[0]) + 1 if row else 1
        Store.set_meta(db, "generation", str(generation))
        return generation

    # -- documents ----------------------------------------------------------------------

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
                 np.asarray(vector, dtype=np.float32).tobytes(), _half(sents),
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

    # -- passages -----------------------------------------------------------------------

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
            [(_half(v), i) for i, v in zip(ids, vectors, strict=True)],
        )

    def passages_without_token_vectors(self) -> list[StoredPassage]:
        with self._lock:
            rows = self._db.execute(
                f"{self._PASSAGE_SQL} LEFT JOIN token_spans t ON t.passage_id = p.id "
                "WHERE t.passage_id IS NULL ORDER BY p.id"
            ).fetchall()
        return [self._passage(row) for row in rows]

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

    @staticmethod
    def set_vectors(db: sqlite3.Connection, ids: Sequence[int], vectors: Vectors) -> None:
        db.executemany(
            "UPDATE passages SET embedding = ? WHERE id = ?",
            [
                (np.asarray(v, dtype=np.float32).tobytes(), i)
                for i, v in zip(ids, vectors, strict=True)
            ],
        )
