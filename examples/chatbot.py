"""A chatbot that answers from your documents and cites them, over any OpenAI-compatible API.

The model gets citeqa's `search` and `fetch` tools (their definitions come from
``GET /v1/tools?format=openai``); every call it makes runs on citeqa
(``POST /v1/tools/{name}``), and what comes back, labelled evidence with exact
character spans, goes back to the model until it answers. The answer is printed
followed by the sources it cites::

    export OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_MODEL=gpt-4o-mini OPENAI_API_KEY=sk-...
    export CITEQA_URL=http://127.0.0.1:8000      # and CITEQA_API_KEY when the server has one
    python examples/chatbot.py "What did Bolton say about the talks?"
    python examples/chatbot.py                   # a conversation: one question a line, Ctrl-D ends

Any endpoint that speaks Chat Completions with tools works (OpenAI, Azure OpenAI, vLLM,
Ollama, llama.cpp's server, LiteLLM, ...). Only httpx is needed, no SDK, so the file can be
copied into another project as it is.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

SYSTEM = (
    "You answer questions from the user's documents, which you can only read through the "
    "`search` and `fetch` tools. Search before answering. Answer only from the passages the "
    "tools return and cite each claim with the passage's label, like [1] or [2]. If the "
    "passages do not contain the answer, say that the documents do not say."
)
MAX_ROUNDS = 8  # model turns a question may take before we give up on a final answer
LABEL_RE = re.compile(r"\[(\d+)\]")


class ChatError(Exception):
    """Something the user must fix (a setting, an endpoint that is down); printed, exit 1."""


@dataclass
class Settings:
    llm_url: str
    model: str
    llm_key: str | None
    citeqa_url: str
    citeqa_key: str | None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        return cls(
            llm_url=env.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/"),
            model=env.get("OPENAI_MODEL", "gpt-4o-mini"),
            llm_key=env.get("OPENAI_API_KEY") or None,
            citeqa_url=env.get("CITEQA_URL", "http://127.0.0.1:8000").rstrip("/"),
            citeqa_key=env.get("CITEQA_API_KEY") or None,
        )


def _bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


@dataclass
class Sources:
    """Every passage the tools returned in this conversation, by the label the model saw.

    A second search numbers its passages again from [1]; they are relabelled to follow the
    ones already shown (a span shown before keeps its label), so a label never means two
    passages."""

    by_label: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, search: dict[str, Any]) -> dict[str, Any]:
        """Register a search result; returns it with labels that are unique so far."""
        results = search["results"]
        if not any(hit["label"] in self.by_label for hit in results):
            self.by_label.update({hit["label"]: hit for hit in results})
            return search
        seen = {_span(hit): label for label, hit in self.by_label.items()}
        relabelled = []
        for hit in results:
            label = seen.get(_span(hit)) or f"[{len(self.by_label) + 1}]"
            relabelled.append({**hit, "label": label})
            self.by_label[label] = relabelled[-1]
        context = "\n\n".join(_block(hit) for hit in relabelled)
        return {**search, "results": relabelled, "context": context}

    def cited(self, answer: str) -> list[dict[str, Any]]:
        """The passages the answer cites, in the order it first cites them."""
        labels = dict.fromkeys(f"[{n}]" for n in LABEL_RE.findall(answer))
        return [self.by_label[label] for label in labels if label in self.by_label]


def _span(hit: dict[str, Any]) -> tuple[str, int, int]:
    return hit["doc_id"], hit["char_start"], hit["char_end"]


def _block(hit: dict[str, Any]) -> str:
    """A block as citeqa renders it in `context`: label, title, doc_id, span, then the text."""
    name = hit["title"] or hit["doc_id"]
    span = f"chars {hit['char_start']}-{hit['char_end']}"
    return f"{hit['label']} {name} ({hit['doc_id']}, {span})\n{hit['text']}"


class Chat:
    """One conversation: the messages so far, the tools, and the passages seen."""

    def __init__(self, settings: Settings, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http
        self.sources = Sources()
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        self.tools = self._citeqa("GET", "/v1/tools", params={"format": "openai"})

    def ask(self, question: str) -> str:
        """Send the question, run the tool calls the model makes, and return its answer."""
        self.messages.append({"role": "user", "content": question})
        for _ in range(MAX_ROUNDS):
            message = self._complete()
            self.messages.append(message)
            calls = message.get("tool_calls") or []
            if not calls:
                return str(message.get("content") or "")
            for call in calls:
                content = self._run_tool(call["function"]["name"], call["function"]["arguments"])
                self.messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": content}
                )
        raise ChatError(f"the model made tool calls for {MAX_ROUNDS} rounds without answering")

    def _complete(self) -> dict[str, Any]:
        body = {"model": self.settings.model, "messages": self.messages, "tools": self.tools}
        url = f"{self.settings.llm_url}/chat/completions"
        response = _send(self.http, "POST", url, _bearer(self.settings.llm_key), json=body)
        if response.is_error:
            raise ChatError(f"the model endpoint answered {response.status_code}: {response.text}")
        message: dict[str, Any] = response.json()["choices"][0]["message"]
        return message

    def _run_tool(self, name: str, arguments: str) -> str:
        """The tool message for one call: evidence and its citations, or the error to fix."""
        try:
            args = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            return f"error: the arguments are not JSON ({exc}); send a JSON object"
        url = f"{self.settings.citeqa_url}/v1/tools/{name}"
        response = _send(self.http, "POST", url, _bearer(self.settings.citeqa_key), json=args)
        if 400 <= response.status_code < 500:  # the model's mistake: tell it, let it retry
            return f"error: {_error_message(response)}"
        if response.is_error:
            raise ChatError(f"citeqa answered {response.status_code}: {_error_message(response)}")
        result = response.json()
        if name == "search":
            return _search_message(self.sources.add(result))
        return f"{result['id']} ({result['title'] or 'untitled'})\n{result['text']}"

    def _citeqa(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.settings.citeqa_url}{path}"
        response = _send(self.http, method, url, _bearer(self.settings.citeqa_key), **kwargs)
        if response.is_error:
            raise ChatError(f"citeqa answered {response.status_code}: {_error_message(response)}")
        return response.json()


def _send(
    http: httpx.Client, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> httpx.Response:
    try:
        return http.request(method, url, headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise ChatError(f"cannot reach {url}: {exc!r}") from None


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text


def _search_message(search: dict[str, Any]) -> str:
    """What the model reads: the packed evidence, then its citations as JSON."""
    keys = ("label", "doc_id", "title", "url", "char_start", "char_end")
    citations = [{key: hit[key] for key in keys} for hit in search["results"]]
    if not citations:
        return "No passages found. answerable: false"
    return (
        f"{search['context']}\n\nanswerable: {json.dumps(search['answerable'])}"
        f"\ncitations: {json.dumps(citations, ensure_ascii=False)}"
    )


def render_sources(cited: list[dict[str, Any]]) -> str:
    if not cited:
        return "Sources: none cited"
    lines = ["Sources:"]
    for hit in cited:
        where = f"{hit['doc_id']}, chars {hit['char_start']}-{hit['char_end']}"
        lines.append(f"  {hit['label']} {hit['title'] or hit['doc_id']} ({where})")
        if hit.get("url"):
            lines.append(f"      {hit['url']}")
    return "\n".join(lines)


def answer(chat: Chat, question: str) -> str:
    reply = chat.ask(question)
    return f"{reply}\n\n{render_sources(chat.sources.cited(reply))}"


def _questions() -> Iterator[str]:
    """Lines from stdin, with a prompt when a person is typing them."""
    prompt = "question> " if sys.stdin.isatty() else ""
    while True:
        try:
            line = input(prompt).strip()
        except EOFError:
            return
        if line:
            yield line


def main(argv: list[str]) -> int:
    settings = Settings.from_env(dict(os.environ))
    with httpx.Client(timeout=120) as http:
        try:
            chat = Chat(settings, http)
            if argv:
                print(answer(chat, " ".join(argv)))
                return 0
            for question in _questions():  # one conversation: the model keeps what was said
                print(answer(chat, question), end="\n\n", flush=True)
        except ChatError as exc:
            print(f"chatbot: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
