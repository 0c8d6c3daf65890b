"""The web page for people: one HTML shell for /, /documents and /documents/{id}, and a small
script that asks the v1 API (so the API key, when set, guards the data, not the page)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

# Only this server's own script and styles run; document text can never become markup.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

page = APIRouter(include_in_schema=False)


def _shell() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)


@page.api_route("/", methods=["GET", "HEAD"])
def ask() -> FileResponse:
    return _shell()


@page.api_route("/documents", methods=["GET", "HEAD"])
def documents() -> FileResponse:
    return _shell()


@page.api_route("/documents/{doc_id:path}", methods=["GET", "HEAD"])
def document(doc_id: str) -> FileResponse:
    return _shell()


def add_page(app: FastAPI) -> None:
    app.include_router(page)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
