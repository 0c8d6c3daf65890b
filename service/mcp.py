"""The MCP server: `search`, `fetch` and `list_documents` tools, and each document a resource.

One server definition, two ways in: ``citeqa mcp`` serves it over stdio (Claude Desktop,
Cursor), opening the data dir read-only and following new generations before each call;
``citeqa serve`` serves it over Streamable HTTP at ``/mcp`` (stateless, JSON responses)
behind the same API key as ``/v1``, on the running app's engine. The tools' arguments,
results and logic are ``service.tools``, shared with function calling and the client.

Every engine error (unknown document with close matches, empty question, index loading,
span out of range) comes back as a tool error carrying the REST API's message.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, redirect_stdout
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio.to_thread
from fastapi.security import HTTPAuthorizationCredentials
from mcp.server.mcpserver import MCPServer, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, Resource, TextContent, ToolAnnotations
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from index import (
    BadDocumentError,
    BadQueryError,
    CiteqaError,
    Embedder,
    Engine,
    IndexStateError,
    NotFoundError,
)
from service.deps import get_engine, require_api_key
from service.schemas import DocumentList, DocumentSummary
from service.settings import Settings
from service.tools import (
    ANSWERABLE_NOTE,
    MAX_FETCH_CHARS,
    FetchArgs,
    FetchOut,
    SearchArgs,
    SearchOut,
    check_ids,
    run_fetch,
    run_search,
    view_url,
)

log = logging.getLogger("citeqa.mcp")

EngineSource = Callable[[], Engine]
"""Gives the engine to run a call on, or raises IndexStateError (still loading, no index)."""

RESOURCE_PREFIX = "citeqa://documents/"
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# The engine's errors the REST API answers with 4xx/503: here they are tool errors.
_CALL_ERRORS = (NotFoundError, BadQueryError, BadDocumentError, IndexStateError)
_EMPTY = "the question is empty; send 1 to 2000 characters of text"  # as POST /v1/query says

SEARCH_DESCRIPTION = (
    "Find the passages of the indexed documents that answer a question, as evidence a "
    "reader can check. Returns labelled blocks [1], [2], ... in rank order, each with its "
    "document id, title, url, the exact character span (char_start-char_end) of its text "
    "in the document and its best-answering sentence (highlight). Overlapping passages of "
    "one document are merged into one block; the blocks fit max_chars and truncated=true "
    "says some were left out (none is cut). Cite by label; check or widen a citation with "
    f"fetch('doc_id:start-end'). {ANSWERABLE_NOTE}"
)
FETCH_DESCRIPTION = (
    "Read a document, or one span of it, to check or widen a citation. id is a doc_id "
    "(from search or list_documents) for the whole document, or doc_id:start-end for the "
    "exact text at those character offsets (as search results give them); at most "
    f"{MAX_FETCH_CHARS:,} characters a call."
)
LIST_DESCRIPTION = "List the indexed documents: id, title, source, url, passages, characters."

_S = SearchArgs.model_fields
Query = Annotated[
    # No minLength here: an empty question gets the REST API's message, not pydantic's.
    str, Field(max_length=2000, description=_S["query"].description)
]
TopK = Annotated[int, _S["top_k"]]
SearchMode = Annotated[Literal["hybrid", "dense", "lexical"], _S["mode"]]
DocIds = Annotated[list[str] | None, _S["doc_ids"]]
MaxChars = Annotated[int, _S["max_chars"]]
FetchId = Annotated[str, FetchArgs.model_fields["id"]]


@contextmanager
def _as_tool_error() -> Iterator[None]:
    try:
        yield
    except _CALL_ERRORS as exc:
        raise ToolError(str(exc)) from exc


def search_content(out: SearchOut) -> str:
    """The text block clients show a model: the packed evidence, then the verdict."""
    evidence = out.context or "No passages found."
    verdict = "true (the best passages found; read them before answering)"
    if not out.answerable:
        verdict = "false (the documents do not seem to be about this question)"
    left_out = "; some blocks were left out to keep max_chars" if out.truncated else ""
    return f"{evidence}\n\nanswerable: {verdict}; truncated: {str(out.truncated).lower()}{left_out}"


def fetch_content(out: FetchOut) -> str:
    head = f"{out.title} ({out.id})" if out.title else out.id
    return f"{head}\n{out.url}\n\n{out.text}" if out.url else f"{head}\n\n{out.text}"


class CiteqaMCP(MCPServer[Any]):
    """The server; resources/list names every document (the template covers reading)."""

    def __init__(self, engine: EngineSource, base_url: str | None) -> None:
        """``base_url``: where documents without a url of their own can be viewed (None:
        nowhere known, so such documents get no url rather than a dead link)."""
        super().__init__(
            "citeqa",
            title="citeqa",
            instructions="Search the indexed documents and cite what you use: each result "
            "has a [n] label, a document and an exact character span. " + ANSWERABLE_NOTE,
            version="0.1.0",
            log_level="WARNING",  # only if nothing configured logging before (stderr)
            resource_security=ResourceSecurity(exempt_params={"doc_id"}),
        )
        self.engine = engine
        self.base_url = base_url
        _register(self)

    async def list_resources(self) -> list[Resource]:
        fixed = await super().list_resources()
        try:
            infos = await anyio.to_thread.run_sync(lambda: self.engine().documents())
        except IndexStateError:
            return fixed
        return fixed + [
            Resource(
                uri=RESOURCE_PREFIX + quote(info.doc_id, safe="/"),
                name=info.doc_id,
                title=info.title,
                description=f"{info.chars:,} characters, {info.passages} passages",
                mime_type="text/plain",
            )
            for info in infos
        ]


def _register(server: CiteqaMCP) -> None:
    @server.tool(description=SEARCH_DESCRIPTION, annotations=READ_ONLY)
    def search(
        query: Query,
        top_k: TopK = 5,
        mode: SearchMode = "hybrid",
        doc_ids: DocIds = None,
        max_chars: MaxChars = 8000,
    ) -> Annotated[CallToolResult, SearchOut]:
        if not query.strip():
            raise ToolError(_EMPTY)
        args = SearchArgs(query=query, top_k=top_k, mode=mode, doc_ids=doc_ids,
                          max_chars=max_chars)  # fmt: skip
        with _as_tool_error():
            out = run_search(server.engine(), args, server.base_url)
        return CallToolResult(
            content=[TextContent(type="text", text=search_content(out))],
            structured_content=out.model_dump(mode="json"),
        )

    @server.tool(description=FETCH_DESCRIPTION, annotations=READ_ONLY)
    def fetch(id: FetchId) -> Annotated[CallToolResult, FetchOut]:
        with _as_tool_error():
            out = run_fetch(server.engine(), FetchArgs(id=id), server.base_url)
        return CallToolResult(
            content=[TextContent(type="text", text=fetch_content(out))],
            structured_content=out.model_dump(mode="json"),
        )

    @server.tool(description=LIST_DESCRIPTION, annotations=READ_ONLY)
    def list_documents() -> DocumentList:
        with _as_tool_error():
            infos = server.engine().documents()
        return DocumentList(documents=[
            DocumentSummary.from_info(info).model_copy(
                update={"url": info.url or (view_url(server.base_url, info.doc_id)
                                             if server.base_url else None)})
            for info in infos
        ])  # fmt: skip

    @server.resource(RESOURCE_PREFIX + "{+doc_id}", name="document", mime_type="text/plain",
                     description="A document's text exactly as indexed; offsets index into it.")  # fmt: skip
    def document(doc_id: str) -> str:
        try:
            engine = server.engine()
            check_ids(engine, frozenset({doc_id}))  # names close matches
            return engine.document(doc_id).text
        except NotFoundError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except IndexStateError as exc:  # still loading: said, not hidden as a crash
            raise ResourceError(str(exc)) from exc


# -- stdio: `citeqa mcp` ------------------------------------------------------------------


class FollowedEngine:
    """The data dir's engine, opened read-only on first need, refreshed before each call
    (a stat of the manifest when no writer published a new generation)."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self._config = settings.engine_config()
        self._embedder = embedder
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Engine:
        with self._lock:
            if self._engine is None:
                try:
                    self._engine = Engine.open(self._config, self._embedder)
                except CiteqaError as exc:
                    raise IndexStateError(f"the index could not be loaded: {exc}") from exc
            else:
                self._engine.refresh()
            return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def serve_stdio(settings: Settings, embedder: Embedder) -> None:
    """Serve the tools over stdin/stdout until the client closes them; logs go to stderr."""
    engine = FollowedEngine(settings, embedder)
    with redirect_stdout(sys.stderr):  # stdout carries the protocol alone
        embedder.embed("warm up")  # load the model now, not on the first question
        try:
            engine()
        except IndexStateError as exc:  # the client may start before the first ingest
            log.warning("%s; tools answer with this error until it can be loaded", exc)
    try:
        # No server answers at CITEQA_HOST:PORT for a stdio client unless one was named.
        CiteqaMCP(engine, settings.public_url).run("stdio")
    finally:
        engine.close()


# -- Streamable HTTP: /mcp in `citeqa serve` -----------------------------------------------


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: the Host headers of CITEQA_MCP_ALLOWED_HOSTS (``*``: off)."""
    hosts = settings.mcp_allowed_hosts
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(allowed_hosts=hosts,
                                     allowed_origins=origins + settings.cors_origins)  # fmt: skip


class McpEndpoint:
    """The ASGI endpoint at ``/mcp``: checks the API key as ``/v1`` does (a 401 from the
    app's own error handler), then hands the request to the session manager that
    ``running`` keeps for the app's lifespan."""

    def __init__(self, app: Starlette, settings: Settings) -> None:
        self.settings = settings
        self.server = CiteqaMCP(lambda: get_engine(Request({"type": "http", "app": app})),
                                settings.base_url)  # fmt: skip
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # A manager runs once, so each lifespan (tests start one app many times) gets its own.
        self.server.streamable_http_app(
            json_response=True, stateless_http=True,
            transport_security=transport_security(self.settings),
        )  # fmt: skip
        manager = self.server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        bearer = None
        if scheme.lower() == "bearer" and token:
            bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
        require_api_key(self.settings, bearer, request.headers.get("x-api-key"))
        if self._manager is None:
            raise IndexStateError("the MCP endpoint is starting; retry in a few seconds")
        await self._manager.handle_request(scope, receive, send)
