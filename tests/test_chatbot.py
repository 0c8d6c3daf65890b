"""examples/chatbot.py, run as a program, between a scripted stand-in for an LLM endpoint and
a real `citeqa serve` over the seeds."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from service.client import Client
from tests.conftest import BOLTON, BOLTON_ANSWER, ROOT
from tests.live import cli_env, serving

CHATBOT = ROOT / "examples" / "chatbot.py"
KEY = "chatbot-test-key"
LLM_KEY = "sk-scripted"
pytestmark = pytest.mark.e2e


class ScriptedLLM(ThreadingHTTPServer):
    """An OpenAI-compatible /chat/completions that first asks for `search`, then answers by
    quoting the tool message it received. Every request body is kept in ``requests``."""

    def __init__(self, search_args: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.search_args = search_args
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        last = body["messages"][-1]
        if last["role"] == "user":  # a new question: search for it
            args = {**self.search_args, "query": self.search_args["query"] or last["content"]}
            call = {"id": f"call_{len(self.requests)}", "type": "function",
                    "function": {"name": "search", "arguments": json.dumps(args)}}  # fmt: skip
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            message = {"role": "assistant", "content": f"Per [1]: I was given:\n{last['content']}"}
        return {"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedLLM

    def do_POST(self) -> None:  # noqa: N802 (http.server's spelling)
        assert self.path == "/v1/chat/completions", self.path
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append(body)
        self.server.auth.append(self.headers.get("authorization"))
        payload = json.dumps(self.server.reply(body)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


SEARCH_ARGS = {"query": BOLTON, "top_k": 3, "mode": None, "doc_ids": None, "max_chars": None,
               "published_after": None, "published_before": None}  # fmt: skip


@pytest.fixture(scope="module")
def citeqa_url(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("chatbot-server") / "server.log"
    with serving(seeded_dir, log, CITEQA_API_KEY=KEY) as url:
        yield url


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM(SEARCH_ARGS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_chatbot(*args: str, citeqa_url: str, llm_url: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(OPENAI_BASE_URL=llm_url, OPENAI_MODEL="scripted-model", OPENAI_API_KEY=LLM_KEY,
                  CITEQA_URL=citeqa_url, CITEQA_API_KEY=KEY)  # fmt: skip
    return subprocess.run([sys.executable, str(CHATBOT), *args], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_citeqa_evidence_reaches_the_model_and_the_printed_sources(
    citeqa_url: str, llm: ScriptedLLM
) -> None:
    done = run_chatbot(BOLTON, citeqa_url=citeqa_url, llm_url=llm.url)
    assert done.returncode == 0, done.stderr
    with Client(citeqa_url, KEY) as client:
        expected = client.search(BOLTON, top_k=3)
        tools = client.tools("openai")

    first, second = llm.requests
    assert llm.auth == [f"Bearer {LLM_KEY}"] * 2
    assert first["model"] == "scripted-model" and first["tools"] == tools
    assert first["messages"][-1] == {"role": "user", "content": BOLTON}

    # The second request carries the search call and citeqa's real results, with labels.
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "search"
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    content = tool_message["content"]
    assert content.startswith(expected.context) and BOLTON_ANSWER in content
    citations = json.loads(content.split("citations: ", 1)[1])
    assert citations == [
        {"label": h.label, "doc_id": h.doc_id, "title": h.title, "url": h.url,
         "char_start": h.char_start, "char_end": h.char_end}
        for h in expected.results
    ]  # fmt: skip

    # The printed answer is the model's, then the sources it cites, with their spans.
    answer, sources = done.stdout.rsplit("Sources:", 1)
    assert answer.startswith("Per [1]: I was given:") and BOLTON_ANSWER in answer
    cited = [h for h in expected.results if h.label in answer]
    assert cited, answer
    lines = [line.strip() for line in sources.strip().splitlines()]
    wanted = []
    for h in cited:
        wanted.append(
            f"{h.label} {h.title or h.doc_id} ({h.doc_id}, chars {h.char_start}-{h.char_end})"
        )
        wanted += [h.url] if h.url else []
    assert lines == wanted
    top = expected.results[0]
    assert lines[0] == f"[1] {top.title} ({top.doc_id}, chars {top.char_start}-{top.char_end})"
    assert lines[1] == f"{citeqa_url}/v1/documents/{top.doc_id}"  # no source URL: its view here


def test_a_bad_tool_call_goes_back_to_the_model_as_an_error(
    citeqa_url: str, llm: ScriptedLLM
) -> None:
    llm.search_args = {"query": BOLTON, "doc_ids": ["no-such-doc.txt"]}
    done = run_chatbot(BOLTON, citeqa_url=citeqa_url, llm_url=llm.url)
    assert done.returncode == 0, done.stderr
    content = llm.requests[1]["messages"][-1]["content"]
    assert content.startswith("error: no document with id 'no-such-doc.txt'")
    assert done.stdout.rstrip().endswith("Sources: none cited")


def test_an_unreachable_citeqa_is_a_one_line_error(llm: ScriptedLLM) -> None:
    done = run_chatbot(BOLTON, citeqa_url="http://127.0.0.1:9", llm_url=llm.url)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("chatbot: cannot reach http://127.0.0.1:9/v1/tools")
    assert llm.requests == []


def _citations(tool_content: str) -> list[dict[str, Any]]:
    cited: list[dict[str, Any]] = json.loads(tool_content.split("citations: ", 1)[1])
    return cited


def test_a_conversation_keeps_labels_unique_across_searches(
    citeqa_url: str, llm: ScriptedLLM
) -> None:
    llm.search_args = {**SEARCH_ARGS, "query": None}  # search each question as asked
    questions = [BOLTON, "How did Maduro describe the contacts with US officials?"]
    done = subprocess.run(
        [sys.executable, str(CHATBOT)], input="\n".join(questions) + "\n", capture_output=True,
        text=True, timeout=120,
        env=cli_env(OPENAI_BASE_URL=llm.url, CITEQA_URL=citeqa_url, CITEQA_API_KEY=KEY),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Sources:") == 2 and len(llm.requests) == 4
    first = llm.requests[1]["messages"][-1]["content"]
    second = llm.requests[3]["messages"][-1]["content"]
    assert llm.requests[3]["messages"][1]["content"] == BOLTON  # the history went along
    seen = {(c["doc_id"], c["char_start"], c["char_end"]): c["label"] for c in _citations(first)}
    labels = {c["label"] for c in _citations(first)}
    for citation in _citations(second):
        span = (citation["doc_id"], citation["char_start"], citation["char_end"])
        # A span shown before keeps its label; a new one gets a label not used before.
        assert citation["label"] == seen[span] if span in seen else citation["label"] not in labels
        head = f"{citation['label']} {citation['title'] or citation['doc_id']} ({span[0]}, "
        assert head + f"chars {span[1]}-{span[2]})\n" in second
    assert any(c["label"] not in labels for c in _citations(second))
