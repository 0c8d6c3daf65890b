"""Find boilerplate in a document and the title and publisher it names.

Cleaning never rewrites text: it returns spans to skip, so every offset the engine
reports still points into the text as read. It works line by line because news
chrome (app banners, donation appeals, captions, mastheads) comes in whole lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from index.documents import Span

# Whole lines that are reader-app or site chrome, never article content.
_CHROME = [
    r"get all your news in one place\.?",
    r"100'?s of premium titles\.?",
    r"one app\.?",
    r"one app\. one membership\.?",
    r"start reading",
    r"sign up to read this article\.?",
    r"read news from 100'?s of titles.*",
    r"already a member\? sign in here\.?",
    r"related stories",
    r"top stories on \w+ right now",
    r"one subscription that gives you access to news from hundreds of sites\.?",
    r"our picks",
    r"(fourteen|\d+) days free",
    r"download the app\.?",
    r"100\+ trusted global sources\.?",
    r"join the conversation as a vip member\.?",
    r"donate( now| today)?\.?",
    r"subscribe( now| today)?\.?",
    r"advertisement",
    r"share (this|the) article\.?",
    r"sign up( now| for (our|the) newsletter.*)?\.?",
    r"sign in( here)?\.?",
]
_CHROME_RE = re.compile(r"^\s*(?:" + "|".join(_CHROME) + r")\s*$", re.IGNORECASE)
_COPYRIGHT_RE = re.compile(r"^\s*(©|\(c\)|copyright\b).*|.*\ball rights reserved\b.*", re.I)
_APPEAL_START_RE = re.compile(r"\b(is|are) (100% )?reader[- ]supported\b", re.I)
_APPEAL_END_RE = re.compile(r"^\s*donate\b.*$", re.I)
_CREDIT_RE = re.compile(
    r"(\((AP|AFP|EPA|Reuters)?\s*Photo\b[^)]*\)\s*$|\bPhotograph:\s.*$|\bVia Getty Images\s*$"
    r"|\b(Photo|Image|Picture)( credit)?:\s.*$|/Getty Images\s*$)",
    re.I,
)
_BYLINE_RE = re.compile(
    r"^\s*(by\s+\S+|.*\b(correspondent|reporter|editor|staff writer)\b.*)$", re.I
)
_PUBLISHER_PATTERNS = [
    re.compile(r"^\s*(?P<name>[A-Z][\w&.' ]{1,60}?)\s+-\s+[A-Z]{2,3}\s*$"),
    re.compile(r"^\s*(?:©|\(c\)|copyright)\s*(?:\d{4}\s+)?(?P<name>[A-Z][\w&.' -]{1,60}?)\.", re.I),
    re.compile(
        r"^\s*(?P<name>[A-Z][\w&.' -]{1,60}?)\s+(?:is|are) (?:100% )?reader[- ]supported", re.I
    ),
]
_APPEAL_MAX_LINES = 8


@dataclass(frozen=True)
class Boilerplate:
    """A span to skip and why (the reason helps tests and debugging)."""

    span: Span
    kind: str


@dataclass(frozen=True)
class Cleaned:
    """What cleaning found in one text."""

    skip: tuple[Boilerplate, ...]
    title: str | None
    source: str | None

    def content_blocks(self, text: str) -> list[Span]:
        """The maximal ranges of ``text`` that hold no skipped span (blank ones dropped)."""
        blocks: list[Span] = []
        cursor = 0
        for item in sorted(self.skip, key=lambda b: b.span.start):
            if text[cursor : item.span.start].strip():
                blocks.append(Span(cursor, item.span.start))
            cursor = max(cursor, item.span.end)
        if text[cursor:].strip():
            blocks.append(Span(cursor, len(text)))
        return blocks


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def _lines(text: str) -> Iterator[_Line]:
    start = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        yield _Line(start, start + len(body), body)
        start += len(raw)


def _norm(line: str) -> str:
    return " ".join(line.lower().split())


def _is_prose(line: _Line) -> bool:
    # Headlines, decks and labels rarely end like a sentence; long lines are prose anyway.
    stripped = line.text.strip()
    return line.words >= 25 or (line.words >= 6 and stripped[-1:] in '.?!"”’')


def _letter_words(line: _Line) -> int:
    return sum(1 for word in line.text.split() if any(ch.isalpha() for ch in word))


def clean(text: str) -> Cleaned:
    """Mark boilerplate lines, and detect the headline and the publisher.

    >>> c = clean("Big news today\\nThe story starts here and goes on for a while, as stories do.\\n")
    >>> c.title
    'Big news today'
    """
    lines = [line for line in _lines(text) if line.text.strip()]
    kinds: dict[int, str] = {}
    _mark_line_rules(lines, kinds)
    _mark_repeats_and_captions(lines, kinds)
    title_index = _mark_masthead(lines, kinds)
    if len(kinds) == len(lines):
        # Nothing but a headline (a one-line note, a short claim): that line is the content.
        kinds = {i: kind for i, kind in kinds.items() if kind not in ("title", "masthead")}
    skip = tuple(
        Boilerplate(Span(line.start, line.end), kinds[i])
        for i, line in enumerate(lines)
        if i in kinds
    )
    title = lines[title_index].text.strip() if title_index is not None else None
    return Cleaned(skip=skip, title=title, source=_publisher(lines))


def _mark_line_rules(lines: list[_Line], kinds: dict[int, str]) -> None:
    appeal_left = 0
    for i, line in enumerate(lines):
        if appeal_left:
            kinds[i] = "appeal"
            appeal_left = 0 if _APPEAL_END_RE.match(line.text) else appeal_left - 1
        elif _APPEAL_START_RE.search(line.text):
            kinds[i] = "appeal"
            appeal_left = _APPEAL_MAX_LINES
        elif _CHROME_RE.match(line.text):
            kinds[i] = "chrome"
        elif _COPYRIGHT_RE.match(line.text) and line.words <= 25:
            kinds[i] = "copyright"
        elif _CREDIT_RE.search(line.text) and line.words <= 60:
            kinds[i] = "caption"


def _mark_repeats_and_captions(lines: list[_Line], kinds: dict[int, str]) -> None:
    for i in range(1, len(lines)):
        prev, line = _norm(lines[i - 1].text), _norm(lines[i].text)
        if line == prev:
            kinds.setdefault(i, "repeat")
        elif line.startswith(prev) and _CREDIT_RE.search(lines[i].text[len(lines[i - 1].text) :]):
            # "Caption" then "Caption Photograph: X": both lines are the photo caption.
            kinds.setdefault(i - 1, "caption")
            kinds.setdefault(i, "caption")


def _mark_masthead(lines: list[_Line], kinds: dict[int, str]) -> int | None:
    """Mark section labels and bylines above the headline; return the headline's index."""
    candidates: list[int] = []
    for i, line in enumerate(lines):
        if kinds.get(i) == "caption" or (i not in kinds and _is_prose(line)):
            break
        if i not in kinds:
            candidates.append(i)
    headlines = [
        i
        for i in candidates
        if _letter_words(lines[i]) >= 4
        and not _BYLINE_RE.match(lines[i].text)
        and not _PUBLISHER_PATTERNS[0].match(lines[i].text)
    ]
    if not headlines:
        return None
    title_index = headlines[0]
    for i in candidates:
        if i < title_index:
            kinds[i] = "masthead"
    kinds[title_index] = "title"
    return title_index


def _publisher(lines: list[_Line]) -> str | None:
    for pattern in _PUBLISHER_PATTERNS:
        for line in lines:
            match = pattern.match(line.text)
            if match:
                return match.group("name").strip()
    return None
