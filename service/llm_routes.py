"""Routes for LLM apps: prompt-ready context, tool definitions and a tool-call executor."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from pydantic import ValidationError

from index import pack
from service.deps import EngineDep, get_settings, require_api_key
from service.metrics import metrics_of
from service.routes import ERRORS
from service.schemas import (
    MAX_CONTEXT_CHARS,
    MAX_TOP_K,
    ContextRequest,
    ContextResponse,
    ErrorOut,
)
from service.tooldefs import TOOLS, Format
from service.tools import FetchOut, SearchOut

llm = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])
POST_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 415: {"model": ErrorOut}}


def _context(request: Request, engine: EngineDep, body: ContextRequest) -> ContextResponse:
    filters = body.filters.to_engine() if body.filters else None
    result = engine.search(body.question, body.top_k, body.mode, filters)
    metrics_of(request).observe_search(result)
    base_url = get_settings(request).base_url
    return ContextResponse.from_packed(result, pack(result.hits, body.max_chars), base_url)


@llm.post("/context", response_model=ContextResponse, responses=POST_ERRORS)
def context(request: Request, engine: EngineDep, body: ContextRequest) -> ContextResponse:
    """Evidence for an LLM prompt: labelled passages within max_chars, each with a citation whose offsets give its exact text."""
    return _context(request, engine, body)


@llm.get("/context", response_model=ContextResponse, responses=ERRORS)
def context_get(
    request: Request,
    engine: EngineDep,
    q: Annotated[str, Query(description="The question, 1 to 2,000 characters.")],
    max_chars: Annotated[int, Query(ge=200, le=MAX_CONTEXT_CHARS)] = 8000,
    top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 5,
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
) -> ContextResponse:
    """Evidence for an LLM prompt, for a question given in the URL."""
    body = ContextRequest(question=q, max_chars=max_chars, top_k=top_k, mode=mode)
    return _context(request, engine, body)


@llm.get("/tools")
def tools(format: Format = "openai") -> list[dict[str, Any]]:
    """Definitions of the search and fetch tools, ready to paste into an OpenAI (strict mode) or Anthropic tools list."""
    return [tool.definition(format) for tool in TOOLS.values()]


@llm.post("/tools/{name}", response_model=SearchOut | FetchOut, responses=POST_ERRORS)
def call_tool(
    request: Request,
    engine: EngineDep,
    name: str,
    arguments: Annotated[
        dict[str, Any],
        Body(
            description="The arguments object the model produced; null means the default.",
            examples=[{"query": "What did Bolton say about the talks?", "top_k": None}],
        ),
    ],
) -> SearchOut | FetchOut:
    """Run a tool call (search or fetch) with the model's arguments; returns what the tool returns."""
    tool = TOOLS.get(name)
    if tool is None:
        raise HTTPException(404, f"no tool {name!r}; the tools are {', '.join(sorted(TOOLS))}")
    try:
        out: SearchOut | FetchOut = tool.call(engine, arguments, str(request.base_url))
    except ValidationError as exc:
        raise HTTPException(422, f"bad arguments for {name}: {_args_message(exc)}") from None
    return out


def _args_message(exc: ValidationError) -> str:
    """Each problem with the field it is about (the app's handler drops "query" from paths)."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown argument; GET /v1/tools lists the ones this tool takes"
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)
