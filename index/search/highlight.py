"""Choose the sentence of a passage that best answers the question.

Pure functions: the caller supplies each sentence's cosine similarity to the question;
a small bonus for shared content words breaks near-ties toward the literal answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from index.documents import Highlight, Span

LEXICAL_WEIGHT = 0.15
_WORD_RE = re.compile(r"\w{3,}")
_STOP = frozenset(
    "the and for are was were what who whom whose which when where why how did does "
    "that this with from about into than then there their they them have has had said "
    "say says not but you your our his her its will would could should".split()
)


def content_words(text: str) -> set[str]:
    """Casefolded words of 3+ letters, stopwords dropped, cut to 6 letters as a crude stem."""
    return {w[:6] for w in _WORD_RE.findall(text.casefold()) if w not in _STOP}


def word_overlap(question: str, sentence: str) -> float:
    """Share of the question's content words that the sentence holds (0 to 1)."""
    wanted = content_words(question)
    if not wanted:
        return 0.0
    return len(wanted & content_words(sentence)) / len(wanted)


def best_sentence(
    text: str,
    question: str,
    sentences: Sequence[Span],
    similarities: Sequence[float],
    offset: int = 0,
    prefer: Callable[[str], bool] | None = None,
) -> Highlight:
    """The highest-scoring sentence; ``text`` starts at document offset ``offset`` and
    ``sentences`` are document offsets, as is the returned highlight. When some sentence
    passes ``prefer`` (it holds the kind of answer asked for), the best of those wins.

    >>> t = "Rain fell. Bolton spoke about talks."
    >>> best_sentence(t, "what did Bolton say?", [Span(0, 10), Span(11, 36)], [0.1, 0.5]).text
    'Bolton spoke about talks.'
    """
    if not sentences or len(sentences) != len(similarities):
        raise ValueError("need one similarity per sentence, and at least one sentence")
    texts = [text[s.start - offset : s.end - offset] for s in sentences]
    wanted = content_words(question)
    scores = [
        sim
        + LEXICAL_WEIGHT * (len(wanted & content_words(sentence)) / len(wanted) if wanted else 0.0)
        for sentence, sim in zip(texts, similarities, strict=True)
    ]
    pool = [i for i, t in enumerate(texts) if prefer(t)] if prefer else []
    best = max(pool or range(len(scores)), key=lambda i: scores[i])
    span = sentences[best]
    sentence = texts[best]
    return Highlight(sentence, span.start, span.end, float(similarities[best]))


def best_window(vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32]) -> float:
    """A passage's sentence-level score: the cosine of its best sentence, or of its best
    pair of adjacent sentences (the mean of their unit vectors), whichever is higher.

    An answer often needs the sentence before it: "Similar to how a disease becomes
    immune to a certain antibiotic" says nothing about sanctions without its neighbour.
    Measured in ``eval/reports/quality.md``.
    """
    sims = vectors @ query
    best = float(sims.max())
    if len(vectors) > 1:
        pairs = sims[:-1] + sims[1:]
        norms = np.linalg.norm(vectors[:-1] + vectors[1:], axis=1)
        best = max(best, float((pairs / np.maximum(norms, 1e-6)).max()))
    return best


def best_windows(
    vectors: npt.NDArray[np.float32], counts: Sequence[int], query: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    """``best_window`` of many passages at once, whose sentence vectors are stacked in
    ``vectors`` (``counts`` rows each, at least one), and every sentence's cosine.

    One matrix product instead of a loop: it runs over every candidate of a search.
    """
    sims = (vectors @ query).astype(np.float32)
    ends = np.cumsum(counts)
    starts = ends - np.asarray(counts)
    best = np.maximum.reduceat(sims, starts).astype(np.float64)
    if len(vectors) > 1:
        pairs = (sims[:-1] + sims[1:]) / np.maximum(
            np.linalg.norm(vectors[:-1] + vectors[1:], axis=1), 1e-6
        )
        # A pair may not span two passages: the last sentence of each has no partner.
        pairs[ends[:-1] - 1] = -np.inf
        padded = np.append(pairs, -np.inf)
        best = np.maximum(best, np.maximum.reduceat(padded, starts))
    return best, sims
