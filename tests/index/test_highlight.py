from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from index.search.highlight import best_window, best_windows


def unit(*values: float) -> npt.NDArray[np.float32]:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_passage_scores_its_best_sentence_or_adjacent_pair() -> None:
    query = unit(1, 1)
    half_a, half_b, off = unit(1, 0), unit(0, 1), unit(-1, 0)
    # Each half alone is 0.71 from the question; together they say it all.
    assert best_window(np.stack([half_a, half_b]), query) == pytest.approx(1.0)
    # Not adjacent: the pair never forms, the best single sentence counts.
    assert best_window(np.stack([half_a, off, half_b]), query) == pytest.approx(0.7071, abs=1e-3)
    assert best_window(np.stack([query]), query) == pytest.approx(1.0)


def test_best_windows_scores_every_passage_as_best_window_does() -> None:
    rng = np.random.default_rng(4)
    counts = [1, 3, 2, 1, 5]
    per_passage = [rng.normal(size=(n, 16)).astype(np.float32) for n in counts]
    per_passage = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in per_passage]
    query = per_passage[1][1] + per_passage[1][2]
    query /= np.linalg.norm(query)
    best, sims = best_windows(np.concatenate(per_passage), counts, query)
    assert best == pytest.approx([best_window(v, query) for v in per_passage], abs=1e-5)
    assert sims == pytest.approx(np.concatenate([v @ query for v in per_passage]), abs=1e-6)
    # A pair never spans two passages: passage 3's lone sentence gets only its own cosine.
    assert best[3] == pytest.approx(float(per_passage[3][0] @ query), abs=1e-6)
