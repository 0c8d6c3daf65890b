"""Late interaction: score a passage token by token against the question (MaxSim).

One vector per passage blurs a paraphrase: "American economic penalties" and "sanctions"
sit in different passages' averages, yet the model's own vectors for the tokens
"penalties" and "sanctions" are close. Each question token takes its best match among
the passage's tokens, and the mean of those is the passage's score (ColBERT's MaxSim,
here with the embedding model's token vectors, no extra weights). Only the head of the
fused ranking is scored, so the cost is a few dozen passages a question; passage token
vectors are kept in a small LRU cache.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

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
    return round(float((question @ passage.T).max(axis=1).mean()), 6)


class LateScorer:
    """MaxSim scores for passage texts; token vectors of recent passages are cached
    (float16, keyed by the text itself, so a changed passage is never served stale)."""

    def __init__(self, embedder: Embedder, cache_size: int = 4096) -> None:
        self._embedder = embedder
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def scores(self, question: str, passages: Sequence[str]) -> list[float]:
        query = content_vectors(self._embedder.embed_tokens([question])[0])
        vectors = self._passage_vectors(passages)
        return [maxsim(query, vectors[text]) for text in passages]

    def _passage_vectors(self, passages: Sequence[str]) -> dict[str, Vectors]:
        with self._lock:
            found = {text: self._cache[text] for text in passages if text in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        todo = [text for text in dict.fromkeys(passages) if text not in found]
        if todo:
            fresh = self._embedder.embed_tokens(todo)
            with self._lock:
                for text, tokens in zip(todo, fresh, strict=True):
                    found[text] = self._cache[text] = content_vectors(tokens).astype(np.float16)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return {text: np.asarray(v, dtype=np.float32) for text, v in found.items()}
