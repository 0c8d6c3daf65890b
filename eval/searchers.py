"""Where the eval gets its answers: the engine in this process, or a server over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import BaseModel, ValidationError

from index import Engine


@dataclass(frozen=True)
class Returned:
    doc_id: str
    text: str
    highlight: str


@dataclass(frozen=True)
class Answer:
    answerable: bool
    results: tuple[Returned, ...]


class Searcher(Protocol):
    def search(self, question: str, top_k: int, mode: str) -> Answer: ...


class EngineSearcher:
    """The same ``Engine.search`` the API serves."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def search(self, question: str, top_k: int, mode: str) -> Answer:
        result = self.engine.search(question, top_k, mode)
        return Answer(
            result.answerable,
            tuple(
                Returned(h.passage.doc_id, h.passage.text, h.highlight.text) for h in result.hits
            ),
        )


class _Highlight(BaseModel):
    text: str


class _Citation(BaseModel):
    doc_id: str


class _Result(BaseModel):
    text: str
    highlight: _Highlight
    citation: _Citation


class _Response(BaseModel):
    answerable: bool
    results: list[_Result]


class EvalServerError(RuntimeError):
    """The server could not be reached or gave an answer outside the v1 contract."""


class HttpSearcher:
    """``POST /v1/query`` on a running citeqa, so the eval checks a deployment."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def search(self, question: str, top_k: int, mode: str) -> Answer:
        body = {"question": question, "top_k": top_k, "mode": mode}
        try:
            response = self.client.post("/v1/query", json=body)
        except httpx.HTTPError as exc:
            raise EvalServerError(f"cannot reach {self.client.base_url}: {exc}") from exc
        if response.status_code != 200:
            raise EvalServerError(
                f"{self.client.base_url}/v1/query answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        try:
            data = _Response.model_validate_json(response.content)
        except ValidationError as exc:
            raise EvalServerError(f"not a citeqa v1 answer: {exc}") from exc
        return Answer(
            data.answerable,
            tuple(Returned(r.citation.doc_id, r.text, r.highlight.text) for r in data.results),
        )
