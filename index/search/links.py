"""Links that open a citation's source at the cited place.

A web page's citation links to the live page with a text fragment (WICG Scroll to Text
Fragment: ``url#:~:text=start,end``), so a browser scrolls to the answer sentence and
marks it. A PDF's links to the kept original with ``#page=N``, which PDF viewers in
browsers open at that page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from index.documents import Highlight, Layout

EDGE_WORDS = 4
"""Words at each end of a long sentence that name it (``text=start,end``)."""
_WHOLE_WORDS = 2 * EDGE_WORDS + 2
"""A sentence of at most this many words is quoted whole."""


def _encode(words: list[str]) -> str:
    # '-', ',' and '&' delimit the directive's parts: they must be percent-encoded too.
    return quote(" ".join(words), safe="").replace("-", "%2D")


def text_fragment(url: str, sentence: str) -> str:
    """``url`` with a text directive that finds ``sentence`` in the page.

    >>> text_fragment("https://example.org/a", "The envoy met the oil minister on Monday.")
    'https://example.org/a#:~:text=The%20envoy%20met%20the%20oil%20minister%20on%20Monday.'
    >>> text_fragment("https://e.org/a#top", "One two-three four five six seven eight nine ten eleven twelve")
    'https://e.org/a#top:~:text=One%20two%2Dthree%20four%20five,nine%20ten%20eleven%20twelve'
    """
    words = sentence.split()
    if not words:
        return url
    if len(words) <= _WHOLE_WORDS:
        directive = _encode(words)
    else:
        directive = f"{_encode(words[:EDGE_WORDS])},{_encode(words[-EDGE_WORDS:])}"
    base, _, fragment = url.partition("#")
    fragment = fragment.split(":~:", 1)[0]  # a directive already there is replaced
    return f"{base}#{fragment}:~:text={directive}"


def original_link(base_url: str, doc_id: str, page: int | None) -> str:
    """The kept original file of ``doc_id`` on this server, at ``page`` when known."""
    link = f"{base_url.rstrip('/')}/v1/documents/{quote(doc_id, safe='/')}/original"
    return f"{link}#page={page}" if page else link


@dataclass(frozen=True)
class Where:
    """Where a cited span is in its source, and the links that open it there."""

    page_start: int | None
    page_end: int | None
    highlight_page: int | None
    link: str | None
    """Opens the source at the cited place: the live page at the answer sentence (a text
    fragment), a PDF at its page, or, for a document with no URL of its own, the kept
    original at its page."""
    original: str | None
    """The kept original file on this server (PDF and Word files), at the page."""


def where(
    doc_id: str,
    url: str | None,
    layout: Layout,
    span: tuple[int, int],
    highlight: Highlight,
    base_url: str | None,
) -> Where:
    """Pages and links of the span ``[start, end)`` of a document and its answer sentence."""
    pages = layout.pages_of(*span)
    sentence_pages = layout.pages_of(highlight.char_start, highlight.char_end)
    page = sentence_pages[0] if sentence_pages else pages[0] if pages else None
    original = None
    if layout.original is not None and base_url:
        original = original_link(base_url, doc_id, page)
    is_pdf = layout.original is not None and layout.original.media_type == "application/pdf"
    if url and is_pdf:
        link: str | None = f"{url.partition('#')[0]}#page={page}" if page else url
    elif url:
        link = text_fragment(url, highlight.text)
    else:
        link = original
    return Where(pages[0] if pages else None, pages[1] if pages else None,
                 sentence_pages[0] if sentence_pages else None, link, original)  # fmt: skip
