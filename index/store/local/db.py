"""SQLite: the source of truth for documents, passages and their vectors.

Each passage row keeps the slice of its document's text at its offsets, written in the
same transaction as the document, so reading a passage never reads the document. Row ids of passages are AUTOINCREMENT, never reused,
and double as vector ids in the dense index.

The connection, its lock, transactions and migrating (``schema.py``) are here; the rows
of each kind have a mixin of their own (``doc_rows``, ``passage_rows``, ``vector_rows``,
``token_rows``, ``meta_rows``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IndexStateError
from index.store.local.doc_rows import DocumentRows
from index.store.local.meta_rows import MetaRows
from index.store.local.passage_rows import CACHED_PASSAGES, PassageRows
from index.store.local.schema import MIGRATIONS, tokens_blob, tokens_from_blob
from index.store.local.token_rows import TokenSpanRows
from index.store.local.vector_rows import VectorRows
from index.store.lock import write_lock
from index.store.protocol import StoredPassage

__all__ = ["CACHED_PASSAGES", "TOKEN_CODEC_META", "Store", "tokens_blob", "tokens_from_blob"]

TOKEN_CODEC_META = "token_codec"
"""SQLite meta key: the codec new token segments are written with (``tokenstore``)."""


class Store(DocumentRows, PassageRows, VectorRows, TokenSpanRows, MetaRows):
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

    def vacuum(self) -> None:
        """Give deleted rows' pages back to the file system (outside any transaction;
        waits for readers like any write)."""
        with self._lock:
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
