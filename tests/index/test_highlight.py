from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from index.highlight import best_window


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
