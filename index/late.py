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

import re
from collections.abc import Callable, Sequence

import numpy as np

from index.embedder import Embedder, TokenVectors, Vectors

_STOP = frozenset(
    "the a an of to in on at and or for by with from about as into than that this these "
    "those it its be been being is are was were has have had do does did what who whom "
    "whose which why when where how would could should will can may his her their our "
    "your my they them he she we you i not".split()
)
_SPECIAL = frozenset(("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>"))
_WORD_RE = re.compile(r"\w")


def content_vectors(tokens: TokenVectors) -> Vectors:
    """The vectors of word tokens that carry meaning: no punctuation, special tokens or
    stopwords (a stopword matches everywhere and says nothing). All tokens if none is left."""
    keep = [
        i
        for i, token in enumerate(tokens.tokens)
        if token not in _SPECIAL
        and _WORD_RE.match(token.removeprefix("##"))
        and token.casefold() not in _STOP
    ]
    return tokens.vectors[keep] if keep else tokens.vectors


def maxsim(question: Vectors, passage: Vectors) -> float:
    """Mean over question tokens of their best cosine with any passage token.

    >>> q = np.eye(2, dtype=np.float32)
    >>> maxsim(q, np.array([[1, 0], [0.6, 0.8]], dtype=np.float32))
    0.9
    """
    if not len(question) or not len(passage):
        return 0.0
    return round(float(np.mean(np.max(question @ passage.T, axis=1))), 6)


def passage_tokens(
    embedder: Embedder,
    texts: Sequence[str],
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> list[Vectors]:
    """Content-token vectors of each text, in batches (stored at ingest by the engine)."""
    found: list[Vectors] = []
    for start in range(0, len(texts), batch_size):
        batch = embedder.embed_tokens(texts[start : start + batch_size])
        found += [content_vectors(tokens) for tokens in batch]
        if progress:
            progress(len(found), len(texts))
    return found
