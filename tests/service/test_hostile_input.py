"""Hostile and careless input against a real `citeqa serve`: every answer is a 4xx that says
what to change, never a 500 or a reset connection, and nothing stored becomes unreadable.

The cases come from an adversarial review (issue 24); schemathesis (test_schemathesis.py)
covers the schema's whole input space besides.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOLTON
from tests.live import serving

pytestmark = pytest.mark.e2e
DOC = "memos/memo-7.txt"
TEXT = "The envoy met the oil minister in Caracas on Monday. They agreed on a tanker schedule."
BAD_URLS = ["javascript:alert(4)", " javascript:alert(4)", "JavaScript:alert(4)",
            "java\tscript:alert(4)", "data:text/html,<script>alert(4)</script>",
            "//evil.example/x", "vbscript:msgbox(4)", "https://", "example.org/page",
            "file:///etc/passwd", "https://exa mple.org/"]  # fmt: skip


@pytest.fixture(scope="module")
def server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(seeded_dir, data)
    with serving(data, data.parent / "serve.log", CITEQA_MAX_BODY_BYTES="10000000") as url:
        yield url
    assert "Traceback" not in (data.parent / "serve.log").read_text()


def _post(url: str, body: object, path: str = "/v1/documents") -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60)


def _message(response: httpx.Response) -> str:
    return str(response.json()["error"]["message"])


# -- poison documents: what is stored can always be read back --------------------------------


def _nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [17, 500])
def test_deeply_nested_metadata_is_refused_naming_the_limit(server: str, depth: int) -> None:
    response = _post(server, {"doc_id": "deep", "text": TEXT, "metadata": _nested(depth)})
    assert response.status_code == 422, response.text
    assert "nested deeper than 16 levels" in _message(response)
    assert httpx.get(f"{server}/v1/documents/deep").status_code == 404  # nothing stored


def test_metadata_at_the_limit_is_stored_and_read_back(server: str) -> None:
    metadata = {"tree": _nested(15), "n": 2**53 - 1, "x": 0.1, "list": [1, [2, [3]]]}
    assert (
        _post(server, {"doc_id": "at-limit", "text": TEXT, "metadata": metadata}).status_code == 200
    )
    back = httpx.get(f"{server}/v1/documents/at-limit")
    assert back.status_code == 200 and back.json()["metadata"] == metadata


@pytest.mark.parametrize(
    "raw, says",
    [
        ('{"n": ' + "9" * 5000 + "}", "send it as a string"),
        ('{"n": 9007199254740993}', "2^53 - 1"),
        ('{"n": NaN}', "JSON cannot hold"),
        ('{"n": Infinity}', "JSON cannot hold"),
        ('{"s": "' + "x" * 70_000 + '"}', "65,536"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_metadata_that_does_not_round_trip_is_refused(
    server: str, raw: str, says: str, method: str
) -> None:
    body = f'{{"doc_id": "poison", "text": "{TEXT}", "metadata": {raw}}}'
    path = "/v1/documents" + ("/poison" if method == "PUT" else "")
    response = httpx.request(method, server + path, content=body, timeout=60,
                             headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 422, response.text
    assert says in _message(response)


@pytest.mark.parametrize("path", ["/v1/query", "/v1/context"])
def test_a_huge_integer_in_a_question_body_is_a_422(server: str, path: str) -> None:
    body = '{"question": "oil", "top_k": ' + "9" * 5000 + "}"
    response = httpx.post(server + path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


# -- dead-end uploads: the 413 reaches the client ------------------------------------------


def _send_whole_then_read(url: str, head: bytes, parts: Iterator[bytes]) -> bytes:
    """What a simple client does: send the whole request, then read the answer. A server
    that answers and closes while bytes are still coming makes the kernel reset the
    connection, and such a client never sees the answer (httpx happens to read it anyway)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head)
        for part in parts:
            sock.sendall(part)  # ConnectionResetError / BrokenPipeError here before the fix
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _answer_json(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_body_over_the_limit_gets_the_413_not_a_reset(server: str) -> None:
    size = 50_000_000
    head = (b"POST /v1/documents HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % size)  # fmt: skip
    answer = _send_whole_then_read(
        server, head, (b"x" * 1_000_000 for _ in range(size // 1_000_000))
    )
    status, body = _answer_json(answer)
    assert status == 413
    message = str(body["error"]["message"])  # type: ignore[index]
    assert "larger than 10,000,000 bytes" in message and "CITEQA_MAX_BODY_BYTES" in message


def test_a_chunked_body_over_the_limit_gets_the_413_not_a_reset(server: str) -> None:
    head = (b"POST /v1/documents HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip

    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b"%x\r\n%s\r\n" % (1_000_000, b"x" * 1_000_000)
        yield b"0\r\n\r\n"

    status, body = _answer_json(_send_whole_then_read(server, head, chunks()))
    assert status == 413
    assert "CITEQA_MAX_BODY_BYTES" in str(body["error"]["message"])  # type: ignore[index]


def test_httpx_gets_the_413_too(server: str) -> None:
    response = httpx.post(f"{server}/v1/documents", content=b"x" * 12_000_000, timeout=120,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413 and "CITEQA_MAX_BODY_BYTES" in _message(response)


# -- urls: only absolute http(s) links are stored or handed on ----------------------------


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_url_that_is_not_absolute_http_is_refused(server: str, url: str) -> None:
    response = _post(server, {"doc_id": "linked", "text": TEXT, "url": url})
    assert response.status_code == 422, response.text
    assert "url" in _message(response)
    put = httpx.put(f"{server}/v1/documents/linked", json={"text": TEXT, "url": url})
    assert put.status_code == 422


def test_an_http_url_is_kept_and_cited(server: str) -> None:
    url = "https://example.org/news/envoy?id=7#top"
    assert _post(server, {"doc_id": "linked-ok", "text": TEXT, "url": url}).status_code == 200
    hits = httpx.post(f"{server}/v1/query", json={"question": "tanker schedule envoy",
                      "filters": {"doc_ids": ["linked-ok"]}}).json()["results"]  # fmt: skip
    assert hits and hits[0]["citation"]["url"] == url


def test_unsafe_urls_stored_before_the_check_never_go_out(seeded_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    with sqlite3.connect(
        data / "citeqa.sqlite3"
    ) as db:  # an index written before urls were checked
        db.execute("UPDATE documents SET url = 'java\tscript:alert(4)'")
    with serving(data, tmp_path / "serve.log") as url:
        bodies = [
            httpx.get(f"{url}/v1/query", params={"q": BOLTON}).text,
            httpx.get(f"{url}/v1/context", params={"q": BOLTON}).text,
            httpx.get(f"{url}/v1/documents").text,
            httpx.post(f"{url}/v1/tools/search", json={"query": BOLTON}).text,
        ]
        doc = httpx.get(f"{url}/v1/documents").json()["documents"][0]["doc_id"]
        bodies.append(httpx.get(f"{url}/v1/documents/{doc}").text)
        bodies.append(httpx.post(f"{url}/v1/tools/fetch", json={"id": doc}).text)
    for body in bodies:
        assert "script:" not in json.loads(body).__repr__()


# -- PUT takes the POST body; ids that spoof are refused ----------------------------------


def test_put_accepts_the_post_body_with_the_same_doc_id(server: str) -> None:
    body = {"doc_id": DOC, "text": TEXT, "title": "Memo 7"}
    assert _post(server, body).status_code == 200
    same = httpx.put(f"{server}/v1/documents/{DOC}", json=body)
    assert same.status_code == 200 and same.json()["documents"][0]["status"] == "unchanged"
    other = httpx.put(f"{server}/v1/documents/{DOC}", json={**body, "doc_id": "memo-8.txt"})
    assert other.status_code == 422
    assert "'memo-8.txt' differs from the path's 'memos/memo-7.txt'" in _message(other)


@pytest.mark.parametrize(
    "char, name",
    [("\u202e", "RIGHT-TO-LEFT OVERRIDE"), ("\u200b", "ZERO WIDTH SPACE"),
     ("\u2066", "LEFT-TO-RIGHT ISOLATE"), ("\ufeff", "ZERO WIDTH NO-BREAK SPACE")],
)  # fmt: skip
def test_ids_with_invisible_characters_are_refused_naming_them(
    server: str, char: str, name: str
) -> None:
    doc_id = f"report{char}txt.exe"
    for response in (
        _post(server, {"doc_id": doc_id, "text": TEXT}),
        httpx.put(f"{server}/v1/documents/{doc_id}", json={"text": TEXT}),
        httpx.post(f"{server}/v1/documents", files={"files": (doc_id, TEXT.encode())}),
    ):
        assert response.status_code == 422, response.text
        assert f"U+{ord(char):04X} ({name}) at character 6" in _message(response)
