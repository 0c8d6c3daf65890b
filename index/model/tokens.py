"""Token vectors for late interaction: the model's vector for each word that carries meaning.

Ingest stores them for every passage and a search takes the question's, so both ask
here; the MaxSim that compares them is search's (``index.search.late``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from index.model.embedder import Embedder, TokenVectors, Vectors

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
