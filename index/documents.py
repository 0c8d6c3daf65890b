"""The nouns of the engine: documents, passages, hits and highlights.

Offsets are half-open Python string indices into ``Document.text``, which is kept
exactly as it was read, so a reader can always check a citation against the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` in a document's text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Original:
    """The file a document's text was read from, kept under its content hash (never under
    a path made from the id) so a citation can open it, a PDF at the cited page."""

    sha256: str
    media_type: str
    name: str


@dataclass(frozen=True)
class Layout:
    """What a format's reader knows beyond the text: ``pages[n - 1]`` is page n's span,
    ``skipped`` the spans it found to be furniture or site chrome (never indexed), and the
    original file."""

    pages: tuple[Span, ...] = ()
    skipped: tuple[Span, ...] = ()
    original: Original | None = None

    def pages_of(self, start: int, end: int) -> tuple[int, int] | None:
        """The first and last page (from 1) that ``[start, end)`` touches, or None."""
        touched = [
            n for n, page in enumerate(self.pages, 1) if page.start < end and start < page.end
        ]
        return (touched[0], touched[-1]) if touched else None


@dataclass(frozen=True)
class Document:
    """A source document; ``text`` is never rewritten.

    ``original_data`` carries a binary file's bytes from its reader to the writer, which
    keeps them as ``layout.original``; it is never stored in the index itself."""

    doc_id: str
    text: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    layout: Layout = field(default_factory=Layout)
    original_data: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Passage:
    """A contiguous piece of a document: ``document.text[char_start:char_end] == text``."""

    passage_id: str
    doc_id: str
    seq: int
    char_start: int
    char_end: int
    text: str
    sentences: tuple[Span, ...]

    @property
    def sentence_texts(self) -> list[str]:
        """The text of each sentence span (spans are document offsets)."""
        return [self.text[s.start - self.char_start : s.end - self.char_start]
                for s in self.sentences]  # fmt: skip


@dataclass(frozen=True)
class DocumentInfo:
    """What a listing shows about a stored document (no text)."""

    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    passages: int
    chars: int
    layout: Layout = field(default_factory=Layout)
    """Pages and the original file, for citations (no skipped spans in a listing)."""


@dataclass(frozen=True)
class Highlight:
    """The sentence inside a passage that best answers the question."""

    text: str
    char_start: int
    char_end: int
    score: float


@dataclass(frozen=True)
class Hit:
    """One ranked answer: the passage, its document and how each retriever ranked it."""

    rank: int
    score: float
    passage: Passage
    document: DocumentInfo
    highlight: Highlight
    dense_rank: int | None
    lexical_rank: int | None
    similarity: float
    late: float | None = None
    """MaxSim of the question's tokens against the passage's (``index.search.late``), when
    it was computed."""


@dataclass(frozen=True)
class SearchResult:
    """The answer to one question; ``stages`` is the milliseconds each stage of the search
    took (those that ran, in order; see ``index.timing``), ``took_ms`` the whole."""

    question: str
    mode: str
    answerable: bool
    hits: tuple[Hit, ...]
    took_ms: float
    stages: Mapping[str, float] = field(default_factory=dict)
