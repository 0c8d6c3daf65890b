"""Score a question file against a searcher, per question, then per mode and kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import fmean

from eval import metrics
from eval.matching import covers, normalize
from eval.questions import KINDS, Question
from eval.searchers import Answer, Searcher

DEPTH = 10
"""Results asked for per question: enough for MRR@10 and nDCG@10."""
SHOWN = 5
"""What a reader sees by default; recall and passage length are measured over these."""


@dataclass(frozen=True)
class QuestionScore:
    id: str
    kind: str
    mode: str
    answerable: bool
    said_answerable: bool
    first_rank: int | None
    hit_at_1: float
    hit_at_5: float
    recall_at_5: float
    mrr_at_10: float
    ndcg_at_10: float
    highlight_at_1: float
    passage_chars: tuple[int, ...]
    top_highlight: str


@dataclass(frozen=True)
class Summary:
    """Means over a group; retrieval figures cover its answerable questions only."""

    questions: int
    answerable: int
    hit_at_1: float | None
    hit_at_5: float | None
    recall_at_5: float | None
    mrr_at_10: float | None
    ndcg_at_10: float | None
    highlight_at_1: float | None
    unanswerable_flagged: float | None
    """Share of unanswerable questions the engine called not answerable (higher is better)."""
    answerable_flagged: float | None
    """Share of answerable questions wrongly called not answerable (lower is better)."""
    mean_passage_chars: float | None


RETRIEVAL = ("hit_at_1", "hit_at_5", "recall_at_5", "mrr_at_10", "ndcg_at_10", "highlight_at_1")


def score_question(question: Question, mode: str, answer: Answer) -> QuestionScore:
    results = answer.results[:DEPTH]
    found = [
        frozenset(
            i for i, e in enumerate(question.evidence)
            if e.doc_id == r.doc_id and covers(r.text, e.quote)
        )
        for r in results
    ]  # fmt: skip
    n = len(question.evidence)
    top = results[0] if results else None
    highlight = top is not None and any(
        e.doc_id == top.doc_id
        and (covers(top.highlight, e.quote) or normalize(top.highlight) in normalize(e.quote))
        for e in question.evidence
    )
    graded = question.answerable
    return QuestionScore(
        id=question.id,
        kind=question.kind,
        mode=mode,
        answerable=graded,
        said_answerable=answer.answerable,
        first_rank=metrics.first_hit(found, DEPTH),
        hit_at_1=metrics.hit_at(found, 1),
        hit_at_5=metrics.hit_at(found, 5),
        recall_at_5=metrics.recall_at(found, SHOWN, n) if graded else 0.0,
        mrr_at_10=metrics.mrr_at(found, 10),
        ndcg_at_10=metrics.ndcg_at(found, 10, n) if graded else 0.0,
        highlight_at_1=1.0 if highlight else 0.0,
        passage_chars=tuple(len(r.text) for r in results[:SHOWN]),
        top_highlight=top.highlight if top else "",
    )


def summarize(scores: Sequence[QuestionScore]) -> Summary:
    graded = [s for s in scores if s.answerable]
    blind = [s for s in scores if not s.answerable]

    def mean(name: str) -> float | None:
        return fmean(getattr(s, name) for s in graded) if graded else None

    chars = [c for s in graded for c in s.passage_chars]
    return Summary(
        questions=len(scores),
        answerable=len(graded),
        hit_at_1=mean("hit_at_1"),
        hit_at_5=mean("hit_at_5"),
        recall_at_5=mean("recall_at_5"),
        mrr_at_10=mean("mrr_at_10"),
        ndcg_at_10=mean("ndcg_at_10"),
        highlight_at_1=mean("highlight_at_1"),
        unanswerable_flagged=fmean(not s.said_answerable for s in blind) if blind else None,
        answerable_flagged=fmean(not s.said_answerable for s in graded) if graded else None,
        mean_passage_chars=fmean(chars) if chars else None,
    )


@dataclass(frozen=True)
class SeedRun:
    scores: tuple[QuestionScore, ...]
    by_mode: dict[str, Summary]
    by_kind: dict[str, dict[str, Summary]]
    """mode -> kind -> summary."""


def run_seed_eval(
    questions: Sequence[Question],
    searcher: Searcher,
    modes: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> SeedRun:
    scores: list[QuestionScore] = []
    total = len(questions) * len(modes)
    for mode in modes:
        for question in questions:
            answer = searcher.search(question.question, DEPTH, mode)
            scores.append(score_question(question, mode, answer))
            if progress:
                progress(len(scores), total)
    by_mode = {m: summarize([s for s in scores if s.mode == m]) for m in modes}
    by_kind: dict[str, dict[str, Summary]] = {
        m: {
            k: summarize(group)
            for k in KINDS
            if (group := [s for s in scores if s.mode == m and s.kind == k])
        }
        for m in modes
    }
    return SeedRun(tuple(scores), by_mode, by_kind)
