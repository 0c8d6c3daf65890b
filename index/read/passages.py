"""From a document to its passages: clean, split into sentences, pack."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from index.config import ChunkSpec
from index.documents import Document, Span
from index.read.chunking import chunk_block
from index.read.cleaning import Boilerplate, Cleaned, clean
from index.read.sentences import sentence_spans


@dataclass(frozen=True)
class NewPassage:
    """A passage to store, before it has a row id."""

    seq: int
    span: Span
    sentences: tuple[Span, ...]


@dataclass(frozen=True)
class PreparedDocument:
    """A document with its detected title and source filled in, and its passages."""

    document: Document
    passages: tuple[NewPassage, ...]

    def passage_text(self, passage: NewPassage) -> str:
        return self.document.text[passage.span.start : passage.span.end]


def indexed_text(text: str, title: str | None, with_title: bool) -> str:
    """What the embedder and BM25 see for a passage: optionally its document's title
    first, so a passage that never names its subject can still match it."""
    return f"{title} {text}" if with_title and title else text


def _cleaned(doc: Document) -> Cleaned:
    markdown = doc.metadata.get("format") == "markdown"
    cleaned = clean(doc.text, markdown=markdown, skipped=doc.layout.skipped)
    if doc.layout.skipped:  # the reader's own finds: page furniture, site chrome
        found = tuple(Boilerplate(span, "reader") for span in doc.layout.skipped)
        cleaned = replace(cleaned, skip=cleaned.skip + found)
    return cleaned


def content_spans(doc: Document) -> list[Span]:
    """The ranges of the text that are indexed: outside every skipped span."""
    return _cleaned(doc).content_blocks(doc.text)


def prepare(doc: Document, spec: ChunkSpec) -> PreparedDocument:
    """Passages cover only content; a title or source given by the caller wins over
    what cleaning detects."""
    cleaned = _cleaned(doc)
    doc = replace(doc, title=doc.title or cleaned.title, source=doc.source or cleaned.source)
    passages: list[NewPassage] = []
    for block in cleaned.content_blocks(doc.text):
        for chunk in chunk_block(doc.text, sentence_spans(doc.text, block), spec):
            passages.append(NewPassage(len(passages), chunk.span, chunk.sentences))
    return PreparedDocument(doc, tuple(passages))


def content_hash(doc: Document, spec: ChunkSpec) -> str:
    """Changes when anything that shapes the stored passages changes."""
    payload = json.dumps(
        [doc.text, doc.title, doc.source, doc.url, doc.published, dict(doc.metadata),
         spec.max_chars, spec.overlap, *_layout_key(doc)],
        sort_keys=True, default=str,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()


def _layout_key(doc: Document) -> list[object]:
    """The layout's part of the hash, empty for a plain text (so older hashes still hold)."""
    layout = doc.layout
    if not (layout.pages or layout.skipped or layout.original):
        return []
    return [[(s.start, s.end) for s in layout.pages], [(s.start, s.end) for s in layout.skipped],
            layout.original.sha256 if layout.original else None]  # fmt: skip
