"""The default storage: one data dir on one machine.

SQLite holds documents, passages and their vectors (the source of truth, one transaction
per write); FAISS and bm25s indexes are derived from it as numbered generations
(``indexfiles``); token vectors live in memory-mapped segment files (``tokenstore``). Any
number of processes read one data dir; writes take its lock (``lock``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from sqlite3 import Connection

import numpy as np

from index.config import EngineConfig
from index.documents import Document, DocumentInfo, Span
from index.model.embedder import Vectors
from index.store.codecs import Codec, Int8Codec, PQCodec
from index.store.local.compaction import describe, disk_bytes, merge_tokens
from index.store.local.db import TOKEN_CODEC_META, Store
from index.store.local.generations import IndexFiles
from index.store.local.tokens import TRAIN_TOKENS, TokenFiles
from index.store.lock import write_lock
from index.store.protocol import (
    CompactReport,
    Filters,
    Ranked,
    Staged,
    StoredPassage,
    TokenRows,
)
from index.timing import Laps

log = logging.getLogger("citeqa")


class LocalStorage:
    """SQLite + FAISS + bm25s + token segments in ``config.data_dir``."""

    kind = "local"

    def __init__(self, config: EngineConfig, *, create: bool = False) -> None:
        self.config = config
        if create:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.data_dir / "citeqa.sqlite3", create=create)
        self.files = IndexFiles(config, self.store)
        self.tokens = TokenFiles(config.data_dir / "tokens")

    # -- lifecycle ------------------------------------------------------------------------

    def load(self) -> None:
        self.files.load()

    def refresh(self) -> bool:
        swapped = self.files.refresh()
        if swapped:
            self.tokens.forget_deleted()  # a writer may have removed segments
            self.store.forget_cached()  # ... or re-embedded passages (reindex)
        return swapped

    def close(self) -> None:
        self.store.close()

    @property
    def size(self) -> int:
        return self.files.size

    @property
    def generation(self) -> int:
        return self.files.current.generation

    def get_meta(self, key: str) -> str | None:
        return self.store.get_meta(key)

    def counts(self) -> tuple[int, int]:
        return self.store.counts()

    # -- documents ------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        return self.store.document(doc_id)

    def documents(self) -> list[DocumentInfo]:
        return self.store.documents()

    def infos(self, doc_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        return self.store.infos(doc_ids)

    def sources(self) -> set[str]:
        return self.store.sources()

    def passage_spans(self, doc_id: str) -> list[Span]:
        return self.store.passage_spans(doc_id)

    def content_hash(self, doc_id: str) -> str | None:
        return self.store.content_hash(doc_id)

    # -- search ---------------------------------------------------------------------------

    def retrieve(
        self,
        question: str,
        query: Vectors,
        depth: int,
        mode: str,
        filters: Filters | None,
        laps: Laps,
    ) -> tuple[Ranked, Ranked]:
        snapshot = self.files.current  # both lists come from one generation
        allowed = self.store.passage_ids_in(filters.doc_ids, filters.sources) if filters else None
        dense = snapshot.dense.search(query, depth, allowed) if mode != "lexical" else []
        laps.lap("dense", mode != "lexical")
        lexical = snapshot.lexical.search(question, depth, allowed) if mode != "dense" else []
        laps.lap("lexical", mode != "dense")
        return dense, lexical

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        return self.store.passages(ids)

    def token_rows(self, ids: Sequence[int], dimension: int) -> TokenRows:
        for attempt in (1, 2):
            spans = self.store.token_spans(ids)
            known = [i for i in ids if i in spans]
            try:
                found = self.tokens.gather([spans[i] for i in known], dimension)
                break
            except FileNotFoundError:  # a writer replaced these passages meanwhile
                if attempt == 2:
                    raise
        return TokenRows(known, found, [spans[i].count for i in known])

    def passage_vectors(self, ids: Sequence[int], dimension: int) -> Vectors:
        return self.store.vectors_of(ids, dimension)

    def text_of(self, stored: StoredPassage) -> str:
        return self.files.text_of(stored)

    # -- writing --------------------------------------------------------------------------

    def write_lock(self) -> AbstractContextManager[None]:
        return write_lock(self.config.data_dir, self.config.lock_timeout)

    def repair(self) -> None:
        self.files.sync()
        self.tokens.sweep(self.store.token_segments())

    def commit(
        self, staged: Sequence[Staged], empty: Sequence[str], meta: Mapping[str, str]
    ) -> int:
        """One transaction and one generation (the caller holds the lock)."""
        self.files.sync()
        removed: list[int] = []
        added: list[int] = []
        token_ids: list[int] = []
        tokens: list[Vectors] = []
        with self.store.transaction() as db:
            for item in staged:
                removed += Store.passage_ids_of(db, item.document.doc_id)
                ids = Store.put_document(
                    db, item.document, item.digest, item.passages, item.vectors,
                    item.sentence_vectors,
                )  # fmt: skip
                added += ids
                if item.token_vectors is not None:  # a copied index may lack some
                    token_ids += ids
                    tokens += item.token_vectors
            for doc_id in empty:  # a document emptied since it was stored goes away
                removed += Store.passage_ids_of(db, doc_id)
                Store.delete_document(db, doc_id)
            self._put_tokens(db, token_ids, tokens)
            for key, value in meta.items():
                Store.set_meta(db, key, value)
            generation = Store.bump_generation(db)
        vectors = [item.vectors for item in staged if len(item.vectors)]
        self.files.publish(
            generation,
            np.asarray(removed, dtype=np.int64),
            np.asarray(added, dtype=np.int64),
            np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32),
        )
        self.tokens.sweep(self.store.token_segments())  # replaced or re-encoded ones
        return generation

    def _put_tokens(self, db: Connection, ids: Sequence[int], vectors: Sequence[Vectors]) -> None:
        """Write passages' token vectors as one new segment (inside the caller's
        transaction, before its commit). Once enough tokens are stored to train the
        product quantizer, it is trained and every stored token is re-encoded with it."""
        ids, vectors = list(ids), list(vectors)
        if not vectors:
            return
        dimension = int(vectors[0].shape[1])
        name = Store.get_meta_in(db, TOKEN_CODEC_META) or "int8"
        if name != "int8":
            codec: Codec = self.tokens.codec(name, dimension)
        else:
            codec = Int8Codec(dimension)
            stored = Store.token_count_in(db)
            if PQCodec.fits(dimension) and stored + sum(map(len, vectors)) >= TRAIN_TOKENS:
                old = Store.token_spans_in(db)
                olds = self.tokens.split(list(old.values()), dimension)
                sample = np.concatenate([*olds, *vectors])
                codec = PQCodec.train(_sample(sample), f"x{Store.next_segment(db)}")
                self.tokens.save_codec(codec)
                Store.set_meta(db, TOKEN_CODEC_META, codec.name)
                log.info("token vectors: trained %s on %d tokens", codec.name, len(sample))
                ids, vectors = [*old, *ids], [*olds, *vectors]
        spans = self.tokens.write(Store.next_segment(db), codec, vectors)
        Store.set_token_spans(db, ids, spans)

    def delete(self, doc_id: str) -> bool:
        """Remove one document and its passages (the caller holds the lock)."""
        self.files.sync()
        with self.store.transaction() as db:
            removed = Store.passage_ids_of(db, doc_id)
            if not Store.delete_document(db, doc_id):
                return False
            generation = Store.bump_generation(db)
        empty = np.zeros(0, dtype=np.int64)
        self.files.publish(
            generation, np.asarray(removed, dtype=np.int64), empty,
            np.zeros((0, self.files.current.dense.dimension), dtype=np.float32),
        )  # fmt: skip
        self.tokens.sweep(self.store.token_segments())
        return True

    @property
    def wants_compact(self) -> bool:
        return self.files.needs_tuning

    def compact(self) -> CompactReport:
        """One new generation: the dense index retrained if its size calls for it and
        saved as one base, token segments merged, then SQLite vacuumed (the caller
        holds the lock; readers keep the generation they loaded until they refresh)."""
        self.files.sync()
        before = disk_bytes(self.config.data_dir)
        dense_before = describe(self.files.current.dense)
        with self.store.transaction() as db:
            segments_before, segments_after, dropped = merge_tokens(db, self.tokens)
            generation = Store.bump_generation(db)
        self.files.compact(generation)
        self.tokens.sweep(self.store.token_segments())
        self.store.vacuum()
        return CompactReport(
            generation, dense_before, describe(self.files.current.dense), segments_before,
            segments_after, dropped, before, disk_bytes(self.config.data_dir),
        )  # fmt: skip

    def all_passages(self) -> list[StoredPassage]:
        return list(self.store.all_passages())

    def replace_vectors(
        self,
        ids: Sequence[int],
        vectors: Vectors,
        sentence_vectors: Sequence[Vectors | None],
        token_vectors: Sequence[Vectors] | None,
        meta: Mapping[str, str],
    ) -> int:
        with self.store.transaction() as db:
            Store.set_vectors(db, ids, vectors)
            Store.set_sentence_vectors(db, ids, sentence_vectors)
            Store.clear_token_vectors(db)
            Store.set_meta(db, TOKEN_CODEC_META, "int8")
            if token_vectors is not None:
                self._put_tokens(db, ids, token_vectors)
            for key, value in meta.items():
                Store.set_meta(db, key, value)
            generation = Store.bump_generation(db)
        self.files.rebuild()
        self.tokens.sweep(self.store.token_segments())
        self.store.forget_cached()
        return generation

    def needs_backfill(self, tokens: bool) -> bool:
        return self.store.needs_backfill(tokens)

    def missing_sentence_vectors(self) -> list[StoredPassage]:
        return self.store.passages_without_sentence_vectors()

    def set_sentence_vectors(self, ids: Sequence[int], vectors: Sequence[Vectors]) -> None:
        with self.store.transaction() as db:
            Store.set_sentence_vectors(db, ids, vectors)
        self.store.forget_cached()

    def missing_token_vectors(self) -> list[StoredPassage]:
        return self.store.passages_without_token_vectors()

    def add_token_vectors(self, ids: Sequence[int], vectors: Sequence[Vectors]) -> None:
        with self.store.transaction() as db:
            self._put_tokens(db, ids, vectors)


def _sample(vectors: Vectors, limit: int = 25_000) -> Vectors:
    """At most ``limit`` rows, evenly spread: enough to train the codec in seconds."""
    if len(vectors) <= limit:
        return vectors
    picked: Vectors = vectors[np.linspace(0, len(vectors) - 1, limit).astype(np.int64)]
    return picked
