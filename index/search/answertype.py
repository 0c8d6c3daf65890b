"""What kind of answer a question asks for, and whether a sentence can give it.

"How many barrels of oil does Venezuela produce?" finds sentences about Venezuelan oil
that are close in meaning, yet none of them counts barrels: the corpus does not answer
it. A question that asks for a quantity is answered only by a sentence holding a number
(an age, a sum of money) together with the thing counted. Questions of other shapes get
no expectation and are judged on similarity and names alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from index.read.terms import stemmer

AnswerKind = Literal["count", "age", "money", "measure"]

_WORD = r"[^\W\d_][\w'’-]*"
_COUNT_RE = re.compile(rf"\bhow\s+(?:many|much)\s+((?:{_WORD}\s*)+)", re.IGNORECASE)
_MONEY_RE = re.compile(
    r"\bhow\s+much\s+(?:did|does|do|will|would|is|was|has|have)\b.*\b(?:pay|paid|cost|spen[dt]"
    r"|earn|charge|owe|raise|worth|fine)",
    re.IGNORECASE,
)
_AGE_RE = re.compile(rf"\bhow\s+old\s+(?:is|was|are|were)\s+((?:{_WORD}\s*)+)", re.IGNORECASE)
_MEASURE_RE = re.compile(
    rf"\bhow\s+(?:large|big|high|long|far|tall|wide|deep|heavy|fast|small|low)\s+"
    rf"(?:is|was|are|were)\s+((?:{_WORD}\s*)+)",
    re.IGNORECASE,
)
_QUANTITY_NOUNS = frozenset(
    "rate price cost number amount population size percentage share value budget salary "
    "total figure reward toll count output production".split()
)
_WHAT_QUANTITY_RE = re.compile(
    rf"\bwhat\s+(?:is|was|are|were)\s+((?:{_WORD}\s*)+)",
    re.IGNORECASE,
)
_PHRASE_END = frozenset(
    "of in on at for from to by with about under over during since into than "
    "does do did is are was were has have had will would can could that which who "
    "per each".split()
)
_DETERMINERS = frozenset("the a an this that these those its their his her".split())
_COUNTERS = frozenset("time times".split())
"""'How many times': any number answers it ('eight occasions')."""

_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred hundreds thousand thousands million millions billion billions "
    "trillion dozen dozens half".split()
)
_DIGITS_RE = re.compile(r"\d[\d,.]*")
_YEAR_RE = re.compile(r"^(?:1[89]|20)\d\d$")
_AGE_ANSWER_RE = re.compile(
    r"\b\d+[-\s]years?[-\s]old\b|\baged?\s+\d+|\b\d+\s+years\s+of\s+age\b", re.IGNORECASE
)
_MONEY_ANSWER_RE = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:million|billion|thousand)?\s*(?:dollars|euros|pounds|"
    r"bolívars|bolivars|bolívares|bolivares|usd|eur)\b",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Expectation:
    """The answer must be a ``kind`` of number in a sentence holding every one of
    ``things`` and, when the question names some, at least one of ``names`` (stems)."""

    kind: AnswerKind
    things: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()


def _stems(words: list[str]) -> frozenset[str]:
    return frozenset(stemmer().stemWords([w.casefold() for w in words]))


def _phrase(text: str) -> list[str]:
    """The noun phrase at the start of ``text``: up to a preposition or a verb."""
    words: list[str] = []
    for word in _TOKEN_RE.findall(re.sub(r"['’]s\b", "", text)):
        if word.casefold() in _PHRASE_END:
            break
        if word.casefold() not in _DETERMINERS:
            words.append(word)
    return words


def _head(words: list[str]) -> str | None:
    """The counted thing: the first plural among the first words ("governments backed
    Juan Guaidó", "political prisoners"), else the first word ("people", "oil")."""
    plural = [w for w in words[:3] if w.casefold().endswith("s") and len(w) > 3]
    return plural[0] if plural else (words[0] if words else None)


def _split(words: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(lower-case words, capitalized words) as stems."""
    lower = [w for w in words if not w[:1].isupper() and w.casefold() not in _COUNTERS]
    upper = [w for w in words if w[:1].isupper()]
    return _stems(lower), _stems(upper)


def expected_answer(question: str) -> Expectation | None:
    """The answer a quantity question needs, or None for any other question.

    >>> expected_answer("How many barrels of oil does Venezuela produce?")
    Expectation(kind='count', things=frozenset({'barrel'}), names=frozenset())
    >>> expected_answer("What did Bolton say about the talks?") is None
    True
    """
    if _MONEY_RE.search(question):
        return Expectation("money")
    if match := _AGE_RE.search(question):
        things, names = _split(_phrase(match.group(1)))
        return Expectation("age", things, names)
    if match := _COUNT_RE.search(question):
        head = _head(_phrase(match.group(1)))
        if head is None or head.casefold() in _COUNTERS:  # "how much did ...", "how many times"
            return Expectation("count")
        return Expectation("count", _stems([head]))
    if match := _MEASURE_RE.search(question):
        return Expectation("measure", *_split(_phrase(match.group(1))))
    if match := _WHAT_QUANTITY_RE.search(question):
        words = _phrase(match.group(1))
        if words and words[-1].casefold() in _QUANTITY_NOUNS:
            lower = [w for w in words if not w[:1].isupper()]
            return Expectation("measure", _stems(lower))
    return None


def _has_number(sentence: str) -> bool:
    for token in re.split(r"[\s\-–—/]+", sentence):
        bare = token.strip("()[]\"'“”‘’.,;:!?%")
        if bare.casefold() in _NUMBER_WORDS:
            return True
        digits = _DIGITS_RE.fullmatch(bare) or _DIGITS_RE.match(bare)
        if digits and not _YEAR_RE.match(digits.group().rstrip(".,")):
            return True
    return False


def gives(expectation: Expectation, sentence: str) -> bool:
    """Does ``sentence`` hold the kind of number asked for, about the thing asked about?

    >>> gives(expected_answer("How old is Cabello?"), "Cabello, the 56-year-old head")
    True
    >>> gives(expected_answer("How many troops are there?"), "In 2019 troops were sent.")
    False
    """
    kind = expectation.kind
    if kind == "age":
        found = bool(_AGE_ANSWER_RE.search(sentence))
    elif kind == "money":
        found = bool(_MONEY_ANSWER_RE.search(sentence))
    else:
        found = _has_number(sentence)
    if not found:
        return False
    words = _stems(_TOKEN_RE.findall(sentence))
    if not expectation.things <= words:
        return False
    return not expectation.names or bool(expectation.names & words)
