"""The FastAPI app: engine in the lifespan, errors mapped to clear 4xx/503 answers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from index import (
    BadDocumentError,
    BadQueryError,
    CiteqaError,
    Embedder,
    IndexStateError,
    NotFoundError,
)
from service.lifecycle import EngineSlot, keep_fresh
from service.limits import BodyLimit
from service.llm_routes import llm
from service.mcp import McpEndpoint
from service.observability import REQUEST_ID_HEADER, instrument
from service.render import wants_text
from service.routes import router
from service.schemas import NOT_UNICODE
from service.settings import Settings
from service.webpage import add_page
from service.writes import writes

log = logging.getLogger("citeqa.service")


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the app; the index loads in a background thread so /healthz answers at once."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        slot = EngineSlot()
        app.state.slot = slot
        loader = threading.Thread(
            target=keep_fresh, args=(slot, settings, embedder), daemon=True, name="citeqa-index"
        )
        loader.start()
        async with app.state.mcp.running():  # the /mcp session manager
            yield
        slot.stop.set()
        loader.join()
        if slot.engine is not None:
            slot.engine.close()

    # /docs and /redoc serve Swagger UI and ReDoc from the installed package, not a CDN.
    app = FastAPIOffline(
        title="citeqa",
        version="0.1.0",
        summary="Ask your documents a question; get the passages that answer it, with citations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    app.include_router(writes)
    app.state.mcp = McpEndpoint(app, settings)  # MCP over Streamable HTTP, behind the API key
    app.add_route("/mcp", app.state.mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    app.include_router(llm)
    add_page(app)  # the web page at /
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:  # off unless CITEQA_CORS_ORIGINS names the web apps' origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        )
    instrument(app)  # /metrics, X-Request-ID, access log: after other middleware (outermost)
    _add_error_handlers(app)
    return app


_ENGINE_ERRORS: dict[type[CiteqaError], tuple[int, str]] = {
    NotFoundError: (404, "not_found"),
    BadQueryError: (422, "invalid_request"),
    BadDocumentError: (422, "invalid_document"),
    IndexStateError: (503, "index_unavailable"),
}


def error_response(
    request: Request, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    headers = {**(headers or {}), **({"Retry-After": "5"} if status == 503 else {})}
    if wants_text(request.headers.get("accept", "")):
        return PlainTextResponse(f"error: {message}\n", status_code=status, headers=headers)
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError | ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field; see /docs for the fields this body takes"
        if err.get("type") == "json_invalid":
            detail = str((err.get("ctx") or {}).get("error", ""))
            where, msg = "", f"the body is not valid JSON ({detail}); send a JSON object"
            if "surrogate" in detail:
                msg = f"{NOT_UNICODE}; the body holds a lone surrogate escape (\\ud800-\\udfff)"
        if err.get("type") == "string_unicode":  # a lone surrogate where a Literal or key goes
            msg = f"{NOT_UNICODE}; it holds a lone surrogate (half of a UTF-16 pair)"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or "invalid request"


SEND_JSON = "send a JSON object with the header -H 'content-type: application/json'"


def _body_not_json(request: Request, exc: RequestValidationError) -> tuple[int, str, str] | None:
    """415 for a body that is not JSON (curl's -d alone sends a form), 422 for no body: both
    say how to send JSON, instead of pydantic's "Input should be a valid dictionary"."""
    whole = [err for err in exc.errors() if tuple(err.get("loc", ())) == ("body",)]
    if not whole:
        return None
    if whole[0].get("type") == "missing":
        return 422, "invalid_request", f"the request has no body; {SEND_JSON}"
    kind = request.headers.get("content-type", "")
    media = kind.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return None  # JSON, just not an object: the usual message says what is wrong
    sent = f"as {media}" if media else "without a content-type"
    return 415, "unsupported_media_type", f"the body was sent {sent}, not JSON; {SEND_JSON}"


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (GET and HEAD on /healthz are two routes),
    found by asking the routes, as the router would, whether each method matches."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        routes = request.app.router.routes
        if any(isinstance(r, BaseRoute) and r.matches(scope)[0] is Match.FULL for r in routes):
            allowed.append(method)
    return ", ".join(allowed)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not_json := _body_not_json(request, exc):
            return error_response(request, *not_json)
        return error_response(request, 422, "invalid_request", _validation_message(exc))

    @app.exception_handler(ValidationError)
    async def _invalid_model(request: Request, exc: ValidationError) -> Response:
        # Models built inside a route (GET /v1/query) validate there, not in FastAPI.
        return error_response(request, 422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's 400 for a non-UTF-8 body
            bad = exc.__cause__
            message = (
                f"the body is not valid UTF-8 (byte {bad.start} is 0x{bad.object[bad.start]:02x});"
                ' send JSON encoded as UTF-8, like {"question": "..."}'
            )
            return error_response(request, 422, "invalid_request", message)
        if isinstance(exc.__cause__, RecursionError):  # FastAPI's 400 for absurdly deep JSON
            message = "the JSON body is nested too deeply to read; send a flatter JSON object"
            return error_response(request, 422, "invalid_request", message)
        if isinstance(exc.__cause__, ValueError):  # an integer past Python's 4,300 digits
            message = (
                f"the JSON body holds a number that cannot be read back ({exc.__cause__}); "
                "send it as a string"
            )
            return error_response(request, 422, "invalid_request", message)
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 415: "unsupported_media_type", 422: "invalid_request"}  # fmt: skip
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}; see /docs for the API"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
            message = (
                f"{request.method} is not allowed on {request.url.path}; use {headers['Allow']}"
            )
        # Keep the exception's headers: Allow on a 405 and WWW-Authenticate on a 401 are required.
        status, kind = exc.status_code, code.get(exc.status_code, "error")
        return error_response(request, status, kind, message, headers)

    @app.exception_handler(CiteqaError)
    async def _engine_error(request: Request, exc: CiteqaError) -> Response:
        for kind, (status, code) in _ENGINE_ERRORS.items():
            if isinstance(exc, kind):
                return error_response(request, status, code, str(exc))
        raise exc  # not one we map: the catch-all below logs it

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Logged with its traceback for the operator; the client gets no internals.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        # Sent from outside the access-log middleware, so it stamps the request id itself.
        rid = getattr(request.state, "request_id", None)
        headers = {REQUEST_ID_HEADER: rid} if rid else None
        message = "unexpected server error; it was logged"
        return error_response(request, 500, "internal", message, headers)
