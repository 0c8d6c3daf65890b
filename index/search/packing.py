"""Ranked hits packed into labelled evidence blocks for an LLM, within a character budget.

Overlapping or touching passages of one document become one block (at the rank of its
best passage), so a model never reads the same sentence twice; blocks keep rank order;
a block that does not fit the budget is left out whole, never cut, and ``truncated``
says so. Every block's text is the document's text at its span, so a citation a model
quotes can be checked: ``document.text[char_start:char_end] == block.text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from index.documents import Highlight, Hit, Layout

SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Block:
    """One piece of evidence: a span of one document, with its label and source."""

    label: str
    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    char_start: int
    char_end: int
    text: str
    score: float
    highlight: Highlight
    layout: Layout = field(default_factory=Layout)
    """The document's pages and original, for the block's citation."""

    @property
    def header(self) -> str:
        name = self.title or self.doc_id
        return f"{self.label} {name} ({self.doc_id}, chars {self.char_start}-{self.char_end})"

    def render(self) -> str:
        return f"{self.header}\n{self.text}"


@dataclass(frozen=True)
class Packed:
    blocks: tuple[Block, ...]
    truncated: bool

    @property
    def context(self) -> str:
        """The blocks as one prompt-ready text; never longer than the budget."""
        return SEPARATOR.join(block.render() for block in self.blocks)


@dataclass
class _Span:
    """A growing span of one document; ``hit`` is its best-ranked passage."""

    hit: Hit
    start: int
    end: int
    text: str

    def touches(self, doc_id: str, start: int, end: int) -> bool:
        return doc_id == self.hit.passage.doc_id and start <= self.end and end >= self.start

    def absorb(self, start: int, end: int, text: str) -> None:
        """Grow to cover ``text`` at ``[start, end)``, which overlaps or touches this span."""
        if start < self.start:
            self.text = text[: self.start - start] + self.text
            self.start = start
        if end > self.end:
            self.text = self.text + text[self.end - start :]
            self.end = end


def _merged(hits: Sequence[Hit]) -> list[_Span]:
    """Spans in order of their best passage; a passage joins every span it touches."""
    spans: list[_Span] = []
    for hit in hits:
        p = hit.passage
        touching = [s for s in spans if s.touches(p.doc_id, p.char_start, p.char_end)]
        if not touching:
            spans.append(_Span(hit, p.char_start, p.char_end, p.text))
            continue
        first = touching[0]
        first.absorb(p.char_start, p.char_end, p.text)
        for other in touching[1:]:  # the new passage bridged two spans
            first.absorb(other.start, other.end, other.text)
            spans.remove(other)
    return spans


def pack(hits: Sequence[Hit], max_chars: int) -> Packed:
    """Blocks for ``hits`` (best first) whose rendered text fits in ``max_chars``."""
    blocks: list[Block] = []
    used = 0
    truncated = False
    for span in _merged(hits):
        label = f"[{len(blocks) + 1}]"
        doc = span.hit.document
        block = Block(label, doc.doc_id, doc.title, doc.source, doc.url, doc.published,
                      span.start, span.end, span.text, span.hit.score, span.hit.highlight,
                      doc.layout)  # fmt: skip
        cost = len(block.render()) + (len(SEPARATOR) if blocks else 0)
        if used + cost > max_chars:
            truncated = True
            continue
        blocks.append(block)
        used += cost
    return Packed(tuple(blocks), truncated)
