"""Sentence spans with true offsets, from pysbd.

pysbd segments each line on its own (a news line is a paragraph, and sentences
never cross one); offsets are found by searching forward in the original text, so
they hold even where pysbd's own character spans drift.

pysbd's time grows with the square of what it is given (a 400,000-character line took
over two minutes), and PDF text often has no line breaks. So a long line is read in
windows of ``WINDOW`` characters, cut at whitespace: every sentence but a window's last
is kept, and the next window starts where that last one did, so the cost is linear and
a sentence shorter than half a window nearly always comes out as it would from the whole
line: the seed articles run together split identically; pysbd's few rules that look
further ahead (after an ellipsis, a stray closing quote, a sentence with no end mark) can
choose differently near a cut (tests/index/test_sentences.py measures how often).
"""

from __future__ import annotations

import re

from index.documents import Span

_LINE_RE = re.compile(r"[^\r\n]+")
WINDOW = 2000
"""Characters pysbd reads at once (about 20 sentences of news prose)."""


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
        spans.extend(_windowed(text, line.start(), line.end(), segmenter, WINDOW))
    return spans


def _windowed(text: str, start: int, end: int, segmenter: object, window: int) -> list[Span]:
    """The sentences of one line, read ``window`` characters at a time."""
    spans: list[Span] = []
    cursor = start
    while end - cursor > window:
        cut = text.rfind(" ", cursor + window // 2, cursor + window)
        cut = cut if cut > cursor else cursor + window
        found = _line_sentences(text, cursor, cut, segmenter)
        if len(found) >= 2:  # the last may run on past the cut: read it again next time
            spans.extend(found[:-1])
            cursor = found[-1].start
        else:  # one sentence longer than half a window: it is cut here
            spans.extend(found)
            cursor = cut
        while cursor < end and text[cursor].isspace():
            cursor += 1
    spans.extend(_line_sentences(text, cursor, end, segmenter))
    return spans


def _line_sentences(text: str, start: int, end: int, segmenter: object) -> list[Span]:
    # pysbd's processor, not ``segment()``: segment() then finds each sentence's span
    # with a regex over the whole window, work this function does anyway (a third of
    # pysbd's time on SciFact). Output is the same: segment() also drops a sentence it
    # cannot find again.
    try:
        pieces: list[str] = segmenter.processor(text[start:end]).process()  # type: ignore[attr-defined]
    except Exception:  # pysbd can fail on odd input; fall back to the whole line.
        pieces = [text[start:end]]
    spans: list[Span] = []
    cursor = start
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        found = text.find(piece, cursor, end)
        if found < 0:  # pysbd changed this one; the rest keep their own spans.
            continue
        spans.append(Span(found, found + len(piece)))
        cursor = found + len(piece)
    rest = text[cursor:end]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append(Span(cursor + lead, cursor + len(rest.rstrip())))
    return spans
