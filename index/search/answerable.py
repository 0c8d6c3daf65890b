"""Is the question answered by the passages found, or is it "not in the corpus"?

Three tests, all must pass. The best of the top results must be close to the question:
its late-interaction MaxSim (the mean over the question's content tokens of their best
cosine with a passage token) at least the threshold when sentence vectors are pooled, or
its best sentence's cosine when sentences are embedded on their own. Pooled sentence
vectors read each sentence in its passage's context: they rank highlights as well, but
their cosine with the question runs lower for abstract questions and flagged 5 of the 76
answerable seed questions at a threshold fitted on SciFact; token vectors are the same
whichever sentence vectors are kept (``scripts/ingest_levers.py``). Every name the
question uses must appear together in one of the results: "What did Putin say about
Maduro?" finds passages about Maduro that are similar in meaning, but none names Putin,
so the corpus does not answer it. And a
question that asks for a quantity needs a sentence that gives one (``answertype``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.documents import Hit
from index.search.answertype import expected_answer, gives
from index.search.highlight import content_words

_WORD_RE = re.compile(r"[^\W\d_][\w'’.-]*")
_NOT_NAMES = frozenset(
    "what who whom whose which when where why how did does do is are was were the a an "
    "in on at of and or for to by with from about according".split()
)


def named_terms(question: str) -> set[str]:
    """Capitalized words after the first, as crude 6-letter stems: the names asked about.

    >>> sorted(named_terms("What did Putin say about Maduro's talks with the U.S. and CIA?"))
    ['cia', 'maduro', 'putin']
    """
    words = _WORD_RE.findall(question)
    names: set[str] = set()
    for word in words[1:]:
        bare = re.sub(r"['’]s$", "", word).rstrip(".-") if not word.isupper() else word
        if bare[:1].isupper() and bare.casefold() not in _NOT_NAMES:
            names |= content_words(bare)
    return names


def names_found_together(question: str, hits: Sequence[Hit]) -> bool:
    """Some result (its text or its document's title) holds every name in the question."""
    names = named_terms(question)
    if not names:
        return True
    return any(
        names <= content_words(f"{hit.document.title or ''} {hit.passage.text}") for hit in hits
    )


def quantity_found(question: str, hits: Sequence[Hit]) -> bool:
    """A quantity question ("how many barrels ...") has a sentence that gives one."""
    expectation = expected_answer(question)
    if expectation is None:
        return True
    return any(
        gives(expectation, sentence) for hit in hits for sentence in hit.passage.sentence_texts
    )


def closeness(hit: Hit, by_tokens: bool) -> float:
    """What the first test compares with the threshold."""
    return hit.late if by_tokens and hit.late is not None else hit.similarity


def is_answerable(
    question: str,
    hits: Sequence[Hit],
    threshold: float,
    *,
    names: bool = True,
    quantities: bool = True,
    by_tokens: bool = False,
) -> bool:
    """``names`` and ``quantities`` switch the second and third tests; ``by_tokens`` reads
    each hit's MaxSim (its sentence cosine where no token vectors are stored)."""
    if not hits or max(closeness(hit, by_tokens) for hit in hits) < threshold:
        return False
    if names and not names_found_together(question, hits):
        return False
    return not quantities or quantity_found(question, hits)
