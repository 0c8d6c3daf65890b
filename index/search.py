"""The engine: one object that owns the store, the indexes and the embedder.

It delegates each step to its own module (passages, store, dense, sparse, fusion,
highlight); what lives here is the order of the steps and the locking.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from index.answerable import is_answerable
from index.answertype import expected_answer, gives
from index.config import MODES, EngineConfig
from index.documents import Document, DocumentInfo, Hit, Passage, SearchResult, Span
from index.embedder import Embedder, SentenceTransformerEmbedder, Vectors
from index.errors import BadQueryError, ModelMismatchError
from index.fusion import collapse, rrf, weighted
from index.highlight import best_sentence, best_window
from index.indexfiles import TITLE_META, IndexFiles
from index.late import content_vectors, maxsim, passage_tokens
from index.passages import PreparedDocument, content_hash, indexed_text, prepare
from index.rerank import CrossEncoderReranker
from index.store import Store, StoredPassage

log = logging.getLogger("citeqa")

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total) during long work."""


@dataclass(frozen=True)
class IngestReport:
    added: int
    replaced: int
    unchanged: int
    passages: int


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some documents or sources (exact match)."""

    doc_ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    def allows(self, passage: StoredPassage, info: DocumentInfo) -> bool:
        if self.doc_ids and passage.passage.doc_id not in self.doc_ids:
            return False
        return not self.sources or (info.source or "") in self.sources


def _distinct_highlights(hits: Sequence[Hit], limit: int) -> list[Hit]:
    seen: set[tuple[str, int]] = set()
    kept: list[Hit] = []
    for hit in hits:
        key = (hit.passage.doc_id, hit.highlight.char_start)
        if key not in seen and len(kept) < limit:
            seen.add(key)
            kept.append(replace(hit, rank=len(kept) + 1))
    return kept


def _sentence_item(passage: Passage) -> tuple[str, str, int, tuple[Span, ...]]:
    return passage.doc_id, passage.text, passage.char_start, passage.sentences


ANSWERABLE_DEPTH = 5
"""How many top results the answerable verdict reads, whatever ``top_k`` asks for."""


class Engine:
    """Index documents and answer questions with cited passages."""

    def __init__(
        self, config: EngineConfig, embedder: Embedder | None = None, *, check_model: bool = True
    ) -> None:
        """Open the store; ``check_model=False`` only for ``reindex`` after a model change."""
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder or SentenceTransformerEmbedder(config.model, config.device)
        self.store = Store(config.data_dir / "citeqa.sqlite3")
        if check_model:
            self._check_model()
        self.files = IndexFiles(config, self.store)
        self.reranker = (
            CrossEncoderReranker(config.reranker, config.device) if config.reranker else None
        )
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        config: EngineConfig,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
    ) -> Engine:
        """Open the data dir and load (or rebuild from SQLite) the search indexes."""
        engine = cls(config, embedder)
        engine.files.load(engine.embedder, progress)
        engine._backfill_sentences(progress)
        engine._backfill_tokens(progress)
        return engine

    def close(self) -> None:
        self.store.close()

    @property
    def size(self) -> int:
        """How many passages are searchable."""
        return self.files.size

    def _check_model(self) -> None:
        built_with = self.store.get_meta("model")
        if built_with is not None and built_with != self.embedder.name:
            raise ModelMismatchError(
                f"the index in {self.config.data_dir} was built with model {built_with!r}, but "
                f"the configured model is {self.embedder.name!r}. Set CITEQA_MODEL={built_with} "
                "(or --model), or re-embed with `citeqa reindex`, or use another data dir."
            )
        built_title = self.store.get_meta(TITLE_META)
        if built_title is None and self.store.counts()[1]:
            built_title = "False"  # built before the setting existed: no titles
        if built_title is not None and built_title != str(self.config.title_in_index):
            raise ModelMismatchError(
                f"the index in {self.config.data_dir} was built with title_in_index="
                f"{built_title}, but the setting is {self.config.title_in_index}. Change it "
                "back, or re-embed with `citeqa reindex`, or use another data dir."
            )

    # -- writing ------------------------------------------------------------------------

    def ingest(
        self, documents: Iterable[Document], progress: Progress | None = None
    ) -> IngestReport:
        """Add new documents, replace changed ones, skip unchanged ones (by content hash)."""
        todo: list[tuple[PreparedDocument, str, bool]] = []
        unchanged = 0
        for doc in documents:
            digest = content_hash(doc, self.config.chunk)
            stored = self.store.content_hash(doc.doc_id)
            if stored == digest:
                unchanged += 1
                continue
            todo.append((prepare(doc, self.config.chunk), digest, stored is not None))
            if progress:
                progress("reading", len(todo) + unchanged, 0)
        if progress:
            progress("reading", len(todo) + unchanged, len(todo) + unchanged)
        with_title = self.config.title_in_index
        texts = [
            indexed_text(p.passage_text(x), p.document.title, with_title)
            for p, _, _ in todo
            for x in p.passages
        ]
        vectors, known = self._embed_passages(texts, progress)
        sentences = self._embed_sentences(
            [(p.document.doc_id, p.document.text, 0, x.sentences) for p, _, _ in todo
             for x in p.passages],
            progress,
        )  # fmt: skip
        with self._lock:
            self.files.write(todo, vectors, sentences, self.embedder, progress)
        self._backfill_tokens(progress, known)
        replaced = sum(1 for _, _, was in todo if was)
        return IngestReport(len(todo) - replaced, replaced, unchanged, len(texts))

    def delete(self, doc_id: str) -> None:
        """Remove one document and its passages; NotFoundError if it is not there."""
        self.store.document(doc_id)
        with self._lock:
            self.files.delete(doc_id)

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every passage with the configured model (after a model change)."""
        passages = list(self.store.all_passages())
        vectors, known = self._embed_passages([self.files.text_of(p) for p in passages], progress)
        sentences = self._embed_sentences(
            [_sentence_item(p.passage) for p in passages],
            progress,
        )
        with self._lock:
            self.files.replace_vectors(
                [p.row_id for p in passages], vectors, sentences, self.embedder
            )
            with self.store.transaction() as db:
                Store.clear_token_vectors(db)
        self._backfill_tokens(progress, known)
        return len(passages)

    def _backfill_sentences(self, progress: Progress | None) -> None:
        """Indexes from before sentence vectors were stored get them once, on open."""
        missing = self.store.passages_without_sentence_vectors()
        if not missing:
            return
        log.warning("embedding the sentences of %d passages (stored once)", len(missing))
        vectors = self._embed_sentences(
            [_sentence_item(p.passage) for p in missing],
            progress,
        )
        with self._lock, self.store.transaction() as db:
            Store.set_sentence_vectors(db, [p.row_id for p in missing], vectors)

    def _backfill_tokens(
        self, progress: Progress | None, known: dict[str, Vectors] | None = None
    ) -> None:
        """Token vectors for late interaction, for passages that have none yet (new ones
        after an ingest, all of them after a reindex or on an index from before them);
        ``known`` holds those already computed, by indexed text."""
        if self.config.late_weight <= 0:
            return
        missing = self.store.passages_without_token_vectors()
        if not missing:
            return
        known = known or {}
        texts = [self.files.text_of(p) for p in missing]
        todo = [text for text in texts if text not in known]
        fresh = passage_tokens(
            self.embedder,
            todo,
            progress=(lambda done, total: progress("tokens", done, total)) if progress else None,
        )
        known = {**known, **dict(zip(todo, fresh, strict=True))}
        with self._lock, self.store.transaction() as db:
            Store.set_token_vectors(db, [p.row_id for p in missing], [known[t] for t in texts])

    def _embed_sentences(
        self, items: Sequence[tuple[str, str, int, Sequence[Span]]], progress: Progress | None
    ) -> list[Vectors]:
        """One (sentences x dimension) array per ``(doc_id, text, offset, spans)`` passage,
        where ``text`` starts at document offset ``offset``; a sentence that overlapping
        passages share is embedded once."""
        index: dict[tuple[str, Span], int] = {}
        texts: list[str] = []
        for key, text, offset, spans in items:
            for span in spans:
                if (key, span) not in index:
                    index[(key, span)] = len(texts)
                    texts.append(text[span.start - offset : span.end - offset])
        vectors = self.embedder.embed_many(
            texts,
            self.config.batch_size,
            (lambda done, total: progress("sentences", done, total)) if progress else None,
        )
        return [vectors[[index[(key, span)] for span in spans]] for key, _, _, spans in items]

    def _embed_passages(
        self, texts: Sequence[str], progress: Progress | None
    ) -> tuple[Vectors, dict[str, Vectors]]:
        """Passage vectors, and with late interaction on, each text's content-token vectors
        from the same pass of the model (by text, for ``_backfill_tokens``)."""
        if self.config.late_weight <= 0 or not texts:
            return self._embed(texts, progress), {}
        vectors, tokens = self.embedder.embed_many_with_tokens(
            texts,
            self.config.batch_size,
            (lambda done, total: progress("embedding", done, total)) if progress else None,
        )
        return vectors, {text: content_vectors(t) for text, t in zip(texts, tokens, strict=True)}

    def _embed(self, texts: Sequence[str], progress: Progress | None) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self.embedder.embed_many(
            texts,
            self.config.batch_size,
            (lambda done, total: progress("embedding", done, total)) if progress else None,
        )

    # -- reading ------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document:
        return self.store.document(doc_id)

    def documents(self) -> list[DocumentInfo]:
        return self.store.documents()

    @staticmethod
    def _check_query(question: str, mode: str, top_k: int) -> str:
        question = question.strip()
        if not question:
            raise BadQueryError("the question is empty; ask something, e.g. 'what did Bolton say?'")
        if mode not in MODES:
            raise BadQueryError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        if top_k < 1:
            raise BadQueryError(f"top_k must be 1 or more, got {top_k}")
        return question

    def search(
        self, question: str, top_k: int = 5, mode: str = "hybrid", filters: Filters | None = None
    ) -> SearchResult:
        """The ``top_k`` best passages for ``question``, each with its best sentence."""
        started = time.perf_counter()
        question = self._check_query(question, mode, top_k)
        if filters and filters.doc_ids:
            unknown = sorted(filters.doc_ids - set(self.store.infos(filters.doc_ids)))
            if unknown:
                raise BadQueryError(
                    f"unknown doc_ids in filters: {', '.join(map(repr, unknown))}; "
                    "GET /v1/documents lists the ids"
                )
        query, tokens = self._embed_question(question, mode)
        # "Not in the corpus" is judged on the same number of results whatever top_k is,
        # so asking for one passage or twenty never changes the verdict.
        wanted = max(top_k, ANSWERABLE_DEPTH)
        # Twice as many as wanted: overlapping passages that share their best sentence
        # count once, and the spares fill the gap (sentence vectors are stored, so
        # highlighting the spares costs a dot product each).
        ranked = self._rank(question, query, tokens, mode, filters, wanted * 2)
        hits = _distinct_highlights(self._hits(question, query, ranked), wanted)
        judged = hits[:ANSWERABLE_DEPTH]
        answerable = is_answerable(
            question,
            judged,
            self.config.answerable_threshold,
            names=self.config.answerable_names,
            quantities=self.config.answerable_quantities,
        )
        hits = hits[:top_k]
        took = (time.perf_counter() - started) * 1000
        return SearchResult(question, mode, answerable, tuple(hits), took)

    def _fuse(
        self, question: str, query: Vectors, mode: str, depth: int, tokens: Vectors | None
    ) -> list[tuple[StoredPassage, float, int | None, int | None]]:
        """(passage, score, dense rank, lexical rank), best first.

        Hybrid mode fuses passage vectors, BM25 and, with ``sentence_weight``, each
        candidate's best sentence or pair of adjacent sentences (``best_window``): a passage
        that holds one sentence saying exactly what was asked should not lose to one that
        is vaguely about it throughout."""
        config = self.config
        with self._lock:
            dense = self.files.dense.search(query, depth) if mode != "lexical" else []
            lexical = self.files.lexical.search(question, depth) if mode != "dense" else []
        stored = self.store.passages(list(dict.fromkeys(pid for pid, _ in [*dense, *lexical])))
        dense_rank = {pid: r for r, (pid, _) in enumerate(dense, start=1)}
        lexical_rank = {pid: r for r, (pid, _) in enumerate(lexical, start=1)}
        lists, weights = [dense, lexical], [config.dense_weight, 1.0 - config.dense_weight]
        if mode == "hybrid" and config.sentence_weight > 0:
            candidates = list(stored.values())
            best = [
                best_window(vectors, query) for vectors in self._sentence_vectors(candidates, query)
            ]
            lists.append(sorted(zip((c.row_id for c in candidates), best, strict=True),
                                key=lambda item: -item[1]))  # fmt: skip
            weights.append(config.sentence_weight)
        if mode != "hybrid":
            order = dense or lexical
        elif config.fusion == "weighted":
            order = weighted(lists, weights)
        else:
            order = rrf([[pid for pid, _ in items] for items in lists], k=config.rrf_k,
                        weights=[1.0, 1.0, config.sentence_weight][: len(lists)])  # fmt: skip
        rows = [
            (stored[pid], score, dense_rank.get(pid), lexical_rank.get(pid))
            for pid, score in order
            if pid in stored
        ]
        if tokens is not None:  # hybrid with late interaction on (``_embed_question``)
            rows = self._late(rows, tokens)
        return self._rerank(question, rows) if self.reranker else rows

    def _late(
        self, rows: list[tuple[StoredPassage, float, int | None, int | None]], tokens: Vectors
    ) -> list[tuple[StoredPassage, float, int | None, int | None]]:
        """Reorder the top ``late_depth`` by their fused score blended with late
        interaction (``index.late``); the head keeps its span of fused scores, so scores
        still fall down the whole list."""
        head, tail = rows[: self.config.late_depth], rows[self.config.late_depth :]
        if len(head) < 2:
            return rows
        ids = [row[0].row_id for row in head]
        stored = self.store.token_vectors(ids, self.embedder.dimension)
        missing = [row[0] for row in head if row[0].row_id not in stored]
        if missing:  # stored after this question, by the next ingest or open
            fresh = passage_tokens(self.embedder, [self.files.text_of(p) for p in missing])
            stored.update(zip((p.row_id for p in missing), fresh, strict=True))
        late = [maxsim(tokens, stored[i]) for i in ids]
        weight = self.config.late_weight
        blended = weighted(
            [[(i, row[1]) for i, row in enumerate(head)], list(enumerate(late))],
            [1.0 - weight, weight],
        )
        low, high = head[-1][1], head[0][1]
        return [
            (head[i][0], low + (high - low) * share, head[i][2], head[i][3]) for i, share in blended
        ] + tail

    def _rerank(
        self, question: str, rows: list[tuple[StoredPassage, float, int | None, int | None]]
    ) -> list[tuple[StoredPassage, float, int | None, int | None]]:
        """The cross-encoder reorders the top ``rerank_depth``; its score becomes the score."""
        assert self.reranker is not None
        head, tail = rows[: self.config.rerank_depth], rows[self.config.rerank_depth :]
        scores = self.reranker.score(question, [self.files.text_of(row[0]) for row in head])
        ranked = sorted(zip(scores, head, strict=True), key=lambda item: -item[0])
        return [(row[0], score, row[2], row[3]) for score, row in ranked] + tail

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

    def _rank(
        self,
        question: str,
        query: Vectors,
        tokens: Vectors | None,
        mode: str,
        filters: Filters | None,
        top_k: int,
    ) -> list[tuple[StoredPassage, float, int | None, int | None]]:
        depth = max(self.config.candidates, top_k * 4)
        if filters and (filters.doc_ids or filters.sources):
            depth = max(depth, self.files.size)
        order = self._fuse(question, query, mode, depth, tokens)
        if filters:
            infos = self.store.infos({row[0].passage.doc_id for row in order})
            order = [row for row in order if filters.allows(row[0], infos[row[0].passage.doc_id])]
        return collapse(order, lambda row: row[0].passage.text, top_k)

    def retrieve(
        self, question: str, depth: int, mode: str = "hybrid"
    ) -> list[tuple[Passage, float]]:
        """Up to ``depth`` ranked passages with their fused scores, without highlights or
        duplicate collapsing: the first stage of ``search``, for benchmarks."""
        question = self._check_query(question, mode, depth)
        query, tokens = self._embed_question(question, mode)
        order = self._fuse(question, query, mode, depth, tokens)[:depth]
        return [(row[0].passage, row[1]) for row in order]

    def _hits(
        self,
        question: str,
        query: Vectors,
        ranked: Sequence[tuple[StoredPassage, float, int | None, int | None]],
    ) -> list[Hit]:
        infos = self.store.infos({p.passage.doc_id for p, *_ in ranked})
        sims = [v @ query for v in self._sentence_vectors([p for p, *_ in ranked], query)]
        expectation = expected_answer(question) if self.config.answerable_quantities else None
        prefer = partial(gives, expectation) if expectation else None
        hits: list[Hit] = []
        for rank, ((stored, score, d_rank, l_rank), cosines) in enumerate(
            zip(ranked, sims, strict=True), start=1
        ):
            passage = stored.passage
            highlight = best_sentence(
                passage.text,
                question,
                passage.sentences,
                [float(x) for x in cosines],
                offset=passage.char_start,
                prefer=prefer,
            )
            hits.append(
                Hit(rank, float(score), passage, infos[passage.doc_id], highlight, d_rank, l_rank,
                    highlight.score)
            )  # fmt: skip
        return hits
