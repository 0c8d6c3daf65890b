from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import SentenceTransformerEmbedder
from service.app import create_app
from service.settings import Settings
from tests.conftest import BOLTON, BOLTON_ANSWER, seeded_data
from tests.live import ready


@pytest.fixture(params=["local", "milvus"])
def client(
    request: pytest.FixtureRequest,
    seeded_dir: Path,
    seeded_milvus_dir: Path,
    model: SentenceTransformerEmbedder,
) -> Iterator[TestClient]:
    """The API over each store: the same answers whichever one holds the index."""
    store = request.param
    data = seeded_data(store, seeded_dir, seeded_milvus_dir)
    app = create_app(Settings(data_dir=data, store=store), embedder=model)
    with TestClient(app) as client:
        ready(client)
        yield client


def test_post_query_matches_the_v1_contract(client: TestClient) -> None:
    response = client.post("/v1/query", json={"question": BOLTON, "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == BOLTON and body["mode"] == "hybrid" and body["answerable"] is True
    assert [r["rank"] for r in body["results"]] == [1, 2, 3]
    assert any(BOLTON_ANSWER in r["text"] for r in body["results"])
    for r in body["results"]:
        citation = r["citation"]
        assert citation["label"] == f"[{r['rank']}]"
        doc = client.get(f"/v1/documents/{citation['doc_id']}").json()
        assert doc["text"][citation["char_start"] : citation["char_end"]] == r["text"]
        hl = r["highlight"]
        assert doc["text"][hl["char_start"] : hl["char_end"]] == hl["text"]
        assert citation["title"] == doc["title"]


def test_get_query_gives_the_same_answer(client: TestClient) -> None:
    post = client.post("/v1/query", json={"question": BOLTON}).json()
    get = client.get("/v1/query", params={"q": BOLTON}).json()
    assert [r["citation"] for r in get["results"]] == [r["citation"] for r in post["results"]]
    text = client.get("/v1/query", params={"q": BOLTON}, headers={"accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "[1] " in text.text and "»" in text.text


def test_documents_list(client: TestClient) -> None:
    docs = client.get("/v1/documents").json()["documents"]
    assert len(docs) == 5
    assert all(d["passages"] > 0 for d in docs)
    by_id = {d["doc_id"]: d for d in docs}
    assert by_id["003_1ef814ca7a936dba.txt"]["source"] == "The Guardian"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"question": "   "}, 422, "question"),
        ({"question": "x" * 2001}, 422, "2000"),
        ({"question": "x", "top_k": 0}, 422, "top_k"),
        ({"question": "x", "top_k": 51}, 422, "top_k"),
        ({"question": "x", "mode": "fuzzy"}, 422, "mode"),
        ({"question": "x", "topk": 3}, 422, "unknown field"),
        ({"question": "x", "filters": {"doc_ids": ["nope"]}}, 422, "unknown doc_ids"),
        ({"question": 5}, 422, "question"),
        ([], 422, "object"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    client: TestClient, body: object, status: int, says: str
) -> None:
    response = client.post("/v1/query", json=body)
    assert response.status_code == status
    assert says in response.json()["error"]["message"]


def test_other_errors_are_clear(client: TestClient) -> None:
    assert client.get("/v1/documents/nope").status_code == 404
    assert "lists the ids" in client.get("/v1/documents/nope").json()["error"]["message"]
    bad_json = client.post(
        "/v1/query", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.json()["error"]["message"]
    assert client.get("/v1/query").status_code == 422
    assert client.get("/v1/query", params={"q": "x", "top_k": "many"}).status_code == 422
    assert client.get("/nowhere").status_code == 404
    assert client.get("/healthz").json() == {"status": "ok", "detail": None}


def test_filters_restrict_the_search(client: TestClient) -> None:
    body = {"question": BOLTON, "top_k": 5, "filters": {"doc_ids": ["003_1ef814ca7a936dba.txt"]}}
    results = client.post("/v1/query", json=body).json()["results"]
    assert results and {r["citation"]["doc_id"] for r in results} == {"003_1ef814ca7a936dba.txt"}


def test_api_key_is_required_when_set(seeded_dir: Path, model: SentenceTransformerEmbedder) -> None:
    app = create_app(Settings(data_dir=seeded_dir, api_key="s3cret"), embedder=model)  # type: ignore[arg-type]
    with TestClient(app) as client:
        ready(client)
        denied = client.get("/v1/query", params={"q": BOLTON})
        assert denied.status_code == 401 and "Bearer" in denied.json()["error"]["message"]
        ok = client.get(
            "/v1/query", params={"q": BOLTON}, headers={"authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200


def test_a_broken_index_is_503_not_500(tmp_path: Path, model: SentenceTransformerEmbedder) -> None:
    (tmp_path / "citeqa.sqlite3").write_bytes(b"not a database" * 100)
    with TestClient(create_app(Settings(data_dir=tmp_path), embedder=model)) as client:
        for _ in range(100):
            response = client.post("/v1/query", json={"question": BOLTON})
            if "loading" not in response.text:
                break
            time.sleep(0.05)
        assert response.status_code == 503
        assert "ingest again" in response.json()["error"]["message"]
        assert client.get("/readyz").status_code == 503


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/v1/query" in client.get("/openapi.json").json()["paths"]


def test_a_lone_surrogate_is_a_422_that_says_so(client: TestClient) -> None:
    # Raw JSON: the \ud800 escape is valid JSON but half a UTF-16 pair, not a character.
    raw = '{"question": "\\ud800"}'
    response = client.post("/v1/query", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert (
        message.startswith("question: must be valid Unicode text (UTF-8)") and "U+D800" in message
    )


def test_error_responses_keep_required_headers(
    client: TestClient, seeded_dir: Path, model: SentenceTransformerEmbedder
) -> None:
    put = client.put("/v1/query")
    assert put.status_code == 405 and put.headers["allow"]
    assert "PUT is not allowed" in put.json()["error"]["message"]
    app = create_app(Settings(data_dir=seeded_dir, api_key="s3cret"), embedder=model)  # type: ignore[arg-type]
    with TestClient(app) as keyed:
        assert keyed.get("/v1/documents").headers["www-authenticate"] == "Bearer"
