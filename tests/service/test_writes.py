"""Documents over HTTP: add, upload, replace, delete, keys and limits (real model; the
local store and Milvus Lite)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from index import SentenceTransformerEmbedder
from service.app import create_app
from service.settings import Settings
from tests.conftest import seeded_data
from tests.live import ready

MEMO = {
    "doc_id": "memos/memo-7.txt",
    "text": "The envoy met the oil minister in Caracas on Monday.\nThey agreed on a tanker schedule.",
    "title": "Memo 7",
    "source": "Internal",
    "metadata": {"desk": "energy"},
}


def _client(data: Path, model: SentenceTransformerEmbedder, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data, **settings), embedder=model))


@pytest.fixture(params=["local", "milvus"])
def store(request: pytest.FixtureRequest) -> str:
    """Every write test runs against each store."""
    return str(request.param)


@pytest.fixture
def data(seeded_dir: Path, seeded_milvus_dir: Path, tmp_path: Path, store: str) -> Path:
    shutil.copytree(seeded_data(store, seeded_dir, seeded_milvus_dir), tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def client(data: Path, model: SentenceTransformerEmbedder, store: str) -> Iterator[TestClient]:
    with _client(data, model, store=store) as client:
        ready(client)
        yield client


def ask(client: TestClient, question: str, **filters: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question, "top_k": 3}
    if filters:
        body["filters"] = filters
    response = client.post("/v1/query", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_posted_document_is_answerable_in_the_next_query(client: TestClient) -> None:
    response = client.post("/v1/documents", json=MEMO)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["documents"] == [{"doc_id": "memos/memo-7.txt", "status": "added", "passages": 1}]
    top = ask(client, "Who did the envoy meet in Caracas?")["results"][0]
    assert top["citation"]["doc_id"] == "memos/memo-7.txt"
    stored = client.get("/v1/documents/memos/memo-7.txt").json()
    assert stored["text"] == MEMO["text"] and stored["metadata"]["desk"] == "energy"
    assert (
        stored["text"][top["citation"]["char_start"] : top["citation"]["char_end"]] == top["text"]
    )
    again = client.post("/v1/documents", json=MEMO).json()
    assert again["documents"][0]["status"] == "unchanged"
    assert again["generation"] == body["generation"]  # a no-op writes nothing


def test_put_replaces_and_delete_removes(client: TestClient) -> None:
    client.post("/v1/documents", json=MEMO)
    new = {**MEMO, "text": "The envoy met the finance minister in Maracaibo on Friday."}
    del new["doc_id"]
    replaced = client.put("/v1/documents/memos/memo-7.txt", json=new).json()
    assert replaced["documents"][0]["status"] == "replaced"
    top = ask(client, "Where did the envoy meet the finance minister?")["results"][0]
    assert top["citation"]["doc_id"] == "memos/memo-7.txt" and "Maracaibo" in top["text"]
    deleted = client.delete("/v1/documents/memos/memo-7.txt")
    assert deleted.status_code == 200
    assert deleted.json()["documents"] == [
        {"doc_id": "memos/memo-7.txt", "status": "deleted", "passages": 1}
    ]
    assert client.get("/v1/documents/memos/memo-7.txt").status_code == 404
    assert client.delete("/v1/documents/memos/memo-7.txt").status_code == 404
    results = ask(client, "Where did the envoy meet the finance minister?")["results"]
    assert all(r["citation"]["doc_id"] != "memos/memo-7.txt" for r in results)


def test_an_id_is_derived_from_the_text_when_absent(client: TestClient) -> None:
    text = "Customs officers in Puerto Cabello seized two containers of copper wire."
    first = client.post("/v1/documents", json={"text": text}).json()["documents"][0]
    assert first["doc_id"].startswith("doc-") and first["status"] == "added"
    second = client.post("/v1/documents", json={"text": text}).json()["documents"][0]
    assert second == {**first, "status": "unchanged"}


def test_files_are_uploaded_as_documents_named_by_their_file_names(client: TestClient) -> None:
    files = [
        ("files", ("port.txt", b"Dockworkers in La Guaira went on strike.\r\n", "text/plain")),
        ("files", ("notes.md", b"\xef\xbb\xbf# Strike notes\n\nThe strike lasted four days.\n", "text/markdown")),
    ]  # fmt: skip
    response = client.post("/v1/documents", files=files)
    assert response.status_code == 200, response.text
    statuses = {d["doc_id"]: d["status"] for d in response.json()["documents"]}
    assert statuses == {"port.txt": "added", "notes.md": "added"}
    port = client.get("/v1/documents/port.txt").json()
    assert port["text"] == "Dockworkers in La Guaira went on strike.\r\n"  # bytes as sent
    assert client.get("/v1/documents/notes.md").json()["title"] == "Strike notes"
    latin = [("files", ("old.txt", "Caf\xe9".encode("latin-1"), "text/plain"))]
    bad = client.post("/v1/documents", files=latin)
    assert bad.status_code == 422 and "old.txt" in bad.json()["error"]["message"]
    assert "UTF-8" in bad.json()["error"]["message"]
    exe = client.post("/v1/documents", files=[("files", ("x.exe", b"MZ", "application/x-msdos"))])
    assert (
        exe.status_code == 422
        and ".txt, .md, .html, .htm, .pdf, .docx" in exe.json()["error"]["message"]
    )
    broken = [
        ("files", ("x.pdf", b"%PDF", "application/pdf")),
        ("files", ("ok.txt", b"Fine.", "text/plain")),
    ]
    mixed = client.post("/v1/documents", files=broken)  # the readable file goes in
    assert mixed.status_code == 200, mixed.text
    assert [d["doc_id"] for d in mixed.json()["documents"]] == ["ok.txt"]
    assert mixed.json()["skipped"][0]["name"] == "x.pdf"
    assert "not a readable PDF" in mixed.json()["skipped"][0]["reason"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"text": "x", "doc_id": ""}, "doc_id"),
        ({"text": "x", "doc_id": "a\nb"}, "control character"),
        ({"doc_id": "a.txt"}, "text"),
        ({"text": "x", "extra": 1}, "unknown field"),
        ({"text": "\ud800"}, "Unicode"),
    ],
)
def test_bad_documents_get_a_422_that_says_what_to_change(
    client: TestClient, body: dict[str, Any], where: str
) -> None:
    raw = json.dumps(body)  # ASCII JSON can spell a lone surrogate, as any client may
    response = client.post(
        "/v1/documents", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert where in response.json()["error"]["message"]


def test_a_body_that_is_not_json_is_told_to_send_json(client: TestClient) -> None:
    response = client.post(
        "/v1/documents",
        content=b"text=hello",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert "content-type: application/json" in response.json()["error"]["message"]


def test_limits_are_413s_that_name_their_setting(
    data: Path, model: SentenceTransformerEmbedder, store: str
) -> None:
    limits = {"max_body_bytes": 5_000, "max_document_chars": 200, "max_upload_files": 2}
    with _client(data, model, store=store, **limits) as client:
        ready(client)
        big = client.post("/v1/documents", json={"text": "word " * 2_000})
        assert big.status_code == 413 and "CITEQA_MAX_BODY_BYTES" in big.json()["error"]["message"]
        long = client.post("/v1/documents", json={"text": "word " * 100})
        assert long.status_code == 413
        assert "CITEQA_MAX_DOCUMENT_CHARS" in long.json()["error"]["message"]
        files = [("files", (f"f{i}.txt", b"Some text.", "text/plain")) for i in range(3)]
        many = client.post("/v1/documents", files=files)
        assert (
            many.status_code == 413 and "CITEQA_MAX_UPLOAD_FILES" in many.json()["error"]["message"]
        )
        query = client.post("/v1/query", json={"question": "what did Bolton say?"})
        assert query.status_code == 200  # small requests are unaffected
        assert client.get("/v1/documents").json()["documents"].__len__() == 5  # nothing written


def test_writes_need_the_admin_key_and_the_api_key_only_reads(
    data: Path, model: SentenceTransformerEmbedder, store: str
) -> None:
    with _client(data, model, store=store, api_key="reader", admin_key="admin") as client:
        ready(client)
        reader, admin = {"Authorization": "Bearer reader"}, {"X-API-Key": "admin"}
        assert client.post("/v1/documents", json=MEMO).status_code == 401
        refused = client.post("/v1/documents", json=MEMO, headers=reader)
        assert (
            refused.status_code == 403 and "CITEQA_ADMIN_KEY" in refused.json()["error"]["message"]
        )
        assert client.post("/v1/documents", json=MEMO, headers=admin).status_code == 200
        assert client.get("/v1/documents", headers=reader).status_code == 200
        assert client.get("/v1/documents", headers=admin).status_code == 200  # admin reads too
        assert client.delete("/v1/documents/memos/memo-7.txt", headers=reader).status_code == 403
    with _client(data, model, store=store, api_key="only") as client:
        ready(client)
        deleted = client.delete("/v1/documents/memos/memo-7.txt", headers={"X-API-Key": "only"})
        assert deleted.status_code == 200  # no admin key: the API key writes


def test_metrics_count_writes(client: TestClient) -> None:
    client.post("/v1/documents", json=MEMO)
    client.post("/v1/documents", json=MEMO)
    client.delete("/v1/documents/memos/memo-7.txt")
    text = client.get("/metrics").text
    for outcome, count in (("added", 1), ("unchanged", 1), ("deleted", 1)):
        assert f'citeqa_documents_written_total{{outcome="{outcome}"}} {count}.0' in text
