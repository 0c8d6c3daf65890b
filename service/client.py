"""A typed Python client for a running citeqa server (``Client``, and ``AsyncClient`` for asyncio).

Example::

    from service.client import Client

    with Client("http://127.0.0.1:8000") as citeqa:
        answer = citeqa.query("What did Bolton say about the talks?", top_k=3)
        for result in answer.results:
            print(result.citation.label, result.citation.title, result.highlight.text)

Results are the server's own pydantic models (``service.schemas``, ``service.tools``), so
what the client returns is exactly what the API documents. The URL and key come from the
arguments, else from ``CITEQA_URL`` and ``CITEQA_API_KEY``. While the server answers 503
(the index is still loading, or not built yet) a call is retried with exponential
backoff for at most ``retry_wait`` seconds in all.

Errors, each carrying the server's ``status``, ``code`` and ``message``::

    CiteqaHTTPError        any error answer from the server
    ├── BadRequest         a 4xx the request caused (422: empty question, top_k, unknown filter)
    ├── Unauthorized       401 or 403: a missing, wrong or read-only key
    ├── NotFound           404: an unknown document
    └── Unavailable        503, still, after retrying for ``retry_wait`` seconds

A server that cannot be reached at all raises httpx's own ``httpx.TransportError``
(``httpx.ConnectError``, ``httpx.TimeoutException``), which says which it was.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import quote

import httpx

from service.schemas import (
    ContextResponse,
    DocumentList,
    DocumentOut,
    QueryFilters,
    QueryResponse,
)
from service.tools import FetchOut, SearchOut

__all__ = [
    "AsyncClient",
    "BadRequest",
    "CiteqaHTTPError",
    "Client",
    "NotFound",
    "Unauthorized",
    "Unavailable",
    "document_path",
    "retry_delay",
]

DEFAULT_URL = "http://127.0.0.1:8000"
Mode = Literal["hybrid", "dense", "lexical"]
FilterArg = QueryFilters | Mapping[str, list[str]] | None
T = TypeVar("T")
ToolFormat = Literal["openai", "anthropic"]


class CiteqaHTTPError(Exception):
    """The server answered an error: ``status`` (HTTP), ``code`` and ``message`` (its words)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class BadRequest(CiteqaHTTPError):
    """A 4xx caused by the request: a bad question, ``top_k``, mode or filter (usually 422)."""


class Unauthorized(CiteqaHTTPError):
    """401 (missing or wrong key) or 403 (a read-only key used for a write)."""


class NotFound(CiteqaHTTPError):
    """404: no document with that id (the message says which)."""


class Unavailable(CiteqaHTTPError):
    """503 still answered after retrying: the index is loading, not built, or cannot be used."""


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API call, built the same way for the sync and the async client."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    json: dict[str, Any] | None = None


def _tool_list(content: bytes) -> list[dict[str, Any]]:
    tools = json.loads(content)
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ValueError(f"GET /v1/tools answered {content[:200]!r}, not a list of definitions")
    return tools


def _filters_json(filters: FilterArg) -> dict[str, Any] | None:
    if filters is None:
        return None
    if isinstance(filters, QueryFilters):
        return filters.model_dump(exclude_none=True)
    return dict(filters)


def document_path(doc_id: str) -> str:
    """``/v1/documents/{doc_id}``, percent-encoded but keeping ``/`` (ids are relative paths).

    A ``.`` or ``..`` segment is encoded too, so no client or proxy folds it away.

    >>> document_path("memos/memo 7.txt")
    '/v1/documents/memos/memo%207.txt'
    >>> document_path("a/../b")
    '/v1/documents/a/%2E%2E/b'
    """
    segments = [
        s.replace(".", "%2E") if s in (".", "..") else quote(s, safe="")
        for s in doc_id.split("/")
    ]  # fmt: skip
    return "/v1/documents/" + "/".join(segments)


def retry_delay(attempt: int, backoff: float, max_delay: float, remaining: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): doubling from ``backoff``, at most
    ``max_delay``, and never past the ``remaining`` retry budget.

    >>> [retry_delay(n, 0.25, 2.0, 100) for n in range(5)]
    [0.25, 0.5, 1.0, 2.0, 2.0]
    >>> retry_delay(3, 0.25, 2.0, 0.1)
    0.1
    """
    return max(0.0, min(backoff * 2.0**attempt, max_delay, remaining))


def _error(response: httpx.Response) -> CiteqaHTTPError:
    """The typed error for an error answer, with the server's code and message."""
    status = response.status_code
    code, message = "error", response.text.strip() or response.reason_phrase
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", code))
        message = str(body["error"].get("message", message))
    kind: type[CiteqaHTTPError] = CiteqaHTTPError
    if status in (401, 403):
        kind = Unauthorized
    elif status == 404:
        kind = NotFound
    elif status == 503:
        kind = Unavailable
    elif 400 <= status < 500:
        kind = BadRequest
    return kind(status, code, message)


def _query(question: str, top_k: int, mode: Mode, filters: FilterArg) -> _Call[QueryResponse]:
    body = {"question": question, "top_k": top_k, "mode": mode, "filters": _filters_json(filters)}
    return _Call("POST", "/v1/query", QueryResponse.model_validate_json, body)


def _context(
    question: str, max_chars: int, top_k: int, mode: Mode, filters: FilterArg
) -> _Call[ContextResponse]:
    body = {"question": question, "max_chars": max_chars, "top_k": top_k, "mode": mode,
            "filters": _filters_json(filters)}  # fmt: skip
    return _Call("POST", "/v1/context", ContextResponse.model_validate_json, body)


def _documents() -> _Call[DocumentList]:
    return _Call("GET", "/v1/documents", DocumentList.model_validate_json)


def _document(doc_id: str) -> _Call[DocumentOut]:
    return _Call("GET", document_path(doc_id), DocumentOut.model_validate_json)


def _tools(format: ToolFormat) -> _Call[list[dict[str, Any]]]:
    return _Call("GET", f"/v1/tools?format={format}", _tool_list)


def _search(
    query: str, top_k: int, mode: Mode, doc_ids: list[str] | None, max_chars: int
) -> _Call[SearchOut]:
    body = {"query": query, "top_k": top_k, "mode": mode, "doc_ids": doc_ids,
            "max_chars": max_chars}  # fmt: skip
    return _Call("POST", "/v1/tools/search", SearchOut.model_validate_json, body)


def _fetch(id: str) -> _Call[FetchOut]:
    return _Call("POST", "/v1/tools/fetch", FetchOut.model_validate_json, {"id": id})


def _parse(call: _Call[T], response: httpx.Response) -> T:
    if response.is_error:
        raise _error(response)
    return call.parse(response.content)


class _Base:
    """Settings shared by ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        retry_wait: float,
        backoff: float,
        max_delay: float,
        environ: Mapping[str, str] | None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.base_url = (base_url or env.get("CITEQA_URL") or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else env.get("CITEQA_API_KEY")
        self.headers = {"Accept": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.retry_wait = retry_wait
        self.backoff = backoff
        self.max_delay = max_delay


class Client(_Base):
    """A blocking client; use it as a context manager, or call ``close()`` when done.

    ``timeout`` bounds each request (seconds, or an ``httpx.Timeout``); ``retry_wait``
    bounds the total time spent retrying 503 answers (0 turns retrying off), pausing
    ``backoff`` seconds first and doubling up to ``max_delay``. ``transport`` replaces the
    network, e.g. with ``httpx.MockTransport`` in tests.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retry_wait: float = 30.0,
        backoff: float = 0.25,
        max_delay: float = 2.0,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry_wait, backoff, max_delay, environ)
        self._http = httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    def query(
        self, question: str, top_k: int = 5, mode: Mode = "hybrid", filters: FilterArg = None
    ) -> QueryResponse:
        """Ranked, cited passages for ``question`` (``POST /v1/query``)."""
        return self._send(_query(question, top_k, mode, filters))

    def context(
        self,
        question: str,
        max_chars: int = 8000,
        top_k: int = 5,
        mode: Mode = "hybrid",
        filters: FilterArg = None,
    ) -> ContextResponse:
        """Prompt-ready evidence within ``max_chars``, with its citations (``POST /v1/context``)."""
        return self._send(_context(question, max_chars, top_k, mode, filters))

    def documents(self) -> DocumentList:
        """The indexed documents (``GET /v1/documents``)."""
        return self._send(_documents())

    def document(self, doc_id: str) -> DocumentOut:
        """One document with its full text; citation offsets index into ``.text``."""
        return self._send(_document(doc_id))

    def tools(self, format: ToolFormat = "openai") -> list[dict[str, Any]]:
        """Definitions of ``search`` and ``fetch`` for a model's tools list (``GET /v1/tools``)."""
        return self._send(_tools(format))

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: Mode = "hybrid",
        doc_ids: list[str] | None = None,
        max_chars: int = 8000,
    ) -> SearchOut:
        """The ``search`` tool, as a model would call it (``POST /v1/tools/search``)."""
        return self._send(_search(query, top_k, mode, doc_ids, max_chars))

    def fetch(self, id: str) -> FetchOut:
        """The ``fetch`` tool: a document, or ``doc_id:start-end`` for a span of it."""
        return self._send(_fetch(id))

    def _send(self, call: _Call[T]) -> T:
        deadline = time.monotonic() + self.retry_wait
        attempt = 0
        while True:
            response = self._http.request(call.method, call.path, json=call.json)
            remaining = deadline - time.monotonic()
            if response.status_code != 503 or remaining <= 0:
                return _parse(call, response)
            time.sleep(retry_delay(attempt, self.backoff, self.max_delay, remaining))
            attempt += 1

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """The same calls as ``Client``, awaited; use ``async with``, or ``await close()``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retry_wait: float = 30.0,
        backoff: float = 0.25,
        max_delay: float = 2.0,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry_wait, backoff, max_delay, environ)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    async def query(
        self, question: str, top_k: int = 5, mode: Mode = "hybrid", filters: FilterArg = None
    ) -> QueryResponse:
        """Ranked, cited passages for ``question`` (``POST /v1/query``)."""
        return await self._send(_query(question, top_k, mode, filters))

    async def context(
        self,
        question: str,
        max_chars: int = 8000,
        top_k: int = 5,
        mode: Mode = "hybrid",
        filters: FilterArg = None,
    ) -> ContextResponse:
        """Prompt-ready evidence within ``max_chars``, with its citations (``POST /v1/context``)."""
        return await self._send(_context(question, max_chars, top_k, mode, filters))

    async def documents(self) -> DocumentList:
        """The indexed documents (``GET /v1/documents``)."""
        return await self._send(_documents())

    async def document(self, doc_id: str) -> DocumentOut:
        """One document with its full text; citation offsets index into ``.text``."""
        return await self._send(_document(doc_id))

    async def tools(self, format: ToolFormat = "openai") -> list[dict[str, Any]]:
        """Definitions of ``search`` and ``fetch`` for a model's tools list (``GET /v1/tools``)."""
        return await self._send(_tools(format))

    async def search(
        self,
        query: str,
        top_k: int = 5,
        mode: Mode = "hybrid",
        doc_ids: list[str] | None = None,
        max_chars: int = 8000,
    ) -> SearchOut:
        """The ``search`` tool, as a model would call it (``POST /v1/tools/search``)."""
        return await self._send(_search(query, top_k, mode, doc_ids, max_chars))

    async def fetch(self, id: str) -> FetchOut:
        """The ``fetch`` tool: a document, or ``doc_id:start-end`` for a span of it."""
        return await self._send(_fetch(id))

    async def _send(self, call: _Call[T]) -> T:
        deadline = time.monotonic() + self.retry_wait
        attempt = 0
        while True:
            response = await self._http.request(call.method, call.path, json=call.json)
            remaining = deadline - time.monotonic()
            if response.status_code != 503 or remaining <= 0:
                return _parse(call, response)
            await asyncio.sleep(retry_delay(attempt, self.backoff, self.max_delay, remaining))
            attempt += 1

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    aclose = close  # httpx's name for it

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
