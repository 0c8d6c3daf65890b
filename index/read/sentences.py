"""Sentence spans with true offsets, from pysbd.

pysbd segments each line on its own (a news line is a paragraph, and sentences
never cross one); offsets are found by searching forward in the original text, so
they hold even where pysbd's own character spans drift.
"""

from __future__ import annotations

import re

from index.documents import Span

_LINE_RE = re.compile(r"[^\r\n]+")


def _segmenter() -> object:
    import pysbd  # Imported here so importing the engine stays cheap.

    # A new segmenter per call: pysbd keeps the text being segmented on the object.
    return pysbd.Segmenter(language="en", clean=False)


def sentence_spans(text: str, block: Span | None = None) -> list[Span]:
    """Split ``text[block]`` into sentences; each span is trimmed of surrounding spaces.

    >>> [("Hi there. Bye now." )[s.start:s.end] for s in sentence_spans("Hi there. Bye now.")]
    ['Hi there.', 'Bye now.']
    """
    block = block or Span(0, len(text))
    segmenter = _segmenter()
    spans: list[Span] = []
    for line in _LINE_RE.finditer(text, block.start, block.end):
        spans.extend(_line_sentences(text, line.start(), line.end(), segmenter))
    return spans


def _line_sentences(text: str, start: int, end: int, segmenter: object) -> list[Span]:
    try:
        pieces: list[str] = segmenter.segment(text[start:end])  # type: ignore[attr-defined]
    except Exception:  # pysbd can fail on odd input; fall back to the whole line.
        pieces = [text[start:end]]
    spans: list[Span] = []
    cursor = start
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        found = text.find(piece, cursor, end)
        if found < 0:  # pysbd changed the text; keep the rest of the line as one sentence.
            break
        spans.append(Span(found, found + len(piece)))
        cursor = found + len(piece)
    rest = text[cursor:end]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append(Span(cursor + lead, cursor + len(rest.rstrip())))
    return spans
