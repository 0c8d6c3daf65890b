"""Links that open a citation's source at the cited place.

A web page's citation links to the live page with a text fragment (WICG Scroll to Text
Fragment: ``url#:~:text=start,end``), so a browser scrolls to the answer sentence and
marks it. A PDF's links to the kept original with ``#page=N``, which PDF viewers in
browsers open at that page.
"""

from __future__ import annotations

from urllib.parse import quote

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
