"""Pack sentences into passages of bounded size, with one sentence of overlap.

Passages never cross skipped boilerplate, so ``text[char_start:char_end]`` of a
passage holds only content, and it is always the exact source text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.config import ChunkSpec
from index.documents import Span


@dataclass(frozen=True)
class Chunk:
    """A passage's span and the sentences inside it."""

    span: Span
    sentences: tuple[Span, ...]


def split_long(text: str, sentence: Span, max_chars: int) -> list[Span]:
    """Cut a sentence longer than ``max_chars`` at whitespace (or hard, if it has none)."""
    pieces: list[Span] = []
    start = sentence.start
    while sentence.end - start > max_chars:
        limit = start + max_chars
        cut = text.rfind(" ", start + 1, limit + 1)
        if cut <= start:
            cut = limit
        end = len(text[start:cut].rstrip()) + start
        pieces.append(Span(start, max(end, start + 1)))
        start = cut
        while start < sentence.end and text[start].isspace():
            start += 1
    if start < sentence.end:
        pieces.append(Span(start, sentence.end))
    return pieces


def pack(sentences: Sequence[Span], spec: ChunkSpec) -> list[Chunk]:
    """Greedily pack consecutive sentences; each chunk after the first repeats the
    last ``spec.overlap`` sentences of the one before, when they fit."""
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j].end - sentences[i].start <= spec.max_chars:
            j += 1
        chunks.append(Chunk(Span(sentences[i].start, sentences[j - 1].end), tuple(sentences[i:j])))
        if j >= len(sentences):
            break
        i = max(j - spec.overlap, i + 1)
    return chunks


def chunk_block(text: str, sentences: Sequence[Span], spec: ChunkSpec) -> list[Chunk]:
    """Chunks for the sentences of one content block (no boilerplate inside)."""
    units: list[Span] = []
    for sentence in sentences:
        units.extend(split_long(text, sentence, spec.max_chars))
    return pack(units, spec)
