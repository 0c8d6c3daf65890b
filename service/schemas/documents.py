"""Documents: what is listed and read back, and what is written (added, replaced, deleted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from index import Document, DocumentInfo, Span
from index.search.links import original_link
from index.validation import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    invisible_character,
    metadata_problem,
    url_problem,
)
from service.schemas.common import UnicodeStr, check_unicode


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


MAX_DOC_ID = 512


def _check_doc_id(value: str) -> str:
    value = check_unicode(value)
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
    if problem := url_problem(check_unicode(value)):
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
