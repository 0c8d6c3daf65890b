"""The engine: one object that owns the store, the indexes and the embedder.

It delegates each step to its own module (``ingest`` for writing; passages, store,
dense, sparse, fusion, highlight for answering); what lives here is the order of the
steps of a search.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from index.config import MODES, EngineConfig
from index.documents import Document, DocumentInfo, Hit, Passage, SearchResult, Span
from index.errors import BadQueryError, IndexStateError, ModelMismatchError
from index.model.embedder import Embedder, Vectors, embedder_for
from index.model.tokens import content_vectors, passage_tokens
from index.search.answerable import is_answerable
from index.search.answertype import expected_answer, gives
from index.search.fusion import collapse, rrf, weighted
from index.search.highlight import best_sentence, best_windows
from index.search.late import maxsim, maxsim_many
from index.search.rerank import CrossEncoderReranker
from index.store.factory import open_storage
from index.store.local.db import Store
from index.store.local.generations import IndexFiles
from index.store.local.storage import LocalStorage
from index.store.local.tokens import TokenFiles
from index.store.protocol import TITLE_META, Filters, Storage, StoredPassage
from index.timing import Laps, Progress
from index.write.ingest import IngestReport, Writer

log = logging.getLogger("citeqa")


@dataclass(frozen=True)
class Candidate:
    """A passage on its way through ranking: its fused score and where each retriever
    placed it (None: not among that retriever's candidates)."""

    stored: StoredPassage
    score: float
    dense_rank: int | None
    lexical_rank: int | None
    sentence_sims: Vectors | None = None
    """Each of its sentences' cosine with the question, when ranking computed them."""


def _distinct_highlights(hits: Sequence[Hit], limit: int) -> list[Hit]:
    seen: set[tuple[str, int]] = set()
    kept: list[Hit] = []
    for hit in hits:
        key = (hit.passage.doc_id, hit.highlight.char_start)
        if key not in seen and len(kept) < limit:
            seen.add(key)
            kept.append(replace(hit, rank=len(kept) + 1))
    return kept


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
        in batches of ``config.ingest_batch``, each committed and searchable on its own."""
        with self._swap:
            if self.storage.needs_backfill(tokens=self.config.late_weight > 0):
                self.writer.backfill(progress)
            return self.writer.ingest(documents, progress, total)

    def delete(self, doc_id: str) -> None:
        """Remove one document and its passages; NotFoundError if it is not there."""
        with self._swap:
            if not self.writer.delete(doc_id):
                self.storage.document(doc_id)  # raises NotFoundError with the usual message

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every passage with the configured model (after a model change)."""
        with self._swap:
            return self.writer.reindex(progress)

    # -- reading ------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        return self.storage.document(doc_id)

    def documents(self) -> list[DocumentInfo]:
        return self.storage.documents()

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
        return found[doc_id]

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
        laps.lap("filter", filters is not None)
        query, tokens = self._embed_question(question, mode)
        laps.lap("embed")
        # "Not in the corpus" is judged on the same number of results whatever top_k is,
        # so asking for one passage or twenty never changes the verdict.
        wanted = max(top_k, ANSWERABLE_DEPTH)
        # Twice as many as wanted: overlapping passages that share their best sentence
        # count once, and the spares fill the gap (sentence vectors are stored, so
        # highlighting the spares costs a dot product each).
        depth = max(self.config.candidates, wanted * 8)
        order = self._fuse(question, query, mode, depth, tokens, filters, laps)
        ranked = collapse(order, lambda c: c.stored.passage.text, wanted * 2)
        hits = _distinct_highlights(self._hits(question, query, ranked), wanted)
        laps.lap("highlight")
        answerable = is_answerable(
            question,
            hits[:ANSWERABLE_DEPTH],
            self.config.answerable_threshold,
            names=self.config.answerable_names,
            quantities=self.config.answerable_quantities,
        )
        laps.lap("answerable")
        took = (time.perf_counter() - started) * 1000
        return SearchResult(question, mode, answerable, tuple(hits[:top_k]), took, laps.ms)

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

    def _fuse(
        self,
        question: str,
        query: Vectors,
        mode: str,
        depth: int,
        tokens: Vectors | None,
        filters: Filters | None = None,
        laps: Laps | None = None,
    ) -> list[Candidate]:
        """Candidates, best first.

        Hybrid mode fuses passage vectors, BM25 and, with ``sentence_weight``, each
        candidate's best sentence or pair of adjacent sentences (``best_window``): a passage
        that holds one sentence saying exactly what was asked should not lose to one that
        is vaguely about it throughout."""
        config = self.config
        laps = laps or Laps()  # only search() reports its stages
        dense, lexical = self.storage.retrieve(question, query, depth, mode, filters, laps)
        # Rows deleted since the candidates were found are simply not found.
        stored = self.storage.passages(list(dict.fromkeys(pid for pid, _ in [*dense, *lexical])))
        dense_rank = {pid: r for r, (pid, _) in enumerate(dense, start=1)}
        lexical_rank = {pid: r for r, (pid, _) in enumerate(lexical, start=1)}
        lists, weights = [dense, lexical], [config.dense_weight, 1.0 - config.dense_weight]
        sentence_sims: dict[int, Vectors] = {}
        if mode == "hybrid" and config.sentence_weight > 0 and stored:
            candidates = list(stored.values())
            per_passage = self._sentence_vectors(candidates, query)
            counts = [len(v) for v in per_passage]
            best, sims = best_windows(np.concatenate(per_passage), counts, query)
            sentence_sims = dict(zip(stored, np.split(sims, np.cumsum(counts)[:-1]), strict=True))
            order_best = np.argsort(-best, kind="stable")
            lists.append([(candidates[i].row_id, float(best[i])) for i in order_best])
            weights.append(config.sentence_weight)
        if mode != "hybrid":
            order = dense or lexical
        elif config.fusion == "weighted":
            order = weighted(lists, weights)
        else:
            order = rrf([[pid for pid, _ in items] for items in lists], k=config.rrf_k,
                        weights=[1.0, 1.0, config.sentence_weight][: len(lists)])  # fmt: skip
        rows = [
            Candidate(
                stored[pid],
                score,
                dense_rank.get(pid),
                lexical_rank.get(pid),
                sentence_sims.get(pid),
            )  # fmt: skip
            for pid, score in order
            if pid in stored
        ]
        laps.lap("fuse")
        if tokens is not None:  # hybrid with late interaction on (``_embed_question``)
            rows = self._late(rows, tokens)
            laps.lap("late")
        if self.reranker:
            rows = self._rerank(question, rows)
            laps.lap("rerank")
        return rows

    def _late(self, rows: list[Candidate], tokens: Vectors) -> list[Candidate]:
        """Reorder the top ``late_depth`` by their fused score blended with late
        interaction (``index.search.late``); the head keeps its span of fused scores, so scores
        still fall down the whole list."""
        head, tail = rows[: self.config.late_depth], rows[self.config.late_depth :]
        if len(head) < 2:
            return rows
        ids = [row.stored.row_id for row in head]
        found = self.storage.token_rows(ids, self.embedder.dimension)
        scores = dict(zip(found.ids, maxsim_many(tokens, found.vectors, found.counts), strict=True))
        missing = [row.stored for row in head if row.stored.row_id not in scores]
        if missing:  # written by a writer that had late interaction off
            fresh = passage_tokens(self.embedder, [self.storage.text_of(p) for p in missing])
            scores.update(
                (p.row_id, maxsim(tokens, v)) for p, v in zip(missing, fresh, strict=True)
            )
        late = [scores[i] for i in ids]
        weight = self.config.late_weight
        blended = weighted(
            [[(i, row.score) for i, row in enumerate(head)], list(enumerate(late))],
            [1.0 - weight, weight],
        )
        low, high = head[-1].score, head[0].score
        return [replace(head[i], score=low + (high - low) * share) for i, share in blended] + tail

    def _rerank(self, question: str, rows: list[Candidate]) -> list[Candidate]:
        """The cross-encoder reorders the top ``rerank_depth``; its score becomes the score."""
        assert self.reranker is not None
        head, tail = rows[: self.config.rerank_depth], rows[self.config.rerank_depth :]
        scores = self.reranker.score(question, [self.storage.text_of(row.stored) for row in head])
        ranked = sorted(zip(scores, head, strict=True), key=lambda item: -item[0])
        return [replace(row, score=score) for score, row in ranked] + tail

    def _sentence_vectors(self, passages: Sequence[StoredPassage], query: Vectors) -> list[Vectors]:
        """Each passage's sentence vectors, as stored; passages stored without usable ones
        (older indexes) have them embedded now."""
        stored = [
            p.sentence_vectors
            if p.sentence_vectors is not None and p.sentence_vectors.shape[1] == len(query)
            else None
            for p in passages
        ]
        missing = [p for p, v in zip(passages, stored, strict=True) if v is None]
        texts = [sentence for p in missing for sentence in p.passage.sentence_texts]
        fresh = self.embedder.embed_many(texts) if texts else np.zeros((0, len(query)), np.float32)
        found: list[Vectors] = []
        offset = 0
        for p, vectors in zip(passages, stored, strict=True):
            if vectors is None:
                count = len(p.passage.sentences)
                vectors = fresh[offset : offset + count]
                offset += count
            found.append(np.asarray(vectors, dtype=np.float32))
        return found

    def _embed_question(self, question: str, mode: str) -> tuple[Vectors, Vectors | None]:
        """The question's vector and, when late interaction will read them, its content
        token vectors, from one pass of the model."""
        if mode != "hybrid" or self.config.late_weight <= 0:
            return self.embedder.embed(question), None
        vector, tokens = self.embedder.embed_with_tokens(question)
        return vector, content_vectors(tokens)

    def retrieve(
        self, question: str, depth: int, mode: str = "hybrid"
    ) -> list[tuple[Passage, float]]:
        """Up to ``depth`` ranked passages with their fused scores, without highlights or
        duplicate collapsing: the first stage of ``search``, for benchmarks."""
        question = self._check_query(question, mode, depth)
        query, tokens = self._embed_question(question, mode)
        order = self._fuse(question, query, mode, depth, tokens)[:depth]
        return [(c.stored.passage, c.score) for c in order]

    def _hits(self, question: str, query: Vectors, ranked: Sequence[Candidate]) -> list[Hit]:
        infos = self.storage.infos({c.stored.passage.doc_id for c in ranked})
        ranked = [c for c in ranked if c.stored.passage.doc_id in infos]  # deleted meanwhile
        todo = [c.stored for c in ranked if c.sentence_sims is None]
        computed = iter(v @ query for v in self._sentence_vectors(todo, query))
        sims = [c.sentence_sims if c.sentence_sims is not None else next(computed) for c in ranked]
        expectation = expected_answer(question) if self.config.answerable_quantities else None
        prefer = partial(gives, expectation) if expectation else None
        hits: list[Hit] = []
        for rank, (candidate, cosines) in enumerate(zip(ranked, sims, strict=True), start=1):
            passage = candidate.stored.passage
            highlight = best_sentence(
                passage.text,
                question,
                passage.sentences,
                [float(x) for x in cosines],
                offset=passage.char_start,
                prefer=prefer,
            )
            hits.append(
                Hit(rank, float(candidate.score), passage, infos[passage.doc_id], highlight,
                    candidate.dense_rank, candidate.lexical_rank, highlight.score)
            )  # fmt: skip
        return hits
