"""citeqa over Milvus with real processes: a `milvus-lite server`, `citeqa migrate`, two
`citeqa serve` sharing one Milvus, and Milvus Lite refusing a second process.

What these prove cannot be seen in one process: that the index really lives in Milvus (a
second server with its own data dir sees a write the first made), and that the one-process
limit of a Milvus Lite ``.db`` is reported as something a person can act on.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BOLTON, BOLTON_ANSWER, SEEDS
from tests.live import citeqa, free_port, serving, wait_until

pytestmark = pytest.mark.e2e

PREFIX = "twoservers"
MEMO = "memo-7.txt"
MEMO_TEXT = (
    "Harbour office memo. The quartermaster of the Halvorsen lighthouse counted four hundred "
    "and seventeen brass lanterns in the north storeroom on the ninth of March. "
    "Nobody has asked for them since the foghorn was replaced."
)
MEMO_QUESTION = "How many brass lanterns did the Halvorsen lighthouse quartermaster count?"
MEMO_SENTENCE = "counted four hundred and seventeen brass lanterns"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus Lite *server*: unlike a ``.db`` path, which one process at a time may open,
    any number of citeqa processes can share it, as they would a real Milvus."""
    home = tmp_path_factory.mktemp("milvus")
    port = free_port()
    log_path = home / "milvus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--data-dir",
             str(home / "citeqa.db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            try:
                wait_until(lambda: _listening(port), 60, lambda: proc.poll() is None, log_path)
            except AssertionError as exc:
                raise RuntimeError(
                    f"milvus-lite server did not start:\n{log_path.read_text()}"
                ) from exc
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr}"
    return done


def _top(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The first result of `citeqa ask --json`."""
    results: list[dict[str, Any]] = json.loads(_ok(done).stdout)["results"]
    assert results, done.stdout
    return results[0]


def _cited(result: dict[str, Any]) -> tuple[str, int, int, str]:
    """What a reader checks: the document, the passage's offsets, the highlighted words."""
    citation = result["citation"]
    return (citation["doc_id"], citation["char_start"], citation["char_end"],
            result["highlight"]["text"])  # fmt: skip


def test_migrate_copies_the_local_index_to_milvus_and_answers_the_same(
    seeded_dir: Path, milvus: str, tmp_path: Path
) -> None:
    """Migration copies vectors, not text to re-embed: the same question must then cite the
    same passage and highlight in Milvus as in the local index it came from."""
    local = tmp_path / "data"
    shutil.copytree(seeded_dir, local)  # migrate only reads, but never risk the shared index
    listed = _ok(citeqa("documents", CITEQA_DATA_DIR=str(local))).stdout.splitlines()
    infos = [json.loads(line) for line in listed]
    documents, passages = len(infos), sum(int(i["passages"]) for i in infos)
    assert documents == 5  # the seeds

    done = _ok(citeqa("migrate", "--to", "milvus", CITEQA_DATA_DIR=str(local),
                      CITEQA_MILVUS_URI=milvus))  # fmt: skip
    assert f"copied {documents} documents, {passages} passages to milvus" in done.stderr

    in_milvus = _top(citeqa("ask", BOLTON, "--json", CITEQA_DATA_DIR=str(local),
                            CITEQA_STORE="milvus", CITEQA_MILVUS_URI=milvus))  # fmt: skip
    in_local = _top(citeqa("ask", BOLTON, "--json", CITEQA_DATA_DIR=str(local)))
    assert _cited(in_milvus) == _cited(in_local)
    assert BOLTON_ANSWER in in_milvus["highlight"]["text"]


def _query(url: str, question: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/v1/query", params={"q": question}, timeout=60)
    response.raise_for_status()
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def _first_is_memo(url: str) -> bool:
    results = _query(url, MEMO_QUESTION)
    return bool(results) and results[0]["citation"]["doc_id"] == MEMO


def _cites_memo(url: str) -> bool:
    return any(r["citation"]["doc_id"] == MEMO for r in _query(url, MEMO_QUESTION))


def test_two_servers_over_one_milvus_see_each_others_writes(milvus: str, tmp_path: Path) -> None:
    """The point of the Milvus store: servers with nothing on disk in common (each has its own
    data dir, for its lock and model cache only) answer from one index, so a document written
    or deleted through one is found or gone through the other within the refresh interval."""
    # its own collections (CITEQA_MILVUS_PREFIX), apart from the migrate test's
    _ok(citeqa("ingest", SEEDS, CITEQA_DATA_DIR=str(tmp_path / "ingest"), CITEQA_STORE="milvus",
               CITEQA_MILVUS_URI=milvus, CITEQA_MILVUS_PREFIX=PREFIX))  # fmt: skip

    def server(name: str) -> AbstractContextManager[str]:
        return serving(tmp_path / name, tmp_path / f"{name}.log", CITEQA_STORE="milvus",
                       CITEQA_MILVUS_URI=milvus, CITEQA_MILVUS_PREFIX=PREFIX)  # fmt: skip

    with server("a") as a, server("b") as b:
        bolton_a, bolton_b = _query(a, BOLTON)[0], _query(b, BOLTON)[0]
        assert _cited(bolton_a) == _cited(bolton_b)
        assert BOLTON_ANSWER in bolton_a["highlight"]["text"]
        assert not _cites_memo(b)

        written = httpx.post(f"{a}/v1/documents", json={"doc_id": MEMO, "text": MEMO_TEXT},
                             timeout=120)  # fmt: skip
        assert written.status_code == 200, written.text
        assert written.json()["documents"][0]["status"] == "added"
        wait_until(lambda: _first_is_memo(b), 15)
        top = _query(b, MEMO_QUESTION)[0]
        stored = httpx.get(f"{b}/v1/documents/{MEMO}", timeout=30).json()
        assert stored["text"] == MEMO_TEXT
        citation, highlight = top["citation"], top["highlight"]
        assert stored["text"][citation["char_start"] : citation["char_end"]] == top["text"]
        assert stored["text"][highlight["char_start"] : highlight["char_end"]] == highlight["text"]
        assert MEMO_SENTENCE in highlight["text"]

        deleted = httpx.delete(f"{b}/v1/documents/{MEMO}", timeout=60)
        assert deleted.status_code == 200, deleted.text
        wait_until(lambda: not _cites_memo(a), 15)
        assert httpx.get(f"{a}/v1/documents/{MEMO}", timeout=30).status_code == 404


def test_milvus_lite_refuses_a_second_process_and_says_what_to_do(tmp_path: Path) -> None:
    """A ``.db`` path is locked by the process that opens it; a second one (here `citeqa ask`
    beside a running server) must get one line that says why and how to share an index (a
    `milvus-lite server`), not a traceback."""
    data, lite = str(tmp_path / "data"), str(tmp_path / "lite.db")
    _ok(citeqa("ingest", SEEDS, CITEQA_DATA_DIR=data, CITEQA_STORE="milvus",
               CITEQA_MILVUS_URI=lite))  # fmt: skip
    with serving(Path(data), tmp_path / "serve.log", CITEQA_STORE="milvus", CITEQA_MILVUS_URI=lite):
        done = citeqa("ask", "anything", CITEQA_DATA_DIR=data, CITEQA_STORE="milvus",
                      CITEQA_MILVUS_URI=lite)  # fmt: skip
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    message = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(message) == 1, done.stderr
    assert "one process" in message[0] and "milvus-lite server" in message[0], done.stderr
