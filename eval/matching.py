"""Does a returned passage hold a gold quote?  Judged on text, so any chunking can be scored."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

MIN_OVERLAP = 0.6
"""A passage cut mid-quote still counts when it holds this share of the quote, unbroken."""

_TRANSLATE = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"',
     "\u201e": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
     "\u2015": "-", "\u2212": "-"}
)  # fmt: skip
_SPACE_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Casefolded, with curly quotes made straight, dashes made hyphens, whitespace single.

    >>> normalize("Doral\u2019s  \u201cEl\u00a0Arepazo\u201d \u2014 Miami")
    'doral\\'s "el arepazo" - miami'
    """
    return _SPACE_RE.sub(" ", text.translate(_TRANSLATE)).strip().casefold()


def covers(passage: str, quote: str) -> bool:
    """The passage contains the quote, or an unbroken ``MIN_OVERLAP`` share of it.

    >>> covers("He said: \u201cWe are talking.\u201d Then he left.", 'we are talking."')
    True
    >>> covers("We are talking to various", "We are talking to various representatives of Venezuela")
    False
    """
    p, q = normalize(passage), normalize(quote)
    if not q:
        return False
    if q in p:
        return True
    match = SequenceMatcher(None, p, q, autojunk=False).find_longest_match(0, len(p), 0, len(q))
    return match.size >= MIN_OVERLAP * len(q)
