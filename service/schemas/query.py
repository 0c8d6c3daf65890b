"""Asking: the query and context requests, and the ranked, cited answers to them."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from index import Filters, Hit, Packed, SearchResult
from index.search.links import Where, where
from service.schemas.common import UnicodeStr, check_unicode
from service.tools import ANSWERABLE_NOTE

MAX_QUESTION = 2000
MAX_TOP_K = 50


class QueryFilters(BaseModel):
    """Search only these documents and/or sources (exact values from GET /v1/documents);
    a value that matches no document is a 422 naming it."""

    model_config = ConfigDict(extra="forbid")

    doc_ids: list[UnicodeStr] | None = Field(None, max_length=1000)
    sources: list[UnicodeStr] | None = Field(None, max_length=100)
    published_after: date | None = Field(
        None, description="ISO date (2019-05-01): documents published on or after it."
    )
    published_before: date | None = Field(
        None,
        description="ISO date: documents published on or before it. With either date, a "
        "document without a readable date is left out.",
    )

    def to_engine(self) -> Filters:
        return Filters(frozenset(self.doc_ids or ()), frozenset(self.sources or ()),
                       self.published_after, self.published_before)  # fmt: skip


class QueryRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "What did Bolton say about the talks?"}]},
    )

    question: str = Field(description="1 to 2,000 characters after trimming.")
    # strict: "3" and true are refused in a JSON body (GET /v1/query parses its "3" itself).
    top_k: int = Field(
        5, ge=1, le=MAX_TOP_K, strict=True, description="How many passages to return (a number)."
    )
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    filters: QueryFilters | None = None

    @field_validator("question")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = check_unicode(value).strip()
        if not value:
            raise ValueError("the question is empty; send 1 to 2000 characters of text")
        if len(value) > MAX_QUESTION:
            raise ValueError(
                f"the question has {len(value)} characters; shorten it to {MAX_QUESTION} or fewer"
            )
        return value


class HighlightOut(BaseModel):
    # service.tools has a HighlightOut too, so OpenAPI names both by module: keep this one's
    # published name, service__schemas__HighlightOut, from before schemas.py was split.
    __module__ = "service.schemas"

    text: str
    char_start: int
    char_end: int
    page: int | None = Field(None, description="The page it is on (PDFs), from 1.")


class PlacedOut(BaseModel):
    """Where a cited span is in its source, and links that open it there."""

    page_start: int | None = Field(None, description="First page of the span (PDFs), from 1.")
    page_end: int | None = Field(None, description="Last page of the span (PDFs).")
    link: str | None = Field(
        None,
        description="Opens the source at the cited place: the web page scrolled to the answer "
        "sentence (a #:~:text= fragment), a PDF at its page (#page=N), or the kept original.",
    )
    original: str | None = Field(
        None, description="The original file kept on this server (PDF, Word), at the page."
    )

    @staticmethod
    def placed(where: Where) -> dict[str, Any]:
        return {"page_start": where.page_start, "page_end": where.page_end,
                "link": where.link, "original": where.original}  # fmt: skip


class CitedOut(BaseModel):
    label: str
    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    passage_id: str
    char_start: int
    char_end: int


class CitationOut(PlacedOut, CitedOut):
    """The passage's span in its document, then where that is in the source (fields in that
    order: a reader sees the document first)."""


class RanksOut(BaseModel):
    """Where each retriever placed the passage (null: not among its candidates)."""

    dense: int | None
    lexical: int | None


class ResultOut(BaseModel):
    rank: int
    score: float
    text: str
    highlight: HighlightOut
    citation: CitationOut
    ranks: RanksOut
    similarity: float = Field(description="Cosine similarity of the highlight to the question.")

    @classmethod
    def from_hit(cls, hit: Hit, base_url: str | None = None) -> ResultOut:
        p, d, h = hit.passage, hit.document, hit.highlight
        at = where(d.doc_id, d.url, d.layout, (p.char_start, p.char_end), h, base_url)
        return cls(
            rank=hit.rank,
            score=round(hit.score, 6),
            text=p.text,
            highlight=HighlightOut(
                text=h.text, char_start=h.char_start, char_end=h.char_end, page=at.highlight_page
            ),  # fmt: skip
            citation=CitationOut(
                **PlacedOut.placed(at),
                label=f"[{hit.rank}]",
                doc_id=d.doc_id,
                title=d.title,
                source=d.source,
                url=d.url,
                published=d.published,
                passage_id=p.passage_id,
                char_start=p.char_start,
                char_end=p.char_end,
            ),  # fmt: skip
            ranks=RanksOut(dense=hit.dense_rank, lexical=hit.lexical_rank),
            similarity=round(hit.similarity, 4),
        )


class QueryResponse(BaseModel):
    question: str
    mode: str
    answerable: bool = Field(
        description="false is reliable for questions the documents are not about. An "
        "on-topic question whose answer is missing from the documents usually still comes "
        "back true (no reader model checks the answer): true means 'these are the best "
        "passages found', not 'the answer is in them'; read the highlight."
    )
    took_ms: float
    results: list[ResultOut]

    @classmethod
    def from_result(cls, result: SearchResult, base_url: str | None = None) -> QueryResponse:
        return cls(
            question=result.question,
            mode=result.mode,
            answerable=result.answerable,
            took_ms=round(result.took_ms, 2),
            results=[ResultOut.from_hit(h, base_url) for h in result.hits],
        )


MAX_CONTEXT_CHARS = 100_000


class ContextRequest(QueryRequest):
    """A question, and the budget for the evidence text packed for an LLM prompt."""

    max_chars: int = Field(
        8000,
        ge=200,
        le=MAX_CONTEXT_CHARS,
        strict=True,
        description="Budget for `context`, in characters; it is never exceeded.",
    )


class ContextBlockOut(BaseModel):
    label: str
    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    char_start: int
    char_end: int


class ContextCitation(PlacedOut, ContextBlockOut):
    """Where block ``label`` comes from: its text is the document's text[char_start:char_end]."""


class ContextResponse(BaseModel):
    question: str
    answerable: bool = Field(description=ANSWERABLE_NOTE)
    truncated: bool = Field(description="True when blocks were left out to keep max_chars.")
    context: str = Field(
        description="Labelled evidence blocks, best first, each headed by its label and title."
    )
    citations: list[ContextCitation]

    @classmethod
    def from_packed(
        cls, result: SearchResult, packed: Packed, base_url: str | None = None
    ) -> ContextResponse:
        citations = [
            ContextCitation(
                **PlacedOut.placed(
                    where(
                        b.doc_id, b.url, b.layout, (b.char_start, b.char_end), b.highlight, base_url
                    )
                ),  # fmt: skip
                label=b.label,
                doc_id=b.doc_id,
                title=b.title,
                source=b.source,
                url=b.url,
                char_start=b.char_start,
                char_end=b.char_end,
            )
            for b in packed.blocks
        ]
        return cls(question=result.question, answerable=result.answerable,
                   truncated=packed.truncated, context=packed.context, citations=citations)  # fmt: skip
