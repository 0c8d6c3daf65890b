"""Rank fusion and duplicate collapsing: pure functions over ids, ranks and strings."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

from index.config import RRF_K

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def rrf(
    rankings: Sequence[Sequence[K]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """Reciprocal rank fusion: each list adds ``weight / (k + rank)`` (rank from 1) to an id.

    Ties keep the order in which ids were first seen, so results are deterministic.

    >>> rrf([["a", "b"], ["b", "c"]], k=60)[0][0]
    'b'
    """
    if k < 0:
        raise ValueError(f"rrf k must be 0 or more, got {k}")
    if weights is not None and len(weights) != len(rankings):
        raise ValueError("need one weight per ranking")
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def weighted(
    scored: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float]
) -> list[tuple[K, float]]:
    """Convex fusion of min-max normalized scores: each list's best candidate gets its
    weight, its worst candidate 0, and an id missing from a list gets 0 from it.

    Unlike RRF it keeps how far apart scores are, so a clear winner in one list is not
    flattened to the same 1/(k+1) as a near tie.

    >>> weighted([[("a", 0.9), ("b", 0.7), ("c", 0.1)], [("b", 7.0), ("c", 1.0)]], [0.5, 0.5])[0]
    ('b', 0.875)
    """
    if len(scored) != len(weights):
        raise ValueError("need one weight per list")
    fused: dict[K, float] = {}
    for items, weight in zip(scored, weights, strict=True):
        if not items:
            continue
        values = [score for _, score in items]
        low, high = min(values), max(values)
        spread = high - low
        for key, score in items:
            share = (score - low) / spread if spread > 0 else 1.0
            fused[key] = fused.get(key, 0.0) + weight * share
    return sorted(fused.items(), key=lambda item: -item[1])


_WORD_RE = re.compile(r"\w+")


def normalized_words(text: str) -> tuple[str, ...]:
    return tuple(_WORD_RE.findall(text.casefold()))


def is_near_duplicate(a: str, b: str, threshold: float = 0.9) -> bool:
    """Same words in the same order, or word sets that overlap by ``threshold`` (Jaccard)."""
    return _near(_Words.of(a), _Words.of(b), threshold)


class _Words:
    """A text's words, as a sequence and as a set, computed once per text."""

    __slots__ = ("seq", "set")

    def __init__(self, seq: tuple[str, ...]) -> None:
        self.seq = seq
        self.set = frozenset(seq)

    @classmethod
    def of(cls, text: str) -> _Words:
        return cls(normalized_words(text))


def _near(a: _Words, b: _Words, threshold: float) -> bool:
    if a.seq == b.seq:
        return True
    if not a.set or not b.set:
        return False
    return len(a.set & b.set) / len(a.set | b.set) >= threshold


def collapse(items: Iterable[T], text: Callable[[T], str], limit: int) -> list[T]:
    """Keep the first of each group of near-duplicate texts, up to ``limit`` items."""
    kept: list[T] = []
    seen: list[_Words] = []
    for item in items:
        if len(kept) >= limit:
            break
        words = _Words.of(text(item))
        if not any(_near(words, other, 0.9) for other in seen):
            kept.append(item)
            seen.append(words)
    return kept
