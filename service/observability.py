"""Request ids, one JSON access-log line per request, and JSON log lines for `citeqa serve`.

Every response carries ``X-Request-ID``: the caller's own when it sent a sane one
(printable ASCII, at most 128 characters), else a new uuid4 hex. The access line, on
logger ``citeqa.access``, is one JSON object::

    {"time": "2026-11-22T10:00:00.123+00:00", "request_id": "9f0c...", "method": "POST",
     "route": "/v1/query", "path": "/v1/query", "status": 200, "duration_ms": 41.7,
     "client": "127.0.0.1"}

``time`` is when the request arrived (UTC), ``route`` the route's template (``unmatched``
when none matched), ``duration_ms`` arrival to the last byte of the response.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import UNMATCHED, Metrics
from service.metrics import router as metrics_router

ACCESS_LOG = logging.getLogger("citeqa.access")
REQUEST_ID_HEADER = "X-Request-ID"
MAX_ID_CHARS = 128
_current_id: ContextVar[str | None] = ContextVar("citeqa_request_id", default=None)


def request_id(given: str | None) -> str:
    """The caller's id when it is sane (printable ASCII, 1 to 128 characters), else a new one."""
    if given and len(given) <= MAX_ID_CHARS and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being handled in this context (None outside a request)."""
    return _current_id.get()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _route(scope: Scope) -> str:
    """The template of the route that answered, e.g. ``/v1/documents/{doc_id}``.

    ``unmatched`` when no route did: an unknown path, or a request a middleware refused
    before routing (the body limit's 413), so raw paths never become metric labels."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED


class AccessLog:
    """Pure ASGI middleware: request id, one access-log line and the request metrics.

    It sits inside Starlette's outermost error middleware, so an unhandled exception
    passes through here before its 500 is sent; ``request.state.request_id`` lets that
    handler put the id on the 500 too (``service.app``)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived, started = time.time(), time.perf_counter()
        rid = request_id(_header(scope, b"x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid
        token = _current_id.set(rid)
        status = 500  # what the client gets if the app raises before responding
        raised = True

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
            raised = False
        finally:
            self._record(scope, rid, arrived, time.perf_counter() - started, status)
            # When the app raised, the id stays set: the error handler outside this
            # middleware logs the traceback in this same task and should name the request.
            if not raised:
                _current_id.reset(token)

    def _record(self, scope: Scope, rid: str, arrived: float, seconds: float, status: int) -> None:
        route = _route(scope)
        if self.metrics is not None:
            self.metrics.observe_request(scope["method"], route, status, seconds)
        client = scope.get("client")
        fields = {
            "time": _iso(arrived),
            "request_id": rid,
            "method": scope["method"],
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
        }
        # Always INFO: a 503 while loading is routine, and a 500 has its own ERROR line.
        ACCESS_LOG.info(json.dumps(fields), extra={"fields": fields})


def instrument(app: FastAPI) -> Metrics:
    """Give ``app`` its metrics, ``GET /metrics``, and the request-id/access-log middleware.

    Call it after the other middleware is added, so this one is outermost and also
    sees (and stamps) what they answer themselves, such as a 413 for a large body."""
    metrics = Metrics(lambda: getattr(app.state, "slot", None))
    app.state.metrics = metrics
    app.include_router(metrics_router)
    app.add_middleware(AccessLog, metrics=metrics)
    return metrics


class JsonFormatter(logging.Formatter):
    """Every log record as one JSON object a line: time, level, logger, message (and the
    request id when logged while handling one); access lines keep their own fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        else:
            payload["message"] = record.getMessage()
            if (rid := current_request_id()) is not None:
                payload["request_id"] = rid
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn: citeqa's and uvicorn's records at
    ``level``, anything else at WARNING, all as JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": handler,
            # Level on the handler: some libraries (bm25s) set their own loggers to DEBUG.
            "others": {**handler, "level": "WARNING"},
        },
        "loggers": {
            "citeqa": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "propagate": False},  # ours replaces it
        },
        "root": {"handlers": ["others"], "level": "WARNING"},
    }
