"""Find boilerplate in a document and the title and publisher it names.

Cleaning never rewrites text: it returns spans to skip, so every offset the engine
reports still points into the text as read. It works line by line because news
chrome (app banners, donation appeals, captions, mastheads) comes in whole lines.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
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
# An ATX heading: up to 3 spaces, 1-6 '#', then a space (or nothing) and the text, with
# an optional closing run of '#' after a space. Setext headings are not recognised.
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")


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


def clean(text: str, markdown: bool = False, skipped: Sequence[Span] = ()) -> Cleaned:
    """Mark boilerplate lines, and detect the headline and the publisher.

    In ``markdown``, the first ATX heading is the title, and the ``#`` markers of the
    other headings are skipped so no passage or highlight starts with them.

    >>> c = clean("Big news from Caracas today\\nThe story goes on, as stories do.\\n")
    >>> c.title
    'Big news from Caracas today'
    >>> clean("# Notes\\n\\n## Why\\nBecause.\\n", markdown=True).title
    'Notes'
    """
    lines = [line for line in _lines(text) if line.text.strip()]
    headings = _headings(lines) if markdown else {}
    kinds: dict[int, str] = {}
    _mark_line_rules(lines, kinds)
    _mark_repeats_and_captions(lines, kinds, _within(lines, skipped))
    title = _mark_title(text, lines, kinds, headings)
    if len(kinds) == len(lines):
        # Nothing but a headline (a one-line note, a short claim): that line is the content.
        kinds = {i: kind for i, kind in kinds.items() if kind not in ("title", "masthead")}
    skip = [
        Boilerplate(Span(line.start, line.end), kinds[i])
        for i, line in enumerate(lines)
        if i in kinds
    ]
    for i, heading in headings.items():
        if i not in kinds:
            skip.extend(_heading_markers(lines[i], heading))
    return Cleaned(skip=tuple(skip), title=title, source=_publisher(lines))


def _mark_title(
    text: str, lines: list[_Line], kinds: dict[int, str], headings: dict[int, Span]
) -> str | None:
    """Mark the title line and return its text: a Markdown file's first heading, else
    the news headline (with the masthead above it)."""
    if headings:
        first = min(headings)
        kinds[first] = "title"
        return text[headings[first].start : headings[first].end] or None
    index = _mark_masthead(lines, kinds)
    return lines[index].text.strip() if index is not None else None


def _headings(lines: list[_Line]) -> dict[int, Span]:
    """Markdown heading lines by index, each with the span of its text (no markers)."""
    found: dict[int, Span] = {}
    for i, line in enumerate(lines):
        match = _HEADING_RE.match(line.text)
        if match:
            found[i] = Span(line.start + match.start("text"), line.start + match.end("text"))
    return found


def _heading_markers(line: _Line, heading: Span) -> list[Boilerplate]:
    """The '#' runs around a heading's text, as spans to skip (the whole line if empty)."""
    if heading.start == heading.end:
        return [Boilerplate(Span(line.start, line.end), "heading")]
    markers = [Span(line.start, heading.start), Span(heading.end, line.end)]
    return [Boilerplate(span, "heading") for span in markers if span.start < span.end]


def _within(lines: list[_Line], skipped: Sequence[Span]) -> set[int]:
    """The lines a reader already skipped (site chrome, page furniture)."""
    ranges = sorted((s.start, s.end) for s in skipped)
    starts = [a for a, _ in ranges]
    found = set()
    for i, line in enumerate(lines):
        k = bisect_right(starts, line.start) - 1
        if k >= 0 and ranges[k][0] <= line.start and line.end <= ranges[k][1]:
            found.add(i)
    return found


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


def _mark_repeats_and_captions(
    lines: list[_Line], kinds: dict[int, str], skipped: set[int]
) -> None:
    """A line equal to the one before is a repeat, unless that one is never indexed."""
    for i in range(1, len(lines)):
        prev, line = _norm(lines[i - 1].text), _norm(lines[i].text)
        if line == prev and i - 1 not in skipped:
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
