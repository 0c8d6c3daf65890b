"""The SQLite schema: the numbered migrations an index goes through, oldest first.

Apart from the row mixins: changing the schema means adding a migration here.
``tokens_blob`` lives here as the format migration 4 wrote and migration 7 copies out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.store.local.meta_rows import MetaRows
from index.store.local.token_rows import TokenSpanRows
from index.store.local.tokens import Span as TokenSpan
from index.store.local.tokens import TokenFiles

Vectors = npt.NDArray[np.float32]


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
        files.write_rows(MetaRows.next_segment(db), "int8", (int(total) // width, width), fill)
    TokenSpanRows.set_token_spans(db, [i for i, _ in spans], [span for _, span in spans])


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
