"""The two tools chatbots call, `search` and `fetch`: their arguments, results and logic.

One definition serves every way in: the MCP server (``service.mcp``), the function-calling
definitions and their executor (``GET /v1/tools``, ``POST /v1/tools/{name}``) and the
typed client, so the schemas a model sees can never drift from what runs.
"""

from __future__ import annotations

import re
from datetime import date
from difflib import get_close_matches
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from index import Engine, Filters, NotFoundError, pack
from index.search.links import original_link, where

MAX_FETCH_CHARS = 20_000
ANSWERABLE_NOTE = (
    "answerable=false is reliable for questions the documents are not about; an on-topic "
    "question whose answer is missing usually still comes back true, so check the quoted "
    "text before answering from it."
)
_SPAN_RE = re.compile(r"^(?P<doc>.+):(?P<start>\d+)-(?P<end>\d+)$")


class SearchArgs(BaseModel):
    """Find the passages that answer a question, packed as labelled, citable evidence."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000, description="The question, in words.")
    top_k: int = Field(5, ge=1, le=50, description="How many passages to consider.")
    mode: Literal["hybrid", "dense", "lexical"] = Field("hybrid", description="Retrieval mode.")
    doc_ids: list[str] | None = Field(
        None, description="Search only these documents (ids from list_documents)."
    )
    max_chars: int = Field(
        8000, ge=200, le=100_000, description="Budget for the packed evidence text."
    )
    published_after: date | None = Field(
        None, description="Only documents published on or after this ISO date (2019-05-01)."
    )
    published_before: date | None = Field(
        None, description="Only documents published on or before this ISO date."
    )


class HighlightOut(BaseModel):
    text: str
    char_start: int
    char_end: int
    page: int | None = None


class SearchHit(BaseModel):
    """One evidence block: ``text`` is exactly the document's text at [char_start, char_end)."""

    label: str
    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    char_start: int
    char_end: int
    page_start: int | None = None
    page_end: int | None = None
    link: str | None = Field(
        None,
        description="Opens the source at this passage: the page scrolled to the answer "
        "sentence, or a PDF at its page.",
    )
    score: float
    text: str
    highlight: HighlightOut


class SearchOut(BaseModel):
    query: str
    answerable: bool = Field(description=ANSWERABLE_NOTE)
    truncated: bool = Field(description="True when blocks were left out to keep max_chars.")
    results: list[SearchHit]
    context: str = Field(description="The blocks as one text, each headed by its [n] label.")


class FetchArgs(BaseModel):
    """Read a document, or a span of it, to check or widen a citation."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1,
        description="A doc_id, or doc_id:start-end for a span (offsets from search results).",
    )


class FetchOut(BaseModel):
    id: str
    title: str | None
    text: str = Field(description=f"The exact text (at most {MAX_FETCH_CHARS:,} characters).")
    url: str | None
    metadata: dict[str, object]
    page_start: int | None = None
    page_end: int | None = None
    original: str | None = Field(None, description="The original file (PDF, Word), at the page.")


def view_url(base_url: str, doc_id: str) -> str:
    """The document's view on this server (``GET /v1/documents/{doc_id}``)."""
    return f"{base_url.rstrip('/')}/v1/documents/{quote(doc_id, safe='/')}"


def run_search(engine: Engine, args: SearchArgs, base_url: str | None = None) -> SearchOut:
    """Search and pack; an unknown doc id is an error naming close matches (never ignored).

    With ``base_url``, a document without a source URL gets its view on this server, since
    some clients (ChatGPT connectors) cite only results that have a url."""
    doc_ids = frozenset(args.doc_ids or ())
    if doc_ids:
        check_ids(engine, doc_ids)
    filters = Filters(doc_ids=doc_ids, published_after=args.published_after,
                      published_before=args.published_before)  # fmt: skip
    result = engine.search(args.query, args.top_k, args.mode, filters)
    packed = pack(result.hits, args.max_chars)
    places = [where(b.doc_id, b.url, b.layout, (b.char_start, b.char_end), b.highlight, base_url)
              for b in packed.blocks]  # fmt: skip
    hits = [
        SearchHit(
            page_start=at.page_start,
            page_end=at.page_end,
            link=at.link,
            label=b.label,
            doc_id=b.doc_id,
            title=b.title,
            source=b.source,
            url=b.url or (view_url(base_url, b.doc_id) if base_url else None),
            published=b.published,
            char_start=b.char_start,
            char_end=b.char_end,
            score=round(b.score, 6),
            text=b.text,
            highlight=HighlightOut(
                text=b.highlight.text,
                char_start=b.highlight.char_start,
                char_end=b.highlight.char_end,
                page=at.highlight_page,
            ),
        )  # fmt: skip
        for b, at in zip(packed.blocks, places, strict=True)
    ]
    return SearchOut(query=result.question, answerable=result.answerable,
                     truncated=packed.truncated, results=hits, context=packed.context)  # fmt: skip


def run_fetch(engine: Engine, args: FetchArgs, base_url: str | None = None) -> FetchOut:
    """The whole document, or the span ``doc_id:start-end``, up to MAX_FETCH_CHARS
    (``base_url``: as in run_search)."""
    doc_id, start, end = _parse_id(engine, args.id)
    check_ids(engine, frozenset({doc_id}))
    doc = engine.document(doc_id)
    if end is None:
        start, end = 0, len(doc.text)
    if start >= end or end > len(doc.text):
        raise NotFoundError(
            f"span {start}-{end} is not inside {doc_id!r}, which has {len(doc.text)} "
            "characters; give doc_id:start-end with start < end <= its length"
        )
    if end - start > MAX_FETCH_CHARS:
        raise NotFoundError(
            f"{doc_id!r} {start}-{end} is {end - start:,} characters; fetch at most "
            f"{MAX_FETCH_CHARS:,} at a time, e.g. {doc_id}:{start}-{start + MAX_FETCH_CHARS}"
        )
    url = doc.url or (view_url(base_url, doc_id) if base_url else None)
    pages = doc.layout.pages_of(start, end)
    kept = doc.layout.original is not None and base_url
    original = (
        original_link(base_url, doc_id, pages[0] if pages else None) if kept and base_url else None
    )
    return FetchOut(id=args.id, title=doc.title, text=doc.text[start:end], url=url,
                    metadata=dict(doc.metadata), page_start=pages[0] if pages else None,
                    page_end=pages[1] if pages else None, original=original)  # fmt: skip


def _parse_id(engine: Engine, given: str) -> tuple[str, int, int | None]:
    """``doc_id`` or ``doc_id:start-end``; an id that itself ends in ":n-m" wins if stored."""
    match = _SPAN_RE.match(given)
    if match is None or engine.storage.infos([given]):
        return given, 0, None
    return match["doc"], int(match["start"]), int(match["end"])


def check_ids(engine: Engine, doc_ids: frozenset[str]) -> None:
    """NotFoundError naming each unknown id and its close matches, if any id is unknown."""
    known = engine.storage.infos(doc_ids)
    unknown = sorted(doc_ids - set(known))
    if not unknown:
        return
    every = [d.doc_id for d in engine.documents()]
    hints = []
    for doc_id in unknown:
        close = get_close_matches(doc_id, every, n=3, cutoff=0.5)
        hints.append(
            f"{doc_id!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
        )
    raise NotFoundError(
        f"no document with id {'; '.join(hints)}; list_documents (GET /v1/documents) gives the ids"
    )
