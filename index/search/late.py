"""Late interaction: score a passage token by token against the question (MaxSim).

One vector per passage blurs a paraphrase: "American economic penalties" and "sanctions"
sit in different passages' averages, yet the model's own vectors for the tokens
"penalties" and "sanctions" are close. Each question token takes its best match among
the passage's tokens, and the mean of those is the passage's score (ColBERT's MaxSim,
here with the embedding model's token vectors, no extra weights). Only the head of the
fused ranking is scored; passage token vectors are stored at ingest, so a question costs
one more pass of the model over the question alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.model.embedder import Vectors


def maxsim(question: Vectors, passage: Vectors) -> float:
    """Mean over question tokens of their best cosine with any passage token.

    >>> q = np.eye(2, dtype=np.float32)
    >>> maxsim(q, np.array([[1, 0], [0.6, 0.8]], dtype=np.float32))
    0.9
    """
    if not len(question) or not len(passage):
        return 0.0
    return round(float(np.mean(np.max(question @ passage.T, axis=1))), 6)


def maxsim_many(question: Vectors, tokens: Vectors, counts: Sequence[int]) -> list[float]:
    """``maxsim`` of the question against each run of ``counts`` rows of ``tokens``,
    in one matrix product (a passage with no tokens scores 0)."""
    if not len(counts):
        return []
    if not len(question) or not len(tokens):
        return [0.0] * len(counts)
    sims = tokens @ question.T  # all passage tokens x question tokens
    counts_arr = np.asarray(counts)
    nonempty = counts_arr > 0
    starts = np.concatenate([[0], np.cumsum(counts_arr)[:-1]])[nonempty]
    best = np.maximum.reduceat(sims, starts, axis=0)  # non-empty passages x question tokens
    scores = np.zeros(len(counts), dtype=np.float64)
    scores[nonempty] = best.mean(axis=1)
    return [round(float(s), 6) for s in scores]
