"""The storage seam: everything search and ingest ask of wherever the index lives.

``Engine`` and ``Writer`` talk only to a ``Storage``. ``index.store.local.storage`` is the default (SQLite
for documents and passages, FAISS and bm25s files beside it, token segments); ``index.store.milvus.storage``
keeps the same things in Milvus, so any number of stateless servers can share them. Both
hand back the same nouns (``StoredPassage``, ``DocumentInfo``), so ranking, highlights and
the answerable verdict never know which one answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import numpy.typing as npt

from index.documents import Document, DocumentInfo, Passage, Span
from index.model.embedder import Vectors
from index.read.passages import NewPassage
from index.timing import Laps

Ids = npt.NDArray[np.int64]
Ranked = list[tuple[int, float]]
"""(passage id, score) pairs, best first."""

TITLE_META = "title_in_index"


@dataclass(frozen=True)
class StoredPassage:
    """A passage with its row id (the vector id)."""

    row_id: int
    passage: Passage
    title: str | None = None
    sentence_vectors: Vectors | None = None
    """One unit vector per sentence of the passage, or None when not stored."""


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some documents or sources (exact match); a value that matches
    no stored document makes ``Engine.search`` raise ``BadQueryError`` naming it.

    ``published_after`` / ``published_before`` (inclusive) keep documents published in
    that range; the engine turns them into ``doc_ids`` before storage sees the filter."""

    doc_ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    published_after: date | None = None
    published_before: date | None = None

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.sources or self.dated)

    @property
    def dated(self) -> bool:
        return self.published_after is not None or self.published_before is not None


@dataclass(frozen=True)
class Staged:
    """One document ready to be written: its passages and their vectors, in order."""

    document: Document
    digest: str
    passages: tuple[NewPassage, ...]
    vectors: Vectors
    sentence_vectors: Sequence[Vectors | None]
    token_vectors: Sequence[Vectors] | None


@dataclass(frozen=True)
class CompactReport:
    """What a compaction did: the dense index it left, token segments merged (rows of
    deleted passages dropped) and the store's size on disk before and after."""

    generation: int
    dense_before: str
    dense_after: str
    token_segments_before: int = 0
    token_segments_after: int = 0
    token_rows_dropped: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    note: str = ""


@dataclass(frozen=True)
class TokenRows:
    """Late interaction's input: the token vectors of the passages that have them, stacked,
    with each passage's row count."""

    ids: list[int]
    vectors: Vectors
    counts: list[int]


class Storage(Protocol):
    """Documents and their text, passages, passage/sentence/token vectors, BM25."""

    kind: str

    # -- lifecycle ------------------------------------------------------------------------
    def load(self) -> None:
        """Open what a reader needs; a new reader never writes."""

    def refresh(self) -> bool:
        """Follow writes made elsewhere; True when what is searched changed."""

    def close(self) -> None: ...

    @property
    def size(self) -> int:
        """Searchable passages."""

    @property
    def generation(self) -> int:
        """A number every committed write increases."""

    def get_meta(self, key: str) -> str | None: ...

    def counts(self) -> tuple[int, int]:
        """(documents, passages) stored."""

    # -- documents ------------------------------------------------------------------------
    def document(self, doc_id: str) -> Document:
        """The whole document; NotFoundError naming how to list ids when absent."""

    def documents(self) -> list[DocumentInfo]: ...

    def infos(self, doc_ids: Iterable[str]) -> dict[str, DocumentInfo]: ...

    def sources(self) -> set[str]: ...

    def passage_spans(self, doc_id: str) -> list[Span]: ...

    def content_hash(self, doc_id: str) -> str | None: ...

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
        """The dense and the BM25 candidates (each empty when ``mode`` leaves it out),
        timed as the "dense" and "lexical" stages."""

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Those of ``ids`` that still exist, with their sentence vectors."""

    def token_rows(self, ids: Sequence[int], dimension: int) -> TokenRows: ...

    def passage_vectors(self, ids: Sequence[int], dimension: int) -> Vectors:
        """The stored vectors of ``ids``, in order (to copy an index elsewhere)."""

    def text_of(self, stored: StoredPassage) -> str:
        """What the embedder and BM25 saw for this passage."""

    # -- writing (one writer at a time, under ``write_lock``) -------------------------------
    def write_lock(self) -> AbstractContextManager[None]: ...

    def repair(self) -> None:
        """Before a run of writes: finish what a crashed writer left (under the lock)."""

    def commit(
        self, staged: Sequence[Staged], empty: Sequence[str], meta: Mapping[str, str]
    ) -> int:
        """Replace these documents, drop the ``empty`` ones, set ``meta``, all or nothing;
        returns the new generation. The caller holds ``write_lock``."""

    def delete(self, doc_id: str) -> bool: ...

    @property
    def wants_compact(self) -> bool:
        """Writes left the dense index other than its size calls for (e.g. exact past
        the IVF limit, because a write never trains): ``compact`` fixes it."""

    def compact(self) -> CompactReport:
        """Retrain the dense index if its size calls for it, merge token segments and
        reclaim the space of deleted rows; the caller holds the lock. Readers keep
        searching the generation they hold and swap to the new one."""

    def all_passages(self) -> list[StoredPassage]: ...

    def replace_vectors(
        self,
        ids: Sequence[int],
        vectors: Vectors,
        sentence_vectors: Sequence[Vectors | None],
        token_vectors: Sequence[Vectors] | None,
        meta: Mapping[str, str],
    ) -> int:
        """Every passage re-embedded (after a model change); the caller holds the lock."""

    def needs_backfill(self, tokens: bool) -> bool: ...

    def missing_sentence_vectors(self) -> list[StoredPassage]: ...

    def set_sentence_vectors(self, ids: Sequence[int], vectors: Sequence[Vectors]) -> None: ...

    def missing_token_vectors(self) -> list[StoredPassage]: ...

    def add_token_vectors(self, ids: Sequence[int], vectors: Sequence[Vectors]) -> None: ...
