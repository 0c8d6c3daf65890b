"""POST and GET /v1/context against the seeds and the real model: packed, citable evidence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from index import SentenceTransformerEmbedder
from service.app import create_app
from service.settings import Settings
from service.tools import ANSWERABLE_NOTE
from tests.conftest import BOLTON, BOLTON_ANSWER
from tests.live import ready

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def client(seeded_dir: Path, model: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=seeded_dir), embedder=model)
    with TestClient(app) as client:
        ready(client)
        yield client


def assert_checkable(client: TestClient, body: dict[str, Any]) -> None:
    """Each citation's span of the served document is its block's text, the blocks appear in
    label order, each headed by a line that starts with its label and title, and the context
    holds nothing else."""
    context, at = body["context"], 0
    for n, citation in enumerate(body["citations"], start=1):
        assert citation["label"] == f"[{n}]"
        doc = client.get(f"/v1/documents/{citation['doc_id']}").json()
        assert citation["title"] == doc["title"] and citation["url"] == doc["url"]
        text = doc["text"][citation["char_start"] : citation["char_end"]]
        assert text and citation["char_start"] < citation["char_end"] <= len(doc["text"])
        if n > 1:
            assert context[at : at + 2] == "\n\n", context[at : at + 50]
            at += 2
        assert context.startswith(f"{citation['label']} {doc['title'] or doc['doc_id']}", at)
        header_end = context.index("\n", at)
        assert context[header_end + 1 : header_end + 1 + len(text)] == text
        at = header_end + 1 + len(text)
    assert at == len(context)


def test_post_context_packs_the_bolton_answer_with_checkable_citations(
    client: TestClient,
) -> None:
    response = client.post("/v1/context", json={"question": BOLTON})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"question", "answerable", "truncated", "context", "citations"}
    assert body["question"] == BOLTON and body["answerable"] is True
    assert BOLTON_ANSWER in body["context"] and len(body["context"]) <= 8000
    assert set(body["citations"][0]) == {
        "label", "doc_id", "title", "source", "url", "char_start", "char_end",
        "page_start", "page_end", "link", "original",
    }  # fmt: skip
    assert_checkable(client, body)


@pytest.mark.parametrize("max_chars", [200, 400, 700, 1200, 2500, 8000, 30000])
def test_the_budget_is_never_exceeded(client: TestClient, max_chars: int) -> None:
    body = client.post(
        "/v1/context", json={"question": BOLTON, "top_k": 10, "max_chars": max_chars}
    ).json()
    assert len(body["context"]) <= max_chars
    assert_checkable(client, body)
    if max_chars == 200:  # no passage fits whole, and none is cut
        assert body["citations"] == [] and body["context"] == "" and body["truncated"] is True
    if max_chars >= 8000:
        assert body["truncated"] is False and BOLTON_ANSWER in body["context"]


def test_get_context_is_the_same_as_post(client: TestClient) -> None:
    params = {"q": BOLTON, "max_chars": 3000, "top_k": 4, "mode": "dense"}
    got = client.get("/v1/context", params=params)
    assert got.status_code == 200, got.text
    posted = client.post(
        "/v1/context", json={"question": BOLTON, "max_chars": 3000, "top_k": 4, "mode": "dense"}
    )
    assert got.json() == posted.json()


def test_filters_restrict_the_evidence(client: TestClient) -> None:
    doc_id = "003_1ef814ca7a936dba.txt"
    body = client.post(
        "/v1/context", json={"question": BOLTON, "filters": {"doc_ids": [doc_id]}}
    ).json()
    assert body["citations"] and {c["doc_id"] for c in body["citations"]} == {doc_id}
    assert_checkable(client, body)
    by_source = client.post(
        "/v1/context", json={"question": BOLTON, "filters": {"sources": ["The Guardian"]}}
    ).json()
    assert {c["source"] for c in by_source["citations"]} == {"The Guardian"}


def test_an_off_topic_question_is_not_answerable(client: TestClient) -> None:
    body = client.get("/v1/context", params={"q": "How long should I knead sourdough bread?"})
    assert body.json()["answerable"] is False


def test_the_schema_says_what_answerable_promises(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["ContextResponse"]["properties"]["answerable"]["description"] == ANSWERABLE_NOTE
    assert "false is reliable" in ANSWERABLE_NOTE and "still comes back true" in ANSWERABLE_NOTE


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "2000"),
        ({"question": "x", "max_chars": 199}, "max_chars"),
        ({"question": "x", "max_chars": 100_001}, "max_chars"),
        ({"question": "x", "max_chars": "8000"}, "max_chars"),
        ({"question": "x", "top_k": 51}, "top_k"),
        ({"question": "x", "maxchars": 100}, "unknown field"),
        ({"question": "x", "filters": {"doc_ids": ["nope"]}}, "unknown doc_ids"),
    ],
)
def test_bad_input_is_a_422_that_says_why(
    client: TestClient, body: dict[str, Any], says: str
) -> None:
    response = client.post("/v1/context", json=body)
    assert response.status_code == 422, response.text
    assert says in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "params", [{"q": " "}, {"q": "x", "max_chars": 50}, {"q": "x", "mode": "fuzzy"}, {}]
)
def test_bad_get_parameters_are_a_422(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/v1/context", params=params)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_context_needs_the_api_key_when_one_is_set(
    seeded_dir: Path, model: SentenceTransformerEmbedder
) -> None:
    app = create_app(Settings(data_dir=seeded_dir, api_key="s3cret"), embedder=model)
    with TestClient(app) as client:
        ready(client)
        assert client.post("/v1/context", json={"question": BOLTON}).status_code == 401
        assert client.get("/v1/context", params={"q": BOLTON}).status_code == 401
        key = {"Authorization": "Bearer s3cret"}
        ok = client.post("/v1/context", json={"question": BOLTON}, headers=key)
        assert ok.status_code == 200 and BOLTON_ANSWER in ok.json()["context"]
