"""Document writes over HTTP: add (JSON or a file upload), replace, delete.

A write runs in a worker thread under the data dir's write lock (``index.store.lock``) and
returns once it is committed and searchable; questions keep being answered meanwhile
and never see half a document (each write is one transaction and one index generation).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException

from index import BadDocumentError, Document, Engine, IngestReport, document_from_bytes
from index.read.web import fetch
from service.deps import EngineDep, SettingsDep, require_write_key
from service.metrics import Metrics, MetricsDep
from service.schemas import (
    DocumentIn,
    DocumentReplace,
    DocumentWriteOut,
    ErrorOut,
    SkippedOut,
    WriteOut,
)
from service.settings import Settings

log = logging.getLogger("citeqa")

writes = APIRouter(prefix="/v1", dependencies=[Depends(require_write_key)])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 413, 415, 422, 503)
}
_UPLOAD = {
    "type": "object",
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    "required": ["files"],
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentIn.model_json_schema()},
            "multipart/form-data": {"schema": _UPLOAD},
        },
    }
}


def too_large(message: str) -> HTTPException:
    return HTTPException(413, message)


def _check_length(doc: Document, settings: Settings) -> Document:
    if len(doc.text) > settings.max_document_chars:
        raise too_large(
            f"document {doc.doc_id!r} has {len(doc.text):,} characters, more than the "
            f"{settings.max_document_chars:,} allowed; split it, or raise "
            "CITEQA_MAX_DOCUMENT_CHARS"
        )
    return doc


def _from_json(body: DocumentIn | DocumentReplace, doc_id: str) -> Document:
    assert body.text is not None  # DocumentIn without text is fetched (_fetched)
    return Document(doc_id=doc_id, text=body.text, title=body.title, source=body.source,
                    url=body.url, published=body.published, metadata=body.metadata)  # fmt: skip


def _fetched(body: DocumentIn, settings: Settings) -> Document:
    """The document at ``body.url``, read by its content type; what the body gives wins."""
    assert body.url is not None
    doc = fetch(body.url, settings.fetch_policy(), body.doc_id)
    return replace(doc, title=body.title or doc.title, source=body.source or doc.source,
                   published=body.published or doc.published,
                   metadata={**doc.metadata, **body.metadata})  # fmt: skip


def derived_id(text: str) -> str:
    """The id of a document sent without one: the same text always gets the same id."""
    return f"doc-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


async def _uploaded(
    request: Request, settings: Settings
) -> tuple[list[Document], list[SkippedOut]]:
    docs = []
    skipped: list[SkippedOut] = []
    try:
        form = await request.form(max_files=10_000, max_fields=10_000)
    except StarletteHTTPException as exc:  # Starlette's 400 for a malformed multipart body
        raise HTTPException(
            422,
            f"the upload is not valid multipart/form-data ({exc.detail}); send the files "
            "in a 'files' field, e.g. curl -F files=@report.txt",
        ) from None
    try:
        files = [value for _, value in form.multi_items() if not isinstance(value, str)]
        if not files:
            raise HTTPException(422, "the upload holds no files; send them in a 'files' field")
        if len(files) > settings.max_upload_files:
            raise too_large(
                f"{len(files)} files in one upload, more than the {settings.max_upload_files} "
                "allowed; send them in several requests, or raise CITEQA_MAX_UPLOAD_FILES"
            )
        for upload in files:
            name = str(
                DocumentIn.model_validate({"doc_id": upload.filename or "", "text": ""}).doc_id
            )
            data = await upload.read()
            try:
                docs.append(await run_in_threadpool(document_from_bytes, name, data))
            except BadDocumentError as exc:
                skipped.append(SkippedOut(name=name, reason=str(exc).removeprefix(f"{name}: ")))
    finally:
        await form.close()
    if not docs:
        raise BadDocumentError(
            "no uploaded file could be read: " + "; ".join(f"{s.name}: {s.reason}" for s in skipped)
        )
    return docs, skipped


async def _json(request: Request) -> object:
    """The body parsed as FastAPI parses JSON bodies, with a message a person can act on."""
    try:
        return json.loads(await request.body())
    except UnicodeDecodeError as exc:
        raise HTTPException(
            422, f"the body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8"
        ) from None
    except json.JSONDecodeError as exc:
        raise HTTPException(
            422,
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); send a JSON object",
        ) from None
    except RecursionError:
        raise HTTPException(422, "the body is nested too deeply; send a flat JSON object") from None
    except ValueError as exc:  # an integer past Python's 4,300 digits
        raise HTTPException(
            422,
            f"the body holds a number JSON readers cannot read back ({exc}); send it as a string",
        ) from None


def _write(
    engine: Engine, docs: list[Document], metrics: Metrics, skipped: list[SkippedOut] | None = None
) -> WriteOut:
    report: IngestReport = engine.ingest(docs)
    metrics.record_write(report)
    if engine.wants_compact:  # a write never trains: say what brings fast search back
        log.warning(
            "the dense index (%d passages) is past its exact-search limit and searched "
            "exactly until `citeqa compact` trains it; the server keeps serving meanwhile",
            engine.size,
        )
    infos = engine.storage.infos(c.doc_id for c in report.changes if c.status == "unchanged")
    return WriteOut(
        generation=engine.generation,
        documents=[
            DocumentWriteOut(
                doc_id=c.doc_id,
                status=c.status,
                passages=infos[c.doc_id].passages if c.doc_id in infos else c.passages,
            )
            for c in report.changes
        ],
        skipped=skipped or [],
    )


@writes.post("/documents", response_model=WriteOut, responses=ERRORS, openapi_extra=_BODY)
async def add_documents(
    request: Request, engine: EngineDep, settings: SettingsDep, metrics: MetricsDep
) -> WriteOut:
    """Add a document (JSON text, or a url to fetch) or files (multipart 'files': .txt .md .html .pdf .docx); an unchanged one is a no-op."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    skipped: list[SkippedOut] = []
    if kind == "multipart/form-data":
        docs, skipped = await _uploaded(request, settings)
    elif kind == "application/json":
        body = DocumentIn.model_validate(await _json(request))
        if body.text is None:
            docs = [await run_in_threadpool(_fetched, body, settings)]
        else:
            docs = [_from_json(body, body.doc_id or derived_id(body.text))]
    else:
        raise HTTPException(
            415,
            f"send the document as JSON with the header 'content-type: application/json' "
            f"(got {kind or 'no content-type'}), or files as multipart/form-data",
        )
    docs = [_check_length(doc, settings) for doc in docs]
    return await run_in_threadpool(_write, engine, docs, metrics, skipped)


@writes.put("/documents/{doc_id:path}", response_model=WriteOut, responses=ERRORS)
def replace_document(
    engine: EngineDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    doc_id: str,
    body: DocumentReplace,
) -> WriteOut:
    """Add or replace the document with this id; the same content again is a no-op."""
    DocumentIn.model_validate({"doc_id": doc_id, "text": ""})  # the same id rules as POST
    if body.doc_id is not None and body.doc_id != doc_id:
        raise HTTPException(
            422,
            f"the body's doc_id {body.doc_id!r} differs from the path's {doc_id!r}; send the "
            "same id in both, or leave doc_id out of the body (to rename, DELETE the old id "
            "and PUT the new one)",
        )
    return _write(engine, [_check_length(_from_json(body, doc_id), settings)], metrics)


@writes.delete("/documents/{doc_id:path}", response_model=WriteOut, responses=ERRORS)
def delete_document(engine: EngineDep, metrics: MetricsDep, doc_id: str) -> WriteOut:
    """Remove a document and its passages."""
    passages = engine.document_info(doc_id).passages
    engine.delete(doc_id)
    metrics.record_delete()
    return WriteOut(
        generation=engine.generation,
        documents=[DocumentWriteOut(doc_id=doc_id, status="deleted", passages=passages)],
    )
