"""Request and response models of the v1 API, and their conversion from engine types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from index import Document, DocumentInfo, Filters, Hit, Packed, SearchResult, Span
from index.search.links import Where, original_link, where
from index.validation import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    invisible_character,
    metadata_problem,
    url_problem,
)
from service.tools import ANSWERABLE_NOTE

MAX_QUESTION = 2000
MAX_TOP_K = 50
NOT_UNICODE = "must be valid Unicode text (UTF-8)"


def _check_unicode(value: str) -> str:
    """Refuse lone surrogates: JSON can spell one ("\\ud800"), but no UTF-8 text can hold it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(value[exc.start])
        raise ValueError(
            f"{NOT_UNICODE}; character {exc.start} is a lone surrogate U+{bad:04X}, which is"
            " half of a UTF-16 pair: send the whole character, or remove it"
        ) from None
    return value


UnicodeStr = Annotated[str, AfterValidator(_check_unicode)]


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
        value = _check_unicode(value).strip()
        if not value:
            raise ValueError("the question is empty; send 1 to 2000 characters of text")
        if len(value) > MAX_QUESTION:
            raise ValueError(
                f"the question has {len(value)} characters; shorten it to {MAX_QUESTION} or fewer"
            )
        return value


class HighlightOut(BaseModel):
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


class DocumentSummary(BaseModel):
    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    passages: int
    chars: int
    pages: int | None = Field(None, description="How many pages (PDFs).")
    media_type: str | None = Field(
        None, description="The original file's type, when one is kept (PDF, Word)."
    )

    @classmethod
    def from_info(cls, info: DocumentInfo) -> DocumentSummary:
        original = info.layout.original
        return cls(doc_id=info.doc_id, title=info.title, source=info.source, url=info.url,
                   published=info.published, passages=info.passages, chars=info.chars,
                   pages=len(info.layout.pages) or None,
                   media_type=original.media_type if original else None)  # fmt: skip


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class SpanOut(BaseModel):
    char_start: int
    char_end: int


class DocumentOut(BaseModel):
    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    metadata: dict[str, Any]
    text: str = Field(description="Exactly as indexed; every offset in a citation points here.")
    indexed: list[SpanOut] = Field(
        default_factory=list,
        description="The parts of text that passages cover, in order. The rest was skipped "
        "as boilerplate (mastheads, captions, appeals, page furniture, site chrome) and is "
        "never searched or cited.",
    )
    pages: list[SpanOut] = Field(
        default_factory=list, description="Each page's span of text, page 1 first (PDFs)."
    )
    original: str | None = Field(
        None, description="The original file kept on this server (PDF, Word files)."
    )

    @classmethod
    def from_document(
        cls, doc: Document, indexed: Sequence[Span] = (), base_url: str | None = None
    ) -> DocumentOut:
        kept = doc.layout.original is not None and base_url is not None
        return cls(
            doc_id=doc.doc_id, title=doc.title, source=doc.source, url=doc.url,
            published=doc.published, metadata=dict(doc.metadata), text=doc.text,
            indexed=[SpanOut(char_start=s.start, char_end=s.end) for s in indexed],
            pages=[SpanOut(char_start=s.start, char_end=s.end) for s in doc.layout.pages],
            original=original_link(base_url, doc.doc_id, None) if kept and base_url else None,
        )  # fmt: skip


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class Status(BaseModel):
    status: str
    detail: str | None = None


MAX_DOC_ID = 512


def _check_doc_id(value: str) -> str:
    value = _check_unicode(value)
    if not value.strip():
        raise ValueError("doc_id is empty; give a non-blank id, or leave it out to derive one")
    if len(value) > MAX_DOC_ID:
        raise ValueError(f"doc_id has {len(value)} characters; use {MAX_DOC_ID} or fewer")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("doc_id holds a control character (newline, tab, ...); remove it")
    if problem := invisible_character(value):
        raise ValueError(f"doc_id {problem}")
    return value


def _check_url(value: str) -> str:
    if problem := url_problem(_check_unicode(value)):
        raise ValueError(f"the url {problem}")
    return value


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if problem := metadata_problem(value):
        raise ValueError(f"the metadata {problem}")
    return value


DocId = Annotated[str, AfterValidator(_check_doc_id)]
Url = Annotated[
    str,
    AfterValidator(_check_url),
    Field(description="An absolute http:// or https:// URL: citations link to it."),
]
Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_check_metadata),
    Field(
        description=f"Free-form JSON object: at most {MAX_METADATA_DEPTH} levels deep and "
        f"{MAX_METADATA_BYTES:,} bytes, integers within ±(2^53 - 1)."
    ),
]


class DocumentIn(BaseModel):
    """A document to index: its text is kept exactly as sent; citations index into it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "doc_id": "memo-7.txt",
                    "text": "The envoy met Rubio on Monday.",
                    "title": "Memo 7",
                    "source": "Internal",
                }
            ]  # fmt: skip
        },
    )

    doc_id: DocId | None = Field(
        None,
        description="Your id for it; when absent, the url fetched, or one derived from a "
        "hash of the text.",
    )
    text: UnicodeStr | None = Field(
        None,
        description="The document's text, kept exactly. Leave it out and give `url` to "
        "have the server fetch the page, PDF or Word file there and read it.",
    )
    title: UnicodeStr | None = None
    source: UnicodeStr | None = None
    url: Url | None = None
    published: UnicodeStr | None = Field(None, description="A date, as you write it.")
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _text_or_url(self) -> DocumentIn:
        if self.text is None and self.url is None:
            raise ValueError("send the document's text, or a url to fetch it from")
        return self


class DocumentReplace(BaseModel):
    """The new version of a document (its id is in the path)."""

    model_config = ConfigDict(extra="forbid")

    doc_id: DocId | None = Field(
        None,
        description="Optional: the same body as POST is accepted; it must equal the path's id.",
    )
    text: UnicodeStr
    title: UnicodeStr | None = None
    source: UnicodeStr | None = None
    url: Url | None = None
    published: UnicodeStr | None = Field(None, description="A date, as you write it.")
    metadata: Metadata = Field(default_factory=dict)


class DocumentWriteOut(BaseModel):
    doc_id: str
    status: Literal["added", "replaced", "unchanged", "empty", "deleted"] = Field(
        description="empty: the text has nothing to index, so it is not stored."
    )
    passages: int


class SkippedOut(BaseModel):
    """An uploaded file that could not be read, and why (encrypted, scanned, not UTF-8...)."""

    name: str
    reason: str


class WriteOut(BaseModel):
    """What a write did; it is durable and searchable once this is returned."""

    generation: int = Field(description="The index generation that holds the write.")
    documents: list[DocumentWriteOut]
    skipped: list[SkippedOut] = Field(
        default_factory=list, description="Uploaded files left out, each with its reason."
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
