"""service.client against a real `citeqa serve`, and its retry and error logic through httpx's
MockTransport seam."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.client import (
    AsyncClient,
    BadRequest,
    CiteqaHTTPError,
    Client,
    NotFound,
    Unauthorized,
    Unavailable,
    document_path,
    retry_delay,
)
from service.schemas import ContextResponse, DocumentList, DocumentOut, QueryResponse
from service.tools import FetchOut, SearchOut
from tests.conftest import BOLTON, BOLTON_ANSWER, ROOT, SEEDS
from tests.live import citeqa, serving

KEY = "client-test-key"
BOLTON_DOC = "002_97bb957da4f5db3c.txt"
README = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("client-server") / "server.log"
    with serving(seeded_dir, log, CITEQA_API_KEY=KEY) as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[Client]:
    with Client(server, KEY) as client:
        yield client


# -- against a real server ------------------------------------------------------------


@pytest.mark.e2e
def test_query_returns_the_servers_own_model(client: Client) -> None:
    answer = client.query(BOLTON, top_k=3)
    assert isinstance(answer, QueryResponse)
    assert answer.answerable and answer.mode == "hybrid" and len(answer.results) == 3
    assert BOLTON_ANSWER in answer.results[0].text
    assert [r.citation.label for r in answer.results] == ["[1]", "[2]", "[3]"]
    lexical = client.query(BOLTON, top_k=2, mode="lexical", filters={"doc_ids": [BOLTON_DOC]})
    assert lexical.mode == "lexical"
    assert {r.citation.doc_id for r in lexical.results} == {BOLTON_DOC}


@pytest.mark.e2e
def test_documents_and_document_give_the_cited_text(client: Client) -> None:
    listed = client.documents()
    assert isinstance(listed, DocumentList)
    assert len(listed.documents) == len(list(SEEDS.glob("*.txt")))
    assert BOLTON_DOC in {d.doc_id for d in listed.documents}
    document = client.document(BOLTON_DOC)
    assert isinstance(document, DocumentOut)
    for result in client.query(BOLTON).results:
        citation = result.citation
        if citation.doc_id == BOLTON_DOC:
            assert document.text[citation.char_start : citation.char_end] == result.text


@pytest.mark.e2e
def test_context_blocks_are_labelled_and_cite_exact_text(client: Client) -> None:
    packed = client.context(BOLTON, max_chars=1500, top_k=5)
    assert isinstance(packed, ContextResponse)
    assert packed.answerable and packed.context.startswith("[1] ")
    assert len(packed.context) <= 1500 and packed.citations
    assert BOLTON_ANSWER in packed.context
    for citation in packed.citations:
        text = client.document(citation.doc_id).text[citation.char_start : citation.char_end]
        assert f"{citation.label} " in packed.context and text in packed.context


@pytest.mark.e2e
def test_tools_search_and_fetch_round_trip(client: Client) -> None:
    names = [tool["function"]["name"] for tool in client.tools()]
    assert names == ["search", "fetch"]
    assert {tool["name"] for tool in client.tools("anthropic")} == {"search", "fetch"}
    found = client.search(BOLTON, top_k=3)
    assert isinstance(found, SearchOut) and BOLTON_ANSWER in found.context
    for hit in found.results:
        span = client.fetch(f"{hit.doc_id}:{hit.char_start}-{hit.char_end}")
        assert isinstance(span, FetchOut) and span.text == hit.text


@pytest.mark.e2e
def test_errors_are_typed_and_carry_the_servers_message(client: Client, server: str) -> None:
    with pytest.raises(NotFound) as missing:
        client.document("memos/no such memo.txt")
    assert missing.value.status == 404 and missing.value.code == "not_found"
    assert "'memos/no such memo.txt'" in missing.value.message  # the id arrived whole
    with pytest.raises(BadRequest) as bad:
        client.query(BOLTON, top_k=99)
    assert bad.value.status == 422 and "top_k" in bad.value.message
    with pytest.raises(BadRequest, match="doc_ids"):
        client.query(BOLTON, filters={"doc_ids": ["nope.txt"]})
    with pytest.raises(NotFound, match="nope.txt"):
        client.fetch("nope.txt")
    with Client(server, "wrong-key") as wrong, pytest.raises(Unauthorized) as denied:
        wrong.documents()
    assert denied.value.status == 401 and "API key" in denied.value.message
    assert isinstance(denied.value, CiteqaHTTPError) and "HTTP 401" in str(denied.value)


@pytest.mark.e2e
def test_url_and_key_come_from_the_environment(server: str) -> None:
    with Client(environ={"CITEQA_URL": server + "/", "CITEQA_API_KEY": KEY}) as client:
        assert client.base_url == server
        assert client.documents().documents


@pytest.mark.e2e
def test_the_readme_snippet_prints_what_the_readme_shows(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    region = re.search(r"<!-- client-snippet -->\n(.*?)<!-- /client-snippet -->", README, re.S)
    assert region, "README.md has no <!-- client-snippet --> block"
    code, shown = re.findall(r"^```[a-z]*\n(.*?)^```", region[1], re.S | re.M)
    monkeypatch.setenv("CITEQA_URL", server)
    monkeypatch.setenv("CITEQA_API_KEY", KEY)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out == shown, "update the output under the snippet in README.md"


@pytest.mark.e2e
def test_async_client_gives_the_same_answers(client: Client, server: str) -> None:
    async def ask() -> tuple[QueryResponse, ContextResponse, DocumentOut]:
        async with AsyncClient(server, KEY) as citeqa:
            return await asyncio.gather(
                citeqa.query(BOLTON, top_k=3),
                citeqa.context(BOLTON),
                citeqa.document(BOLTON_DOC),
            )

    answer, packed, document = asyncio.run(ask())
    expected = client.query(BOLTON, top_k=3)
    assert [r.citation for r in answer.results] == [r.citation for r in expected.results]
    assert packed == client.context(BOLTON) and document == client.document(BOLTON_DOC)


class Recording(httpx.HTTPTransport):
    """The real network, noting each status the server answered."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


@pytest.mark.e2e
def test_retries_while_the_server_is_not_ready_then_answers(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    (docs / "memos").mkdir()
    (docs / "memos" / "memo 7.txt").write_text("The envoy met the oil minister on Monday.\n")
    data, staging = tmp_path / "data", tmp_path / "staging"
    ingested: list[subprocess.CompletedProcess[str]] = []

    def build_index() -> None:
        # Built aside and moved in whole: a server watching a data dir that a first ingest is
        # still filling reports ready with an empty index, which would race this test.
        ingested.append(citeqa("ingest", docs, "--data-dir", staging))
        staging.rename(data)

    with serving(data, tmp_path / "server.log", ready=False) as url:
        with Client(url, retry_wait=0.5) as impatient, pytest.raises(Unavailable) as unready:
            impatient.documents()
        assert unready.value.status == 503 and "index" in unready.value.message
        builder = threading.Thread(target=build_index)
        builder.start()
        try:
            recording = Recording()
            with Client(url, retry_wait=240, transport=recording) as patient:
                answer = patient.query(BOLTON, top_k=3)
                memo = patient.document("memos/memo 7.txt")
        finally:
            builder.join(timeout=300)
    assert ingested[0].returncode == 0, ingested[0].stderr
    assert recording.statuses[0] == 503 and recording.statuses[-2:] == [200, 200]
    assert set(recording.statuses[:-2]) == {503}  # the query retried, then both answered
    assert BOLTON_ANSWER in answer.results[0].text
    assert memo.doc_id == "memos/memo 7.txt" and memo.text.startswith("The envoy")


# -- retry and error logic, through MockTransport ---------------------------------------


def test_retry_delays_double_up_to_the_cap_and_the_budget() -> None:
    assert [retry_delay(n, 0.25, 2.0, 100) for n in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert retry_delay(3, 0.25, 2.0, 0.1) == 0.1
    assert retry_delay(0, 0.25, 2.0, -1.0) == 0.0


@pytest.mark.parametrize(
    ("doc_id", "path"),
    [
        ("a.txt", "/v1/documents/a.txt"),
        ("memos/memo 7.txt", "/v1/documents/memos/memo%207.txt"),
        ("q?x#y%.txt", "/v1/documents/q%3Fx%23y%25.txt"),
        ("a/../b.txt", "/v1/documents/a/%2E%2E/b.txt"),
        ("./b.txt", "/v1/documents/%2E/b.txt"),
        ("café.txt", "/v1/documents/caf%C3%A9.txt"),
    ],
)
def test_document_path_quotes_but_keeps_slashes(doc_id: str, path: str) -> None:
    assert document_path(doc_id) == path
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "x"}})

    with Client("http://citeqa", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(NotFound):
            client.document(doc_id)
    assert sent == [path]  # httpx sends it as built: no dot segment folded away


def _loading_then(final: httpx.Response, loading: int) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        if len(seen) <= loading:
            body = {"error": {"code": "index_unavailable", "message": "still loading"}}
            return httpx.Response(503, json=body)
        return final

    return httpx.MockTransport(handler), seen


def test_503_is_retried_until_the_answer_and_sends_the_key_each_time() -> None:
    transport, seen = _loading_then(httpx.Response(200, json={"documents": []}), loading=3)
    with Client("http://citeqa", "k", transport=transport, backoff=0.001) as client:
        assert client.documents() == DocumentList(documents=[])
    assert seen == ["Bearer k"] * 4


def test_503_past_the_budget_is_unavailable_with_the_message() -> None:
    transport, seen = _loading_then(httpx.Response(200, json={"documents": []}), loading=10**6)
    with Client("http://citeqa", transport=transport, retry_wait=0.05, backoff=0.01) as client:
        with pytest.raises(Unavailable, match="still loading") as err:
            client.documents()
    assert err.value.code == "index_unavailable" and 2 <= len(seen) <= 10
    transport, seen = _loading_then(httpx.Response(200), loading=10**6)
    with Client("http://citeqa", transport=transport, retry_wait=0) as client:
        with pytest.raises(Unavailable):
            client.documents()
    assert len(seen) == 1  # retry_wait=0: no retry


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequest), (403, Unauthorized), (413, BadRequest), (500, CiteqaHTTPError)],
)
def test_other_statuses_and_non_json_bodies(status: int, kind: type[CiteqaHTTPError]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text="proxy says no"))
    with Client("http://citeqa", transport=transport) as client:
        with pytest.raises(kind) as err:
            client.documents()
    assert type(err.value) is kind
    assert err.value.status == status and err.value.message == "proxy says no"


def test_async_client_retries_503_too() -> None:
    answered = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        answered += 1
        if answered < 3:
            return httpx.Response(503, json={"error": {"code": "x", "message": "loading"}})
        return httpx.Response(200, json={"documents": []})

    async def run() -> DocumentList:
        transport = httpx.MockTransport(handler)
        async with AsyncClient("http://citeqa", transport=transport, backoff=0.001) as client:
            return await client.documents()

    assert asyncio.run(run()).documents == [] and answered == 3


def test_without_a_url_the_client_uses_the_local_default() -> None:
    client = Client(environ={})
    assert client.base_url == "http://127.0.0.1:8000" and "Authorization" not in client.headers
    client.close()
