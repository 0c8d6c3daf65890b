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

Both clients build each call, read each answer and decide each retry through one core,
``service.client_core``; here they only send and wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from service.client_core import DEFAULT_URL as DEFAULT_URL
from service.client_core import (
    BadRequest,
    Call,
    Calls,
    CiteqaHTTPError,
    ClientCore,
    FilterArg,
    Mode,
    NotFound,
    T,
    ToolFormat,
    Unauthorized,
    Unavailable,
    document_path,
    retry_delay,
)
from service.schemas import ContextResponse, DocumentList, DocumentOut, QueryResponse
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


class Client(ClientCore):
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
        return self._send(Calls.query(question, top_k, mode, filters))

    def context(
        self,
        question: str,
        max_chars: int = 8000,
        top_k: int = 5,
        mode: Mode = "hybrid",
        filters: FilterArg = None,
    ) -> ContextResponse:
        """Prompt-ready evidence within ``max_chars``, with its citations (``POST /v1/context``)."""
        return self._send(Calls.context(question, max_chars, top_k, mode, filters))

    def documents(self) -> DocumentList:
        """The indexed documents (``GET /v1/documents``)."""
        return self._send(Calls.documents())

    def document(self, doc_id: str) -> DocumentOut:
        """One document with its full text; citation offsets index into ``.text``."""
        return self._send(Calls.document(doc_id))

    def tools(self, format: ToolFormat = "openai") -> list[dict[str, Any]]:
        """Definitions of ``search`` and ``fetch`` for a model's tools list (``GET /v1/tools``)."""
        return self._send(Calls.tools(format))

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: Mode = "hybrid",
        doc_ids: list[str] | None = None,
        max_chars: int = 8000,
    ) -> SearchOut:
        """The ``search`` tool, as a model would call it (``POST /v1/tools/search``)."""
        return self._send(Calls.search(query, top_k, mode, doc_ids, max_chars))

    def fetch(self, id: str) -> FetchOut:
        """The ``fetch`` tool: a document, or ``doc_id:start-end`` for a span of it."""
        return self._send(Calls.fetch(id))

    def _send(self, call: Call[T]) -> T:
        retries = self._retries()
        while True:
            response = self._http.send(call.request(self._http))
            if (pause := retries.pause(response)) is None:
                return call.read(response)
            time.sleep(pause)

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


class AsyncClient(ClientCore):
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
        return await self._send(Calls.query(question, top_k, mode, filters))

    async def context(
        self,
        question: str,
        max_chars: int = 8000,
        top_k: int = 5,
        mode: Mode = "hybrid",
        filters: FilterArg = None,
    ) -> ContextResponse:
        """Prompt-ready evidence within ``max_chars``, with its citations (``POST /v1/context``)."""
        return await self._send(Calls.context(question, max_chars, top_k, mode, filters))

    async def documents(self) -> DocumentList:
        """The indexed documents (``GET /v1/documents``)."""
        return await self._send(Calls.documents())

    async def document(self, doc_id: str) -> DocumentOut:
        """One document with its full text; citation offsets index into ``.text``."""
        return await self._send(Calls.document(doc_id))

    async def tools(self, format: ToolFormat = "openai") -> list[dict[str, Any]]:
        """Definitions of ``search`` and ``fetch`` for a model's tools list (``GET /v1/tools``)."""
        return await self._send(Calls.tools(format))

    async def search(
        self,
        query: str,
        top_k: int = 5,
        mode: Mode = "hybrid",
        doc_ids: list[str] | None = None,
        max_chars: int = 8000,
    ) -> SearchOut:
        """The ``search`` tool, as a model would call it (``POST /v1/tools/search``)."""
        return await self._send(Calls.search(query, top_k, mode, doc_ids, max_chars))

    async def fetch(self, id: str) -> FetchOut:
        """The ``fetch`` tool: a document, or ``doc_id:start-end`` for a span of it."""
        return await self._send(Calls.fetch(id))

    async def _send(self, call: Call[T]) -> T:
        retries = self._retries()
        while True:
            response = await self._http.send(call.request(self._http))
            if (pause := retries.pause(response)) is None:
                return call.read(response)
            await asyncio.sleep(pause)

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
