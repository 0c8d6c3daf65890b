"""The FastAPI app: engine in the lifespan, errors mapped to clear 4xx/503 answers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from index import (
    BadQueryError,
    CiteqaError,
    Embedder,
    IndexStateError,
    NotFoundError,
)
from service.lifecycle import EngineSlot, keep_fresh
from service.render import wants_text
from service.routes import router
from service.schemas import NOT_UNICODE
from service.settings import Settings

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
        yield
        slot.stop.set()
        loader.join()
        if slot.engine is not None:
            slot.engine.close()

    app = FastAPI(
        title="citeqa",
        version="0.1.0",
        summary="Ask your documents a question; get the passages that answer it, with citations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    _add_error_handlers(app)
    return app


_ENGINE_ERRORS: dict[type[CiteqaError], tuple[int, str]] = {
    NotFoundError: (404, "not_found"),
    BadQueryError: (422, "invalid_request"),
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
            msg = "unknown field; the body takes question, top_k, mode and filters"
        if err.get("type") == "json_invalid":
            where, msg = "", 'the body is not valid JSON; send an object like {"question": "..."}'
        if err.get("type") == "string_unicode":  # a lone surrogate where a Literal or key goes
            msg = f"{NOT_UNICODE}; it holds a lone surrogate (half of a UTF-16 pair)"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or "invalid request"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
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
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}; see /docs for the API"
        allow = (exc.headers or {}).get("Allow")
        if exc.status_code == 405 and allow:
            message = f"{request.method} is not allowed on {request.url.path}; use {allow}"
        # Keep the exception's headers: Allow on a 405 and WWW-Authenticate on a 401 are required.
        status, kind = exc.status_code, code.get(exc.status_code, "error")
        return error_response(request, status, kind, message, exc.headers)

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
        return error_response(request, 500, "internal", "unexpected server error; it was logged")
