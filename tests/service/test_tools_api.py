"""GET /v1/tools (function-calling definitions) and POST /v1/tools/{name} (their executor)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from index import SentenceTransformerEmbedder
from service.app import create_app
from service.settings import Settings
from service.tooldefs import strict_schema
from service.tools import FetchArgs, SearchArgs
from tests.conftest import BOLTON, BOLTON_ANSWER
from tests.live import ready

pytestmark = pytest.mark.model

# What OpenAI's strict mode accepts, of the keywords these schemas could use: no default,
# no length or range limits (those live in the descriptions).
# OpenAI's Structured Outputs also take a string "format" from a short list (date, ...).
STRICT_KEYWORDS = {"type", "description", "enum", "items", "properties", "required",
                   "additionalProperties", "anyOf", "format"}  # fmt: skip
MODELS = {"search": SearchArgs, "fetch": FetchArgs}


@pytest.fixture(scope="module")
def client(seeded_dir: Path, model: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=seeded_dir), embedder=model)
    with TestClient(app) as client:
        ready(client)
        yield client


def assert_strict(schema: dict[str, Any], where: str = "parameters") -> None:
    """OpenAI's strict-mode rules, applied to every node of the schema."""
    unsupported = set(schema) - STRICT_KEYWORDS
    assert not unsupported, f"{where} uses {unsupported}"
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if "object" in kinds:
        assert schema["additionalProperties"] is False, where
        assert schema["required"] == list(schema["properties"]), where
        for name, sub in schema["properties"].items():
            assert_strict(sub, f"{where}.{name}")
    if "array" in kinds:
        assert_strict(schema["items"], f"{where}[]")
    if "enum" in schema and "null" in kinds:
        assert None in schema["enum"], where


@pytest.mark.parametrize("name", ["search", "fetch"])
def test_openai_definitions_are_valid_under_strict_mode(client: TestClient, name: str) -> None:
    tools = client.get("/v1/tools").json()
    assert client.get("/v1/tools", params={"format": "openai"}).json() == tools
    assert [t["function"]["name"] for t in tools] == ["search", "fetch"]
    (tool,) = [t for t in tools if t["function"]["name"] == name]
    assert tool["type"] == "function" and set(tool["function"]) == {
        "name", "description", "strict", "parameters"
    }  # fmt: skip
    assert tool["function"]["strict"] is True and tool["function"]["description"]
    parameters = tool["function"]["parameters"]
    jsonschema.Draft202012Validator.check_schema(parameters)
    assert_strict(parameters)
    # Generated from the model, so they cannot drift: the same fields, optional ones nullable.
    args = MODELS[name]
    assert list(parameters["properties"]) == list(args.model_fields)
    for field, info in args.model_fields.items():
        assert ("null" in parameters["properties"][field]["type"]) is (not info.is_required())


def test_limits_and_defaults_move_into_the_descriptions(client: TestClient) -> None:
    search = client.get("/v1/tools").json()[0]["function"]["parameters"]["properties"]
    assert "1 to 50" in search["top_k"]["description"]
    assert "null means 5" in search["top_k"]["description"]
    assert "1 to 2000 characters" in search["query"]["description"]
    assert search["mode"]["enum"] == ["hybrid", "dense", "lexical", None]


def test_strict_parameters_accept_what_a_model_sends_and_nothing_else() -> None:
    parameters = strict_schema(SearchArgs)
    validator = jsonschema.Draft202012Validator(parameters)
    nulls = {"query": BOLTON, "top_k": None, "mode": None, "doc_ids": None, "max_chars": None,
             "published_after": None, "published_before": None}  # fmt: skip
    validator.validate(nulls)
    validator.validate({**nulls, "top_k": 3, "mode": "dense", "doc_ids": ["a.txt"],
                        "published_after": "2019-01-01"})  # fmt: skip
    for bad in (
        {"query": BOLTON},  # strict mode: every property present
        {**nulls, "extra": 1},
        {**nulls, "mode": "fuzzy"},
        {**nulls, "query": None},
    ):
        assert not validator.is_valid(bad), bad


def test_anthropic_definitions(client: TestClient) -> None:
    tools = client.get("/v1/tools", params={"format": "anthropic"}).json()
    assert [t["name"] for t in tools] == ["search", "fetch"]
    for tool in tools:
        assert set(tool) == {"name", "description", "input_schema"} and tool["description"]
        schema = tool["input_schema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert list(schema["properties"]) == list(MODELS[tool["name"]].model_fields)
    search = jsonschema.Draft202012Validator(tools[0]["input_schema"])
    search.validate({"query": BOLTON})
    assert not search.is_valid({"query": BOLTON, "top_k": 0})
    assert client.get("/v1/tools", params={"format": "gemini"}).status_code == 422


def test_search_then_fetch_round_trip(client: TestClient) -> None:
    arguments = {"query": BOLTON, "top_k": None, "mode": None, "doc_ids": None, "max_chars": None,
                 "published_after": None, "published_before": None}  # fmt: skip
    jsonschema.validate(arguments, client.get("/v1/tools").json()[0]["function"]["parameters"])
    response = client.post("/v1/tools/search", json=arguments)
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["query"] == BOLTON and found["answerable"] is True
    assert any(BOLTON_ANSWER in r["text"] for r in found["results"][:3])
    assert len(found["context"]) <= 8000
    for r in found["results"]:
        span = f"{r['doc_id']}:{r['char_start']}-{r['char_end']}"
        fetched = client.post("/v1/tools/fetch", json={"id": span})
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["text"] == r["text"] and fetched.json()["id"] == span
        # Seeds have no source URL: results point at the document's view on this server.
        assert client.get(r["url"]).json()["doc_id"] == r["doc_id"]
        assert fetched.json()["url"] == r["url"]
        hl = r["highlight"]
        spot = f"{r['doc_id']}:{hl['char_start']}-{hl['char_end']}"
        assert client.post("/v1/tools/fetch", json={"id": spot}).json()["text"] == hl["text"]


def test_fetch_of_a_whole_document(client: TestClient) -> None:
    doc_id = "003_1ef814ca7a936dba.txt"
    fetched = client.post("/v1/tools/fetch", json={"id": doc_id}).json()
    document = client.get(f"/v1/documents/{doc_id}").json()
    assert fetched["text"] == document["text"] and fetched["title"] == document["title"]


def test_search_arguments_are_used(client: TestClient) -> None:
    doc_id = "003_1ef814ca7a936dba.txt"
    arguments = {"query": BOLTON, "top_k": 3, "mode": "lexical", "doc_ids": [doc_id],
                 "max_chars": 1500}  # fmt: skip
    found = client.post("/v1/tools/search", json=arguments).json()
    assert found["results"] and {r["doc_id"] for r in found["results"]} == {doc_id}
    assert len(found["context"]) <= 1500


def test_an_unknown_tool_is_a_404(client: TestClient) -> None:
    response = client.post("/v1/tools/delete_everything", json={"query": "x"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and "fetch, search" in error["message"]


@pytest.mark.parametrize(
    ("name", "arguments", "status", "says"),
    [
        ("search", {"query": ""}, 422, "query: String should have at least 1 character"),
        ("search", {}, 422, "query: Field required"),
        ("search", {"query": "x", "top_k": 0}, 422, "top_k"),
        ("search", {"query": "x", "top_k": "five"}, 422, "top_k"),
        ("search", {"query": "x", "mode": "fuzzy"}, 422, "mode"),
        ("search", {"query": "x", "topk": 3}, 422, "topk: unknown argument"),
        ("search", {"query": "x", "doc_ids": ["nope.txt"]}, 404, "no document with id 'nope.txt'"),
        ("fetch", {"id": None}, 422, "id: Field required"),
        ("fetch", {"id": "nope.txt"}, 404, "no document with id"),
        ("fetch", {"id": "003_1ef814ca7a936dba.txt:0-999999"}, 404, "is not inside"),
    ],
)
def test_bad_arguments_get_a_clear_4xx(
    client: TestClient, name: str, arguments: dict[str, Any], status: int, says: str
) -> None:
    response = client.post(f"/v1/tools/{name}", json=arguments)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]["message"]


def test_arguments_must_be_a_json_object(client: TestClient) -> None:
    assert client.post("/v1/tools/search", json=["x"]).status_code == 422
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/v1/tools/search", content="query=x", headers=form).status_code == 415


def test_tools_need_the_api_key_when_one_is_set(
    seeded_dir: Path, model: SentenceTransformerEmbedder
) -> None:
    app = create_app(Settings(data_dir=seeded_dir, api_key="s3cret"), embedder=model)
    with TestClient(app) as client:
        ready(client)
        assert client.get("/v1/tools").status_code == 401
        assert client.post("/v1/tools/search", json={"query": BOLTON}).status_code == 401
        key = {"X-API-Key": "s3cret"}
        assert client.get("/v1/tools", headers=key).status_code == 200
        ok = client.post("/v1/tools/search", json={"query": BOLTON}, headers=key)
        assert ok.status_code == 200


def test_every_operation_description_fits_a_gpt_action(client: TestClient) -> None:
    """GPT Actions cut (or refuse) operation descriptions over 300 characters."""
    paths = client.get("/openapi.json").json()["paths"]
    operations = [(m, p, op) for p, ops in paths.items() for m, op in ops.items()]
    assert len(operations) >= 13
    for method, path, op in operations:
        for key in ("summary", "description"):
            assert len(op.get(key, "")) <= 300, f"{method.upper()} {path} {key}: {op[key]!r}"
