"""The v1 routes and the health probes; each a few lines over the engine."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from index import IndexStateError
from service.deps import EngineDep, get_engine, get_settings, require_api_key
from service.metrics import metrics_of
from service.render import render_text, wants_text
from service.schemas import (
    MAX_TOP_K,
    DocumentList,
    DocumentOut,
    DocumentSummary,
    ErrorOut,
    QueryRequest,
    QueryResponse,
    Status,
)

router = APIRouter()
v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (401, 404, 422, 503)
}


def _answer(request: Request, engine: EngineDep, body: QueryRequest) -> Response | QueryResponse:
    filters = body.filters.to_engine() if body.filters else None
    result = engine.search(body.question, body.top_k, body.mode, filters)
    metrics_of(request).observe_search(result)
    response = QueryResponse.from_result(result, get_settings(request).base_url)
    if wants_text(request.headers.get("accept", "")):
        return PlainTextResponse(render_text(response))
    return response


@v1.post("/query", response_model=QueryResponse, responses={**ERRORS, 415: {"model": ErrorOut}})
def query(request: Request, engine: EngineDep, body: QueryRequest) -> Response | QueryResponse:
    """Answer a question with ranked, cited passages."""
    return _answer(request, engine, body)


@v1.get("/query", response_model=QueryResponse, responses=ERRORS)
def query_get(
    request: Request,
    engine: EngineDep,
    q: Annotated[str, Query(description="The question, 1 to 2,000 characters.")],
    top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 5,
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
) -> Response | QueryResponse:
    """Answer a question given in the URL (for curl and browsers); send Accept: text/plain for text."""
    return _answer(request, engine, QueryRequest(question=q, top_k=top_k, mode=mode))


@v1.get("/documents", response_model=DocumentList, responses=ERRORS)
def documents(engine: EngineDep) -> DocumentList:
    """List the indexed documents."""
    return DocumentList(documents=[DocumentSummary.from_info(d) for d in engine.documents()])


# Before the route below, which would take ".../original" as part of an id. HEAD too: a
# browser or a download tool asks the size and type before it fetches.
@v1.head("/documents/{doc_id:path}/original", include_in_schema=False)
@v1.get(
    "/documents/{doc_id:path}/original",
    response_class=FileResponse,
    responses={**ERRORS, 200: {"content": {"application/pdf": {}}, "description": "The file."}},
)
def original(engine: EngineDep, doc_id: str) -> FileResponse:
    """The original file a document was read from (PDF, Word), as it came; add #page=N for a page."""
    kept, path = engine.original(doc_id)
    return FileResponse(path, media_type=kept.media_type, filename=kept.name,
                        content_disposition_type="inline")  # fmt: skip


@v1.get("/documents/{doc_id:path}", response_model=DocumentOut, responses=ERRORS)
def document(request: Request, engine: EngineDep, doc_id: str) -> DocumentOut:
    """One document with its full text; citation offsets index into this text."""
    return DocumentOut.from_document(
        engine.document(doc_id), engine.indexed_spans(doc_id), get_settings(request).base_url
    )


# HEAD as well, for load balancers; kept out of the schema (it would repeat the GET).
@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", response_model=Status)
def healthz() -> Status:
    """The process is up."""
    return Status(status="ok")


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", response_model=Status, responses={503: {"model": ErrorOut}})
def readyz(request: Request) -> Status:
    """Ready once the index and model are loaded."""
    engine = get_engine(request)
    if not engine.size:
        raise IndexStateError("the index is empty; run `citeqa ingest PATH` first")
    return Status(status="ready", detail=f"{engine.size} passages")


router.include_router(v1)
