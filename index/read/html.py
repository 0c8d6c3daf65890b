"""Web pages: the visible text with its block structure, the article found in it, and the
rest marked to skip.

The document text is what a reader of the page sees, one block (paragraph, heading,
list item, table row) to a line: scripts, styles, templates and hidden elements are never
in it. trafilatura (Apache-2.0) then finds the article, as it does best, but its output
is a new text with no offsets into the page. So its words are aligned, in order, with the
page's words (``difflib``), and each line of the page whose words are mostly the
article's is kept; every other line (navigation, share bars, banners, related stories,
comments, footers) is *skipped*, like cleaning's boilerplate: the document view shows it
dimmed, and every offset still points into the text served.

Metadata (title, site name, author, date, canonical URL) comes from trafilatura's reading
of meta tags, JSON-LD and ``<time>`` (htmldate for the date).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from index.documents import Span
from index.errors import BadDocumentError
from index.validation import safe_url

_SKIP_TAGS = frozenset(
    "script style template head rt rp svg math iframe object embed canvas select option "
    "textarea input button audio video picture source track map area dialog".split()
)
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend "
    "li main menu nav ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_WORD = re.compile(r"\w+")
_TEMPLATE = re.compile(r"^\s*text/(?:template|html)\s*$", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
KEEP_SHARE = 0.5
"""A line is article text when at least this share of its words align with the article."""
REALIGN_ROUNDS = 3
REALIGN_MIN_RUN = 3
EXACT_LIMIT = 50_000_000
"""Page words times article words above which the alignment is anchored first
(``_anchored``): difflib's time grows with their product, and a 150,000-word manual page
took two minutes. Below it (pages of up to about 7,000 words) nothing changes."""


@dataclass(frozen=True)
class HtmlText:
    """A page as text: ``skipped`` are the lines that are not the article."""

    text: str
    skipped: tuple[Span, ...]
    title: str | None
    source: str | None
    author: str | None
    published: str | None
    url: str | None


def _lxml_html() -> Any:
    import lxml.html

    return lxml.html


def decode_html(data: bytes) -> str:
    """The page's characters: its BOM or declared charset, else UTF-8, else cp1252."""
    from trafilatura.utils import decode_file

    return str(decode_file(data))


def read_html(markup: str, name: str, url: str | None = None) -> HtmlText:
    """The page's visible text, with what is not its article marked to skip."""
    import trafilatura

    try:  # lxml refuses a str that declares its encoding (XHTML's <?xml ...?>)
        tree = _lxml_html().document_fromstring(_XML_DECLARATION.sub("", markup, count=1))
    except (ValueError, TypeError) as exc:  # lxml: empty or unparsable document
        raise BadDocumentError(f"{name}: not a readable HTML page ({exc})") from None
    lines = list(_visible_lines(tree))
    text, spans = _join(lines)
    if not text.strip():
        raise BadDocumentError(f"{name}: the page has no visible text")
    article = trafilatura.extract(
        markup, url=url, include_comments=False, include_tables=True, fast=False
    )
    # No article found (a page of links, a form): better the page with its chrome than none.
    skipped = _skipped(text, spans, article) if article and _WORD.search(article) else []
    meta = trafilatura.extract_metadata(markup, default_url=url)
    return HtmlText(
        text,
        tuple(skipped),
        _clean(meta.title if meta else None) or _clean(tree.findtext(".//title")),
        _clean(meta.sitename if meta else None),
        _clean(meta.author if meta else None),
        _clean(meta.date if meta else None),
        safe_url(meta.url if meta and meta.url else url),
    )


def _clean(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def _hidden(element: Any) -> bool:
    attrs = element.attrib
    return (
        "hidden" in attrs
        or attrs.get("aria-hidden", "").lower() == "true"
        or bool(_HIDDEN_STYLE.search(attrs.get("style", "")))
        or (element.tag == "input" and attrs.get("type", "").lower() == "hidden")
    )


def _visible_lines(root: Any) -> Iterator[str]:
    """The page's blocks as lines of text, whitespace collapsed (``pre`` kept line by line)."""
    pieces: list[str] = []

    def flush() -> Iterator[str]:
        line = _visible("".join(pieces))
        pieces.clear()
        if line:
            yield line

    def walk(element: Any, pre: bool) -> Iterator[str]:
        tag = element.tag.lower() if isinstance(element.tag, str) else None  # None: a comment
        if tag == "script" and _TEMPLATE.search(element.get("type", "")) and element.text:
            yield from flush()  # markup that scripts render into the page (Blogger's posts)
            if (rendered := _template(element.text)) is not None:
                yield from walk(rendered, pre)
        elif tag is not None and tag not in _SKIP_TAGS and not _hidden(element):
            block = tag in _BLOCK_TAGS
            if block or tag == "br":
                yield from flush()
            pre = pre or tag == "pre"
            if element.text:
                yield from text_of(element.text, pre)
            for child in element:
                yield from walk(child, pre)
            if block:
                yield from flush()
        if element.tail:
            yield from text_of(element.tail, pre)

    def text_of(text: str, pre: bool) -> Iterator[str]:
        if not pre:
            pieces.append(text)
            return
        first, *rest = text.split("\n")
        pieces.append(first)
        for line in rest:
            yield from flush()
            pieces.append(line)

    body = root.find("body")
    yield from walk(body if body is not None else root, False)
    yield from flush()


def _template(markup: str) -> Any:
    try:
        return _lxml_html().fragment_fromstring(markup, create_parent="div")
    except (ValueError, TypeError):  # lxml: not markup after all
        return None


def _visible(text: str) -> str:
    """Whitespace collapsed, invisible format characters (soft hyphens, zero-width
    spaces) dropped and NFC composed, as a reader sees and would quote it."""
    if not text.isprintable():
        text = "".join(c for c in text if c.isprintable() or c.isspace())
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _join(lines: list[str]) -> tuple[str, list[Span]]:
    """One blank line between blocks, as in the seed articles."""
    spans: list[Span] = []
    cursor = 0
    for line in lines:
        spans.append(Span(cursor, cursor + len(line)))
        cursor += len(line) + 2
    return "\n\n".join(lines), spans


def _aligned(words: list[str], wanted: list[str]) -> set[int]:
    """The indices of ``words`` that align with ``wanted``. An alignment keeps order, so
    a part the extractor moved (a live blog's entries, a lead set apart) is aligned
    again, word runs of at least ``REALIGN_MIN_RUN``, among the words still unmatched."""
    if len(words) * len(wanted) > EXACT_LIMIT:
        return _anchored(words, wanted)
    return _aligned_exactly(words, wanted)


def _anchored(words: list[str], wanted: list[str]) -> set[int]:
    """Patience-style: words found once in each text, in the same order (the longest
    increasing run of them), pin the alignment; difflib aligns the gaps between pins.
    A part the extractor moved is not aligned again across pins."""
    once_here = _once(words)
    once_there = _once(wanted)
    pairs = [(i, once_there[w]) for w, i in once_here.items() if w in once_there]
    pairs.sort()
    pins = _increasing([j for _, j in pairs])
    found: set[int] = set()
    last_i = last_j = -1
    for i, j in [pairs[k] for k in pins] + [(len(words), len(wanted))]:
        gap_words, gap_wanted = words[last_i + 1 : i], wanted[last_j + 1 : j]
        if gap_words and gap_wanted:
            if len(gap_words) * len(gap_wanted) > EXACT_LIMIT:  # no pin in a long gap
                gap = SequenceMatcher(None, gap_words, gap_wanted, autojunk=True)
                matched = {b.a + k for b in gap.get_matching_blocks() for k in range(b.size)}
            else:
                matched = _aligned_exactly(gap_words, gap_wanted)
            found.update(last_i + 1 + k for k in matched)
        if i < len(words):
            found.add(i)
        last_i, last_j = i, j
    return found


def _once(words: list[str]) -> dict[str, int]:
    """Each word that occurs exactly once, and where."""
    seen: dict[str, int] = {}
    twice: set[str] = set()
    for i, word in enumerate(words):
        if word in seen:
            twice.add(word)
        seen[word] = i
    return {word: i for word, i in seen.items() if word not in twice}


def _increasing(values: list[int]) -> list[int]:
    """The positions of a longest strictly increasing subsequence of ``values``."""
    ends: list[int] = []  # ends[n]: the smallest value ending an increasing run of n + 1
    at: list[int] = []  # ...and its position
    before = [-1] * len(values)
    for k, value in enumerate(values):
        n = bisect_left(ends, value)
        before[k] = at[n - 1] if n else -1
        if n == len(ends):
            ends.append(value)
            at.append(k)
        else:
            ends[n], at[n] = value, k
    run, k = [], at[-1] if at else -1
    while k >= 0:
        run.append(k)
        k = before[k]
    return run[::-1]


def _aligned_exactly(words: list[str], wanted: list[str]) -> set[int]:
    found: set[int] = set()
    used: set[int] = set()
    page, article = list(range(len(words))), list(range(len(wanted)))
    for round_ in range(1 + REALIGN_ROUNDS):
        matcher = SequenceMatcher(
            None, [words[i] for i in page], [wanted[j] for j in article], autojunk=False
        )
        new = 0
        for block in matcher.get_matching_blocks():
            if block.size and (round_ == 0 or block.size >= REALIGN_MIN_RUN):
                found.update(page[block.a : block.a + block.size])
                used.update(article[block.b : block.b + block.size])
                new += block.size
        page = [i for i in page if i not in found]
        article = [j for j in article if j not in used]
        if not new or not page or not article:
            break
    return found


def _skipped(text: str, spans: list[Span], article: str) -> list[Span]:
    """The lines whose words are mostly not in ``article``, aligned in order."""
    words: list[str] = []
    owner: list[int] = []
    for i, span in enumerate(spans):
        found = [w.casefold() for w in _WORD.findall(text, span.start, span.end)]
        words += found
        owner += [i] * len(found)
    wanted = [w.casefold() for w in _WORD.findall(article)]
    matched = [0] * len(spans)
    for k in _aligned(words, wanted):
        matched[owner[k]] += 1
    skipped: list[Span] = []
    for i, span in enumerate(spans):
        total = len(_WORD.findall(text, span.start, span.end))
        if not total or matched[i] < KEEP_SHARE * total:
            skipped.append(span)
    return skipped
