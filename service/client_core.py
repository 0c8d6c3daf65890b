"""What ``Client`` and ``AsyncClient`` (``service.client``) share, so neither holds a copy:
the settings (URL, key, retry budget), each API call's request, reading an answer into its
typed result or typed error, and when to retry a 503. The twins only send and wait.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
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


def error(response: httpx.Response) -> CiteqaHTTPError:
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


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: what to send, and how to read the answer into ``T``."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    json: dict[str, Any] | None = None

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request, with ``http``'s base URL, headers and timeout (built anew per try)."""
        return http.build_request(self.method, self.path, json=self.json)

    def read(self, response: httpx.Response) -> T:
        """The typed result, or the typed error (``CiteqaHTTPError``) raised."""
        if response.is_error:
            raise error(response)
        return self.parse(response.content)


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


class Calls:
    """Each public method of the clients as a ``Call``, built once for both."""

    @staticmethod
    def query(question: str, top_k: int, mode: Mode, filters: FilterArg) -> Call[QueryResponse]:
        body = {"question": question, "top_k": top_k, "mode": mode,
                "filters": _filters_json(filters)}  # fmt: skip
        return Call("POST", "/v1/query", QueryResponse.model_validate_json, body)

    @staticmethod
    def context(
        question: str, max_chars: int, top_k: int, mode: Mode, filters: FilterArg
    ) -> Call[ContextResponse]:
        body = {"question": question, "max_chars": max_chars, "top_k": top_k, "mode": mode,
                "filters": _filters_json(filters)}  # fmt: skip
        return Call("POST", "/v1/context", ContextResponse.model_validate_json, body)

    @staticmethod
    def documents() -> Call[DocumentList]:
        return Call("GET", "/v1/documents", DocumentList.model_validate_json)

    @staticmethod
    def document(doc_id: str) -> Call[DocumentOut]:
        return Call("GET", document_path(doc_id), DocumentOut.model_validate_json)

    @staticmethod
    def tools(format: ToolFormat) -> Call[list[dict[str, Any]]]:
        return Call("GET", f"/v1/tools?format={format}", _tool_list)

    @staticmethod
    def search(
        query: str, top_k: int, mode: Mode, doc_ids: list[str] | None, max_chars: int
    ) -> Call[SearchOut]:
        body = {"query": query, "top_k": top_k, "mode": mode, "doc_ids": doc_ids,
                "max_chars": max_chars}  # fmt: skip
        return Call("POST", "/v1/tools/search", SearchOut.model_validate_json, body)

    @staticmethod
    def fetch(id: str) -> Call[FetchOut]:
        return Call("POST", "/v1/tools/fetch", FetchOut.model_validate_json, {"id": id})


class Retries:
    """The retry budget of one call: 503 answers are retried, with exponential backoff, until
    ``retry_wait`` seconds have passed since it started."""

    def __init__(self, retry_wait: float, backoff: float, max_delay: float) -> None:
        self.deadline = time.monotonic() + retry_wait
        self.backoff = backoff
        self.max_delay = max_delay
        self.attempt = 0

    def pause(self, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again, or None: ``response`` is the answer."""
        remaining = self.deadline - time.monotonic()
        if response.status_code != 503 or remaining <= 0:
            return None
        delay = retry_delay(self.attempt, self.backoff, self.max_delay, remaining)
        self.attempt += 1
        return delay


class ClientCore:
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

    def _retries(self) -> Retries:
        return Retries(self.retry_wait, self.backoff, self.max_delay)
