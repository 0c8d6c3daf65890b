"""The MCP server: in-process through the SDK's client, over stdio as `citeqa mcp`, and over
Streamable HTTP at /mcp of a real `citeqa serve` (with and without the API key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from index import IndexStateError, SentenceTransformerEmbedder
from service.app import create_app
from service.lifecycle import EngineSlot
from service.mcp import CiteqaMCP, FollowedEngine
from service.settings import Settings
from service.tools import ANSWERABLE_NOTE
from tests.conftest import BOLTON, BOLTON_ANSWER
from tests.live import CLI, cli_env, serving

pytestmark = pytest.mark.model
DOC = "002_97bb957da4f5db3c.txt"  # the Bolton article


def run(client: Client, check: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        async with client:
            await check(client)

    _unwrapped(main)


def _unwrapped(main: Callable[[], Awaitable[None]]) -> None:
    try:
        anyio.run(main)
    except BaseExceptionGroup as group:  # the client's task groups wrap what went wrong
        inner: BaseException = group
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        raise inner from None


@pytest.fixture
def server(seeded_dir: Path, model: SentenceTransformerEmbedder) -> CiteqaMCP:
    config = Settings(data_dir=seeded_dir, public_url="https://qa.example.org")
    return CiteqaMCP(FollowedEngine(config, model), config.base_url)


def test_tools_listed_with_schemas_and_annotations(server: CiteqaMCP) -> None:
    async def check(client: Client) -> None:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {"search", "fetch", "list_documents"}
        for tool in tools.values():
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint is True
            assert tool.annotations.open_world_hint is False
        search = tools["search"]
        assert ANSWERABLE_NOTE in (search.description or "")
        props = search.input_schema["properties"]
        assert list(props) == ["query", "top_k", "mode", "doc_ids", "max_chars"]
        assert search.input_schema["required"] == ["query"]
        assert props["top_k"]["default"] == 5 and props["max_chars"]["default"] == 8000
        assert props["mode"]["enum"] == ["hybrid", "dense", "lexical"]
        assert search.output_schema is not None
        out = search.output_schema["properties"]
        assert {"query", "answerable", "truncated", "results", "context"} <= set(out)
        assert out["answerable"]["description"] == ANSWERABLE_NOTE
        assert tools["fetch"].input_schema["required"] == ["id"]
        assert tools["fetch"].output_schema is not None
        assert "doc_id:start-end" in (tools["fetch"].description or "")

    run(Client(server), check)


def test_search_finds_bolton_and_every_result_is_its_fetched_span(server: CiteqaMCP) -> None:
    async def check(client: Client) -> None:
        result = await client.call_tool("search", {"query": BOLTON})
        assert not result.is_error
        out = result.structured_content
        assert out is not None and out["answerable"] is True
        hits = out["results"]
        assert any(BOLTON_ANSWER in hit["text"] for hit in hits[:3])
        assert [hit["label"] for hit in hits] == [f"[{n}]" for n in range(1, len(hits) + 1)]
        # One text block for clients that show the model only `content`.
        [block] = result.content
        assert block.type == "text"
        assert block.text.startswith(f"[1] {hits[0]['title'] or hits[0]['doc_id']}")
        assert f"chars {hits[0]['char_start']}-{hits[0]['char_end']}" in block.text
        assert block.text.endswith("truncated: false")
        assert "\nanswerable: true" in block.text
        for hit in hits:
            # No source URL in the seeds: the document's view on this server instead.
            assert hit["url"] == f"https://qa.example.org/v1/documents/{hit['doc_id']}"
            span = f"{hit['doc_id']}:{hit['char_start']}-{hit['char_end']}"
            fetched = await client.call_tool("fetch", {"id": span})
            assert not fetched.is_error and fetched.structured_content is not None
            assert fetched.structured_content["text"] == hit["text"]
            assert fetched.structured_content["url"] == hit["url"]
            highlight = hit["highlight"]
            assert highlight["text"] in hit["text"]

    run(Client(server), check)


def test_search_budget_and_filter(server: CiteqaMCP) -> None:
    async def check(client: Client) -> None:
        args = {"query": BOLTON, "top_k": 10, "max_chars": 1200, "doc_ids": [DOC]}
        out = (await client.call_tool("search", args)).structured_content
        assert out is not None
        assert len(out["context"]) <= 1200 and out["truncated"] is True
        assert out["results"] and {hit["doc_id"] for hit in out["results"]} == {DOC}

    run(Client(server), check)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)  # the server is stateless
@given(
    max_chars=st.integers(200, 6000),
    top_k=st.integers(1, 20),
    query=st.sampled_from([BOLTON, "Who is Maduro?", "Nobel prize", "oil exports"]),
)
def test_search_never_exceeds_its_budget(
    server: CiteqaMCP, max_chars: int, top_k: int, query: str
) -> None:
    async def check(client: Client) -> None:
        args = {"query": query, "top_k": top_k, "max_chars": max_chars}
        result = await client.call_tool("search", args)
        out = result.structured_content
        assert out is not None and len(out["context"]) <= max_chars
        assert len(out["results"]) <= top_k
        for hit in out["results"]:
            assert f"{hit['label']} " in out["context"] and hit["text"] in out["context"]
        assert result.content[0].text.startswith(out["context"] or "No passages found.")  # type: ignore[union-attr]

    run(Client(server), check)


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        ("search", {"query": BOLTON, "doc_ids": ["002_97bb957da4f5db3c"]},
         f"no document with id '002_97bb957da4f5db3c' (did you mean '{DOC}'?)"),
        ("fetch", {"id": "002_97bb957da4f5db3c"}, f"did you mean '{DOC}'?"),
        ("search", {"query": "   "}, "the question is empty; send 1 to 2000 characters"),
        ("search", {"query": ""}, "the question is empty; send 1 to 2000 characters"),
        ("fetch", {"id": f"{DOC}:2001-99999"}, f"span 2001-99999 is not inside '{DOC}'"),
        ("search", {"query": BOLTON, "top_k": 0}, "top_k"),
    ],
)  # fmt: skip
def test_errors_are_tool_errors_with_the_api_messages(
    server: CiteqaMCP, tool: str, args: dict[str, Any], message: str
) -> None:
    async def check(client: Client) -> None:
        result = await client.call_tool(tool, args)
        assert result.is_error
        assert message in result.content[0].text  # type: ignore[union-attr]
        # The session survives: the next call answers.
        assert not (await client.call_tool("list_documents", {})).is_error

    run(Client(server), check)


def test_documents_listed_and_each_a_resource(server: CiteqaMCP) -> None:
    async def check(client: Client) -> None:
        listed = (await client.call_tool("list_documents", {})).structured_content
        assert listed is not None
        ids = [doc["doc_id"] for doc in listed["documents"]]
        assert DOC in ids and len(ids) == 5
        resources = (await client.list_resources()).resources
        assert [str(r.uri) for r in resources] == [f"citeqa://documents/{i}" for i in ids]
        with pytest.raises(MCPError, match=f"did you mean '{DOC}'"):
            await client.read_resource("citeqa://documents/002_97bb957da4f5db3c")
        read = await client.read_resource(f"citeqa://documents/{DOC}")
        text = read.contents[0].text  # type: ignore[union-attr]
        assert BOLTON_ANSWER in text
        fetched = await client.call_tool("fetch", {"id": DOC})
        assert fetched.structured_content is not None
        assert fetched.structured_content["text"] == text

    run(Client(server), check)


def test_loading_index_is_a_tool_error_not_a_crash(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    app.state.slot = EngineSlot()  # as the lifespan sets it, before the index has loaded

    async def check(client: Client) -> None:
        result = await client.call_tool("search", {"query": BOLTON})
        assert result.is_error
        assert "the index is still loading; retry in a few seconds" in result.content[0].text  # type: ignore[union-attr]
        assert (await client.list_resources()).resources == []
        with pytest.raises(MCPError, match="still loading"):
            await client.read_resource(f"citeqa://documents/{DOC}")

    run(Client(app.state.mcp.server), check)


def test_no_index_yet_is_a_tool_error(tmp_path: Path, model: SentenceTransformerEmbedder) -> None:
    engine = FollowedEngine(Settings(data_dir=tmp_path / "none"), model)
    with pytest.raises(IndexStateError, match="the index could not be loaded"):
        engine()


def http_run(url: str, headers: dict[str, str], check: Callable[[Client], Awaitable[None]]) -> None:
    """``run`` over Streamable HTTP with these headers (the SDK leaves its client open)."""

    async def main() -> None:
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                await check(client)

    _unwrapped(main)


def _bolton_check(client: Client) -> Awaitable[None]:
    async def check() -> None:
        result = await client.call_tool("search", {"query": BOLTON, "top_k": 3})
        assert not result.is_error and result.structured_content is not None
        assert any(BOLTON_ANSWER in hit["text"] for hit in result.structured_content["results"])

    return check()


def _urls_check(expected: str | None) -> Callable[[Client], Awaitable[None]]:
    """The seeds have no url of their own: results and fetches carry ``expected``."""

    async def check(client: Client) -> None:
        await _bolton_check(client)
        found = await client.call_tool("search", {"query": BOLTON, "top_k": 2})
        assert found.structured_content is not None
        hits = found.structured_content["results"]
        fetched = await client.call_tool("fetch", {"id": hits[0]["doc_id"]})
        assert fetched.structured_content is not None
        urls = {hit["url"] for hit in hits} | {fetched.structured_content["url"]}
        if expected is None:
            assert urls == {None}  # no dead http://127.0.0.1:8000 link for a chatbot to cite
        else:
            assert all(url and url.startswith(expected + "/v1/documents/") for url in urls)

    return check


@pytest.mark.parametrize("public_url", [None, "https://citeqa.example.org"])
def test_citeqa_mcp_over_stdio(seeded_dir: Path, tmp_path: Path, public_url: str | None) -> None:
    extra = {"CITEQA_PUBLIC_URL": public_url} if public_url else {}
    params = StdioServerParameters(
        command=CLI[0], args=[*CLI[1:], "mcp"],
        env=cli_env(CITEQA_DATA_DIR=str(seeded_dir), **extra),
    )  # fmt: skip
    log_path = tmp_path / "stderr.log"
    with log_path.open("w") as errlog:
        run(Client(stdio_client(params, errlog=errlog)), _urls_check(public_url))
    # Only the protocol went to stdout (else the client could not have parsed it); the
    # model's load notes and our logs went to stderr.
    assert "Traceback" not in log_path.read_text()


@pytest.mark.e2e
def test_streamable_http_behind_the_api_key(seeded_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(seeded_dir, log, CITEQA_API_KEY="reader", CITEQA_ADMIN_KEY="admin") as url:
        endpoint = f"{url}/mcp"
        refused = httpx.post(endpoint, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "missing or wrong API key" in refused.json()["error"]["message"]
        for key in ("reader", "admin"):
            http_run(endpoint, {"Authorization": f"Bearer {key}"}, _bolton_check)
        with pytest.raises(MCPError):  # refused at the door: the 401 above
            http_run(endpoint, {"X-API-Key": "nope"}, _bolton_check)


@pytest.mark.e2e
def test_streamable_http_without_a_key_configured(seeded_dir: Path, tmp_path: Path) -> None:
    with serving(seeded_dir, tmp_path / "serve.log") as url:
        run(Client(f"{url}/mcp"), _bolton_check)
        evil = httpx.post(f"{url}/mcp", headers={"Host": "evil.example"}, json={})
        assert evil.status_code in (400, 421)  # DNS-rebinding protection: not an allowed host
