"""Ranking measures as pure functions.

Seed questions are judged by quotes: each returned item lists the gold quotes it holds,
and an item earns gain only for quotes no higher item already held, so five copies of one
quote do not look like five answers. BEIR runs are judged by graded document qrels, as
pytrec_eval (and so the published figures) computes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Found = Sequence[frozenset[int]]
"""For each returned item, best first: the indexes of the gold quotes it holds."""


def first_hit(found: Found, k: int) -> int | None:
    """Rank (from 1) of the first item within ``k`` that holds any quote."""
    for rank, quotes in enumerate(found[:k], start=1):
        if quotes:
            return rank
    return None


def hit_at(found: Found, k: int) -> float:
    return 1.0 if first_hit(found, k) is not None else 0.0


def recall_at(found: Found, k: int, n_quotes: int) -> float:
    """Share of the gold quotes held somewhere in the top ``k``."""
    if n_quotes <= 0:
        raise ValueError("recall needs at least one gold quote")
    held: set[int] = set().union(*found[:k]) if found[:k] else set()
    return len(held) / n_quotes


def mrr_at(found: Found, k: int) -> float:
    rank = first_hit(found, k)
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at(found: Found, k: int, n_quotes: int) -> float:
    """Binary gain for each item that holds a quote not held higher up.

    >>> round(ndcg_at([frozenset(), frozenset({0})], 10, 1), 4)
    0.6309
    """
    if n_quotes <= 0:
        raise ValueError("nDCG needs at least one gold quote")
    seen: set[int] = set()
    dcg = 0.0
    for rank, quotes in enumerate(found[:k], start=1):
        if quotes - seen:
            dcg += 1.0 / math.log2(rank + 1)
            seen |= quotes
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(n_quotes, k) + 1))
    return dcg / ideal


def graded_ndcg_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG with gain = relevance grade, over documents, as trec_eval's ``ndcg_cut``.

    >>> round(graded_ndcg_at(["b", "a"], {"a": 1}, 10), 4)
    0.6309
    """
    dcg = sum(
        qrels.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], start=1)
    )
    grades = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(rank + 1) for rank, g in enumerate(grades, start=1))
    return dcg / ideal if ideal > 0 else 0.0


def doc_recall_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def doc_mrr_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranking[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0
