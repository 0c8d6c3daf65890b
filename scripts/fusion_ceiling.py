"""How far can re-weighting today's signals go on the seed questions?

    python scripts/fusion_ceiling.py [--step 0.1]

Hybrid search fuses four min-max normalized scores per candidate: the passage vector's
cosine, BM25, the best sentence or adjacent pair, and late interaction (MaxSim). This
fits their weights to the seed questions themselves, on purpose: an over-fitted ceiling.
If even these weights miss a target, no re-weighting of these signals reaches it, and the
gap needs a new signal (a stronger model, a trained cross-encoder). Every candidate gets
all four scores here, so the ceiling is a little above what the two-stage engine can do.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.matching import covers  # noqa: E402
from eval.questions import Question, load_questions  # noqa: E402
from eval.runner import EvalOptions, open_corpus  # noqa: E402
from index import EngineConfig, SentenceTransformerEmbedder  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.search.highlight import best_window  # noqa: E402
from index.search.late import maxsim  # noqa: E402
from index.timing import Laps  # noqa: E402

SIGNALS = ("passage", "bm25", "sentence", "late")
DEPTH = 50


def _minmax(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if high > low else np.ones_like(values)


def features(
    engine: Engine, question: Question
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """(candidates x signals) normalized scores, and which candidates hold a gold quote."""
    query, tokens = engine._embed_question(question.question, "hybrid")
    assert tokens is not None, "late interaction must be on"
    ranked_dense, ranked_lexical = engine.storage.retrieve(
        question.question, query, DEPTH, "hybrid", None, Laps()
    )
    dense, lexical = dict(ranked_dense), dict(ranked_lexical)
    ids = list(dict.fromkeys([*dense, *lexical]))
    stored = engine.storage.passages(ids)
    rows = engine.storage.token_rows(ids, engine.embedder.dimension)
    starts = np.concatenate([[0], np.cumsum(rows.counts)]).astype(int)
    token_rows = {i: rows.vectors[starts[k] : starts[k + 1]] for k, i in enumerate(rows.ids)}
    empty = np.zeros((0, engine.embedder.dimension), np.float32)
    table = np.zeros((len(ids), len(SIGNALS)))
    for column, found in ((0, dense), (1, lexical)):
        present = np.array([i in found for i in ids])
        if present.any():
            table[present, column] = _minmax(np.array([found[i] for i in ids if i in found]))
    sentences = [stored[i].sentence_vectors for i in ids]
    table[:, 2] = _minmax(np.array([best_window(s, query) if s is not None else 0.0
                                    for s in sentences]))  # fmt: skip
    table[:, 3] = _minmax(np.array([maxsim(tokens, token_rows.get(i, empty)) for i in ids]))
    gold = np.array(
        [
            any(
                e.doc_id == stored[i].passage.doc_id and covers(stored[i].passage.text, e.quote)
                for e in question.evidence
            )
            for i in ids
        ]
    )
    return table, gold


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", type=float, default=0.1)
    args = parser.parse_args()
    corpus = ROOT / "seeds"
    options = EvalOptions(config=EngineConfig(data_dir=Path("unused")))
    engine = open_corpus(options.engine_config(corpus), corpus, None, SentenceTransformerEmbedder())
    questions = [q for q in load_questions(ROOT / "eval/questions.jsonl") if q.answerable]
    data = [features(engine, q) for q in questions]
    print(f"gold among the candidates: {sum(bool(g.any()) for _, g in data)} of {len(data)}")
    grid = np.round(np.arange(0, 1 + args.step / 2, args.step), 6)
    found: list[tuple[float, float, tuple[float, ...]]] = []
    for weights in itertools.product(grid, repeat=len(SIGNALS)):
        if abs(sum(weights) - 1) > 1e-6:
            continue
        hit1 = mrr = 0.0
        for table, gold in data:
            order = np.argsort(-(table @ np.array(weights)), kind="stable")
            rank = next((r for r, k in enumerate(order, start=1) if gold[k]), None)
            hit1 += rank == 1
            mrr += 1 / rank if rank and rank <= 10 else 0.0
        found.append((hit1 / len(data), mrr / len(data), weights))
    print("| best by | hit@1 | MRR@10 | weights (" + ", ".join(SIGNALS) + ") |")
    print("|---|---|---|---|")
    for label, key in (("hit@1", lambda t: (t[0], t[1])), ("MRR@10", lambda t: (t[1], t[0]))):
        hit1, mrr, weights = max(found, key=key)
        print(f"| {label} | {hit1:.3f} | {mrr:.3f} | {', '.join(f'{w:g}' for w in weights)} |")
    engine.close()


if __name__ == "__main__":
    main()
