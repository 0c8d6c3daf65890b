"""Ranking one question's candidates: fuse the retrievers' lists, reorder the head by late
interaction and an optional cross-encoder, then highlight each passage's best sentence.

Storage finds the candidates; what is ranked and how lives here, so a change to scoring
touches this module and the pure functions it calls (``fusion``, ``late``, ``highlight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from index.config import EngineConfig
from index.documents import Hit
from index.model.embedder import Embedder, Vectors
from index.model.tokens import passage_tokens
from index.search.answertype import expected_answer, gives
from index.search.fusion import rrf, weighted
from index.search.highlight import best_sentence, best_windows
from index.search.late import maxsim, maxsim_many
from index.search.rerank import CrossEncoderReranker
from index.store.protocol import Filters, Storage, StoredPassage
from index.timing import Laps
from index.validation import linkable


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
    late: float | None = None
    """Its MaxSim with the question's tokens, when late interaction scored it."""


def distinct_highlights(hits: Sequence[Hit], limit: int) -> list[Hit]:
    seen: set[tuple[str, int]] = set()
    kept: list[Hit] = []
    for hit in hits:
        key = (hit.passage.doc_id, hit.highlight.char_start)
        if key not in seen and len(kept) < limit:
            seen.add(key)
            kept.append(replace(hit, rank=len(kept) + 1))
    return kept


class Ranker:
    """Ranks candidates from one storage with one embedder (the engine holds one)."""

    def __init__(
        self,
        config: EngineConfig,
        storage: Storage,
        embedder: Embedder,
        reranker: CrossEncoderReranker | None,
    ) -> None:
        self.config = config
        self.storage = storage
        self.embedder = embedder
        self.reranker = reranker

    def fuse(
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
        scores = self._maxsim(ids, tokens)
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
        return [replace(head[i], score=low + (high - low) * share, late=late[i])
                for i, share in blended] + tail  # fmt: skip

    def _maxsim(self, ids: Sequence[int], tokens: Vectors) -> dict[int, float]:
        """MaxSim of ``tokens`` against each passage of ``ids`` that has stored token vectors
        of the question's width (another model's are no match, as if missing)."""
        try:
            found = self.storage.token_rows(ids, self.embedder.dimension)
        except ValueError:  # rows of another width do not decode at this one
            return {}
        if found.vectors.ndim != 2 or found.vectors.shape[1] != tokens.shape[1]:
            return {}
        return dict(zip(found.ids, maxsim_many(tokens, found.vectors, found.counts), strict=True))

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

    def hits(
        self,
        question: str,
        query: Vectors,
        ranked: Sequence[Candidate],
        tokens: Vectors | None = None,
    ) -> list[Hit]:
        """``tokens`` (the question's content token vectors) also give every hit its
        MaxSim, where late interaction did not score it and its token vectors are stored."""
        found = self.storage.infos({c.stored.passage.doc_id for c in ranked})
        infos = {doc_id: linkable(info) for doc_id, info in found.items()}
        ranked = [c for c in ranked if c.stored.passage.doc_id in infos]  # deleted meanwhile
        unscored = [c.stored.row_id for c in ranked if c.late is None]
        if tokens is not None and unscored:
            late = self._maxsim(unscored, tokens)
            ranked = [c if c.late is not None else replace(c, late=late.get(c.stored.row_id))
                      for c in ranked]  # fmt: skip
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
                    candidate.dense_rank, candidate.lexical_rank, highlight.score, candidate.late)
            )  # fmt: skip
        return hits
