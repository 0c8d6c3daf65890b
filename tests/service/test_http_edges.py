"""What a new user trying the API meets first: offline /docs, clear answers to a body that is
not JSON, strict numbers, filters that say when they match nothing, HEAD probes, 405s that
say what is allowed, and CORS when it is configured."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import HashEmbedder, SentenceTransformerEmbedder
from service.app import create_app
from service.settings import Settings
from tests.conftest import BOLTON
from tests.live import ready

GUARDIAN_DOC = "003_1ef814ca7a936dba.txt"  # the one seed whose source is The Guardian


@pytest.fixture
def client(seeded_dir: Path, model: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=seeded_dir), embedder=model)) as client:
        ready(client)
        yield client


def _message(response: object) -> str:
    return str(response.json()["error"]["message"])  # type: ignore[attr-defined]


# -- /docs works offline and has an Authorize button ------------------------------------------


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_this_server(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "//" not in re.sub(r"<!--.*?-->", "", html.text.replace("://", ""), flags=re.S), (
        "no absolute or protocol-relative URL: nothing comes from a CDN"
    )
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset


def test_the_bundled_swagger_ui_renders_openapi_3_1(client: TestClient) -> None:
    # FastAPI writes OpenAPI 3.1; Swagger UI before 5 shows "no valid version field" for it
    # (the swagger-ui-bundle package, for one, ships 4.15).
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    js = re.search(r'src="([^"]+swagger-ui-bundle\.js)"', client.get("/docs").text)
    assert js and "isOAS31" in client.get(js[1]).text


def test_the_schema_declares_the_api_key(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= schemes["HTTPBearer"].items()
    header = schemes["APIKeyHeader"]
    assert (header["type"], header["in"], header["name"]) == ("apiKey", "header", "X-API-Key")
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            keyed = {next(iter(s)) for s in operation.get("security", [])}
            want = {"HTTPBearer", "APIKeyHeader"} if path.startswith("/v1/") else set()
            assert keyed == want, f"{method.upper()} {path}"


def test_the_key_is_checked_as_before(seeded_dir: Path, model: SentenceTransformerEmbedder) -> None:
    keyed = create_app(Settings(data_dir=seeded_dir, api_key="s3cret"), embedder=model)  # type: ignore[arg-type]
    with TestClient(keyed) as client:
        ready(client)
        denied = client.get("/v1/documents", headers={"x-api-key": "wrong"})
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        assert "'Authorization: Bearer <key>' (or X-API-Key)" in _message(denied)
        assert client.get("/v1/documents", headers={"x-api-key": "s3cret"}).status_code == 200
        bearer = {"authorization": "Bearer s3cret"}
        assert client.get("/v1/documents", headers=bearer).status_code == 200
    blank = create_app(Settings(data_dir=seeded_dir, api_key=""), embedder=model)  # type: ignore[arg-type]
    with TestClient(blank) as client:
        ready(client)
        assert client.get("/v1/documents").status_code == 200  # a blank key is no key


# -- a body that is not JSON, or JSON that cannot be read -------------------------------------

SEND_JSON = "-H 'content-type: application/json'"


@pytest.mark.parametrize(
    ("headers", "sent"),
    [
        (
            {"content-type": "application/x-www-form-urlencoded"},
            "application/x-www-form-urlencoded",
        ),
        ({"content-type": "text/plain; charset=utf-8"}, "text/plain"),
        ({}, "without a content-type"),
    ],
)
def test_a_body_that_is_not_json_says_how_to_send_json(
    client: TestClient, headers: dict[str, str], sent: str
) -> None:
    # What `curl -d '{"question": ...}'` sends without -H: the JSON, labelled as a form.
    body = f'{{"question": "{BOLTON}"}}'
    response = client.post("/v1/query", content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    message = _message(response)
    assert sent in message and SEND_JSON in message and "valid dictionary" not in message


def test_no_body_says_how_to_send_json(client: TestClient) -> None:
    response = client.post("/v1/query")
    assert response.status_code == 422 and SEND_JSON in _message(response)


@pytest.mark.parametrize("depth", [100_000, 3_000])
def test_absurdly_nested_json_is_a_422(client: TestClient, depth: int) -> None:
    body = '{"question": "x", "filters": {"doc_ids": ' + "[" * depth + "]" * depth + "}}"
    response = client.post("/v1/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert "nested too deeply" in _message(response)


def test_invalid_utf8_is_a_422(client: TestClient) -> None:
    body = b'{"question": "caf\xe9"}'
    response = client.post("/v1/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid UTF-8" in _message(response)


# -- top_k is a number, and filters behave one way --------------------------------------------


@pytest.mark.parametrize("top_k", ["3", True, 3.0, 3.5])
def test_top_k_must_be_a_json_integer(client: TestClient, top_k: object) -> None:
    response = client.post("/v1/query", json={"question": BOLTON, "top_k": top_k})
    assert response.status_code == 422 and _message(response).startswith("top_k: ")


def test_top_k_in_a_query_string_still_parses(client: TestClient) -> None:
    response = client.get("/v1/query", params={"q": BOLTON, "top_k": "3"})
    assert response.status_code == 200 and len(response.json()["results"]) == 3
    body = client.post("/v1/query", json={"question": BOLTON, "top_k": 3})
    assert body.status_code == 200 and len(body.json()["results"]) == 3


def test_an_unknown_source_is_a_422_like_an_unknown_doc_id(client: TestClient) -> None:
    for field, value in [("sources", "The Guardain"), ("doc_ids", "nope.txt")]:
        body = {"question": BOLTON, "filters": {field: [value]}}
        response = client.post("/v1/query", json=body)
        assert response.status_code == 422, field
        message = _message(response)
        assert (
            f"unknown {field} in filters: '{value}'" in message and "GET /v1/documents" in message
        )
    known = {"question": BOLTON, "filters": {"sources": ["The Guardian"]}}
    results = client.post("/v1/query", json=known).json()["results"]
    assert results and {r["citation"]["doc_id"] for r in results} == {GUARDIAN_DOC}


# -- HEAD probes, Allow on 405 ----------------------------------------------------------------


def test_head_on_the_probes_answers_like_get(client: TestClient, tmp_path: Path) -> None:
    for path in ("/healthz", "/readyz"):
        head = client.head(path)
        assert head.status_code == 200 and head.content == b"", path
    # No index in this data dir: /readyz is 503, for HEAD as for GET.
    with TestClient(create_app(Settings(data_dir=tmp_path), embedder=HashEmbedder())) as empty:
        ready(empty, 503)
        head = empty.head("/readyz")
        assert head.status_code == 503 and head.content == b""
        assert empty.head("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/healthz", "GET, HEAD"),
        ("POST", "/readyz", "GET, HEAD"),
        ("PUT", "/v1/query", "GET, POST"),
        ("DELETE", "/v1/query", "GET, POST"),
    ],
)
def test_a_405_lists_every_allowed_method(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405 and response.headers["allow"] == allow
    assert _message(response) == f"{method} is not allowed on {path}; use {allow}"


# -- CORS ---------------------------------------------------------------------------------------

WEB_APP = "http://localhost:3000"


def _preflight(client: TestClient, origin: str) -> object:
    headers = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    return client.options("/v1/query", headers=headers)


def test_cors_is_off_by_default(client: TestClient) -> None:
    answer = client.get("/healthz", headers={"origin": WEB_APP})
    assert "access-control-allow-origin" not in answer.headers
    assert _preflight(client, WEB_APP).status_code == 405  # type: ignore[attr-defined]


def test_cors_origins_let_those_web_apps_in(
    seeded_dir: Path, model: SentenceTransformerEmbedder
) -> None:
    settings = Settings(data_dir=seeded_dir, cors_origins=[WEB_APP])
    with TestClient(create_app(settings, embedder=model)) as client:
        ready(client)
        preflight = _preflight(client, WEB_APP)
        assert preflight.status_code == 200  # type: ignore[attr-defined]
        headers = preflight.headers  # type: ignore[attr-defined]
        assert headers["access-control-allow-origin"] == WEB_APP
        assert "authorization" in headers["access-control-allow-headers"].lower()
        answer = client.post("/v1/query", json={"question": BOLTON}, headers={"origin": WEB_APP})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == WEB_APP
        other = client.get("/healthz", headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert _preflight(client, "http://evil.example").status_code == 400  # type: ignore[attr-defined]
