"""The engine: the one object callers hold, over a storage, an embedder and a writer.

It checks input, holds the lock that orders writes against storage swaps, and runs a
search's steps in order; each step lives in its room (``write`` for writing, ``store``
for candidates, ``search`` for ranking, highlights and the answerable verdict).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from index.config import MODES, EngineConfig
from index.documents import Document, DocumentInfo, Original, Passage, SearchResult, Span
from index.errors import BadQueryError, IndexStateError, ModelMismatchError
from index.model.embedder import Embedder, Vectors, embedder_for
from index.model.tokens import content_vectors
from index.search.answerable import is_answerable
from index.search.dates import in_range
from index.search.fusion import collapse
from index.search.ranking import Ranker, distinct_highlights
from index.search.rerank import CrossEncoderReranker
from index.store.factory import open_storage
from index.store.local.db import Store
from index.store.local.generations import IndexFiles
from index.store.local.storage import LocalStorage
from index.store.local.tokens import TokenFiles
from index.store.protocol import TITLE_META, CompactReport, Filters, Storage
from index.timing import Laps, Progress
from index.validation import linkable
from index.write.ingest import IngestReport, Writer

log = logging.getLogger("citeqa")


ANSWERABLE_DEPTH = 5
"""How many top results the answerable verdict reads, whatever ``top_k`` asks for."""


class Engine:
    """Index documents and answer questions with cited passages.

    Any number of engines, in any processes, may read one data dir; writes (``ingest``,
    ``delete``, ``reindex``) take its write lock, one at a time. ``refresh`` swaps to a
    generation another process wrote; a search runs on the generation it started on.
    """

    def __init__(
        self,
        config: EngineConfig,
        embedder: Embedder | None = None,
        *,
        check_model: bool = True,
        create: bool = False,
    ) -> None:
        """Open the store. ``create`` makes a new data dir when there is none (writers
        only); ``check_model=False`` only for ``reindex`` after a model change."""
        self.config = config
        self.embedder = embedder or embedder_for(config)
        self.storage: Storage = open_storage(config, create=create)
        if check_model:
            self._check_model()
        self.writer = Writer(config, self.storage, self.embedder)
        self.reranker = (
            CrossEncoderReranker(config.reranker, config.device) if config.reranker else None
        )
        self.ranker = Ranker(config, self.storage, self.embedder, self.reranker)
        self._swap = threading.Lock()

    @classmethod
    def open(
        cls,
        config: EngineConfig,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
        *,
        create: bool = False,
    ) -> Engine:
        """Open the data dir and load its newest generation; reading never writes.

        ``progress`` is accepted for callers that show one; loading is quick."""
        engine = cls(config, embedder, create=create)
        engine.storage.load()
        return engine

    def close(self) -> None:
        """Close the storage, after a write in progress in this process (which holds the
        same lock) has committed: a server shutting down never cuts a write short."""
        with self._swap:
            self.storage.close()

    @property
    def size(self) -> int:
        """How many passages are searchable."""
        return self.storage.size

    @property
    def generation(self) -> int:
        """The generation searches run on."""
        return self.storage.generation

    def refresh(self) -> bool:
        """Follow writes made elsewhere (locally, a stat when there were none)."""
        with self._swap:
            return self.storage.refresh()

    def _local(self) -> LocalStorage:
        if not isinstance(self.storage, LocalStorage):
            raise IndexStateError(f"this needs the local store, not {self.storage.kind}")
        return self.storage

    @property
    def store(self) -> Store:
        """The local store's SQLite file (tools and tests that look inside it)."""
        return self._local().store

    @property
    def files(self) -> IndexFiles:
        return self._local().files

    @property
    def tokens(self) -> TokenFiles:
        return self._local().tokens

    def _check_model(self) -> None:
        built_with = self.storage.get_meta("model")
        if built_with is not None and built_with != self.embedder.name:
            raise ModelMismatchError(
                f"the index in {self.config.data_dir} was built with model {built_with!r}, but "
                f"the configured model is {self.embedder.name!r}. Set CITEQA_MODEL={built_with} "
                "(or --model), or re-embed with `citeqa reindex`, or use another data dir."
            )
        built_title = self.storage.get_meta(TITLE_META)
        if built_title is None and self.storage.counts()[1]:
            built_title = "False"  # built before the setting existed: no titles
        if built_title is not None and built_title != str(self.config.title_in_index):
            raise ModelMismatchError(
                f"the index in {self.config.data_dir} was built with title_in_index="
                f"{built_title}, but the setting is {self.config.title_in_index}. Change it "
                "back, or re-embed with `citeqa reindex`, or use another data dir."
            )

    # -- writing ------------------------------------------------------------------------

    def ingest(
        self, documents: Iterable[Document], progress: Progress | None = None, total: int = 0
    ) -> IngestReport:
        """Add new documents, replace changed ones, skip unchanged ones (by content hash),
        in batches of ``config.ingest_batch`` documents (or ``ingest_passages`` passages),
        each committed and searchable on its own."""
        with self._swap:
            if self.storage.needs_backfill(tokens=self.config.keeps_tokens):
                self.writer.backfill(progress)
            return self.writer.ingest(documents, progress, total)

    def delete(self, doc_id: str) -> None:
        """Remove one document and its passages; NotFoundError if it is not there."""
        with self._swap:
            if not self.writer.delete(doc_id):
                self.storage.document(doc_id)  # raises NotFoundError with the usual message

    def compact(self) -> CompactReport:
        """Train the dense index its size calls for (writes never do), merge token
        segments and reclaim deleted rows' space; searches go on meanwhile."""
        with self._swap:
            return self.writer.compact()

    @property
    def wants_compact(self) -> bool:
        return self.storage.wants_compact

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every passage with the configured model (after a model change)."""
        with self._swap:
            return self.writer.reindex(progress)

    # -- reading ------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        return linkable(self.storage.document(doc_id))

    def original(self, doc_id: str) -> tuple[Original, Path]:
        """The kept original file of a document (PDF, Word); NotFoundError saying why not."""
        doc = self.storage.document(doc_id)
        path = self.writer.originals.find(doc_id, doc.layout.original)
        assert doc.layout.original is not None  # find() refused a document without one
        return doc.layout.original, path

    def documents(self) -> list[DocumentInfo]:
        return [linkable(info) for info in self.storage.documents()]

    def indexed_spans(self, doc_id: str) -> list[Span]:
        """The parts of a document its passages cover, merged (what cleaning kept); the
        rest of the text (mastheads, captions, appeals) is never searched or cited."""
        merged: list[Span] = []
        for span in self.storage.passage_spans(doc_id):
            if merged and span.start <= merged[-1].end:
                merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
            else:
                merged.append(span)
        return merged

    def document_info(self, doc_id: str) -> DocumentInfo:
        """The listing row of one document; NotFoundError if it is not there."""
        found = self.storage.infos([doc_id])
        if doc_id not in found:
            self.storage.document(doc_id)  # raises NotFoundError with the usual message
        return linkable(found[doc_id])

    @staticmethod
    def _check_query(question: str, mode: str, top_k: int) -> str:
        question = question.strip()
        if not question:
            raise BadQueryError("the question is empty; ask something, e.g. 'what did Bolton say?'")
        if mode not in MODES:
            raise BadQueryError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        if top_k < 1:
            raise BadQueryError(f"top_k must be 1 or more, got {top_k}")
        try:
            question.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadQueryError(
                f"the question is not valid Unicode text ({exc.reason} at character "
                f"{exc.start}); send it as UTF-8"
            ) from None
        return question

    def search(
        self, question: str, top_k: int = 5, mode: str = "hybrid", filters: Filters | None = None
    ) -> SearchResult:
        """The ``top_k`` best passages for ``question``, each with its best sentence."""
        started = time.perf_counter()
        laps = Laps()  # SearchResult.stages
        question = self._check_query(question, mode, top_k)
        if filters:
            self._check_filters(filters)
            filters = self._by_date(filters)
        laps.lap("filter", filters is not None)
        if filters is not None and filters.dated:  # no document was published then
            took = (time.perf_counter() - started) * 1000
            return SearchResult(question, mode, False, (), took, laps.ms)
        query, tokens = self._embed_question(question, mode)
        laps.lap("embed")
        # "Not in the corpus" is judged on the same number of results whatever top_k is,
        # so asking for one passage or twenty never changes the verdict.
        wanted = max(top_k, ANSWERABLE_DEPTH)
        # Twice as many as wanted: overlapping passages that share their best sentence
        # count once, and the spares fill the gap (sentence vectors are stored, so
        # highlighting the spares costs a dot product each).
        depth = max(self.config.candidates, wanted * 8)
        late = tokens if self._late_on(mode) else None
        order = self.ranker.fuse(question, query, mode, depth, late, filters, laps)
        ranked = collapse(order, lambda c: c.stored.passage.text, wanted * 2)
        by_tokens = tokens if self.config.verdict_reads_tokens else None
        hits = distinct_highlights(self.ranker.hits(question, query, ranked, by_tokens), wanted)
        laps.lap("highlight")
        answerable = is_answerable(
            question,
            hits[:ANSWERABLE_DEPTH],
            self.config.answerable_threshold,
            names=self.config.answerable_names,
            quantities=self.config.answerable_quantities,
            by_tokens=self.config.verdict_reads_tokens,
        )
        laps.lap("answerable")
        took = (time.perf_counter() - started) * 1000
        return SearchResult(question, mode, answerable, tuple(hits[:top_k]), took, laps.ms)

    def _by_date(self, filters: Filters) -> Filters:
        """A date range as the documents published in it (intersected with ``doc_ids``);
        still ``dated`` when none was."""
        if not filters.dated:
            return filters
        after, before = filters.published_after, filters.published_before
        if after and before and after > before:
            raise BadQueryError(
                f"published_after {after} is later than published_before {before}; swap them"
            )
        wanted = {
            info.doc_id
            for info in self.storage.documents()
            if in_range(info.published, after, before)
            and (not filters.doc_ids or info.doc_id in filters.doc_ids)
        }
        if not wanted:
            return filters
        return replace(filters, doc_ids=frozenset(wanted), published_after=None,
                       published_before=None)  # fmt: skip

    def _check_filters(self, filters: Filters) -> None:
        """Both filters behave one way: a value that matches no document is an error naming
        it, never a silently empty answer."""
        if filters.doc_ids:
            unknown = sorted(filters.doc_ids - set(self.storage.infos(filters.doc_ids)))
            if unknown:
                raise BadQueryError(
                    f"unknown doc_ids in filters: {', '.join(map(repr, unknown))}; "
                    "GET /v1/documents lists the ids"
                )
        if filters.sources:
            unknown = sorted(filters.sources - self.storage.sources())
            if unknown:
                raise BadQueryError(
                    f"unknown sources in filters: {', '.join(map(repr, unknown))}; "
                    "GET /v1/documents lists each document's source (exact, case-sensitive)"
                )

    def _embed_question(self, question: str, mode: str) -> tuple[Vectors, Vectors | None]:
        """The question's vector and, when late interaction or the answerable check will
        read them, its content token vectors, from one pass of the model."""
        if not (self._late_on(mode) or self.config.verdict_reads_tokens):
            return self.embedder.embed(question), None
        vector, tokens = self.embedder.embed_with_tokens(question)
        return vector, content_vectors(tokens)

    def _late_on(self, mode: str) -> bool:
        return mode == "hybrid" and self.config.late_weight > 0

    def retrieve(
        self, question: str, depth: int, mode: str = "hybrid"
    ) -> list[tuple[Passage, float]]:
        """Up to ``depth`` ranked passages with their fused scores, without highlights or
        duplicate collapsing: the first stage of ``search``, for benchmarks."""
        question = self._check_query(question, mode, depth)
        query, tokens = self._embed_question(question, mode)
        late = tokens if self._late_on(mode) else None
        order = self.ranker.fuse(question, query, mode, depth, late)[:depth]
        return [(c.stored.passage, c.score) for c in order]
