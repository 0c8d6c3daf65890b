"""A real uvicorn server on a free loopback port, asked through scripts/ask.sh with real curl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from eval.questions import load_questions
from eval.searchers import EngineSearcher
from eval.seed import run_seed_eval
from index import Engine
from service.cli import app
from tests.conftest import BOLTON, BOLTON_ANSWER, ROOT
from tests.live import free_port, serving

QUESTIONS = ROOT / "eval" / "questions.jsonl"

ASK = ROOT / "scripts" / "ask.sh"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl"),
]


@pytest.fixture(scope="module")
def server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # torch, as the in-process engines here: answers compare exactly (the default
    # onnx-int8 runtime is what the other servers in the test suite run)
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(seeded_dir, log, CITEQA_RUNTIME="torch") as url:
        yield url


def ask(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITEQA_URL": url}
    return subprocess.run([str(ASK), *args], env=env, capture_output=True, text=True, timeout=60)


def test_ask_sh_prints_cited_passages(server: str) -> None:
    done = ask(BOLTON, "3", url=server)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert BOLTON_ANSWER in out
    assert "[1] " in out and "[3] " in out and "[4] " not in out
    assert "doc 002_97bb957da4f5db3c.txt" in out and "chars " in out and "»" in out


def test_ask_sh_reports_server_errors(server: str) -> None:
    done = ask(BOLTON, "99", url=server)
    assert done.returncode == 4
    assert "HTTP 422" in done.stderr and "top_k" in done.stderr


def test_ask_sh_says_when_the_server_is_down() -> None:
    done = ask(BOLTON, url=f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 3
    assert "cannot reach citeqa" in done.stderr
    assert ask(url="http://127.0.0.1:1").returncode == 2


def test_json_over_http_with_a_real_server(server: str) -> None:
    body = httpx.post(f"{server}/v1/query", json={"question": BOLTON}, timeout=30).json()
    assert any(BOLTON_ANSWER in r["text"] for r in body["results"][:3])


def test_eval_over_http_scores_exactly_as_in_process(
    server: str, seeded: Engine, tmp_path: Path
) -> None:
    picked = [q for q in load_questions(QUESTIONS) if q.kind in ("who-said", "unanswerable")][:12]
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(q.model_dump_json() for q in picked))
    reports = tmp_path / "reports"
    result = CliRunner().invoke(
        app,
        ["eval", "--url", server, "--questions", str(subset), "--mode", "hybrid",
         "--name", "deployed", "--reports", str(reports)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hybrid" in result.stdout and "hit@1" in result.stdout
    deployed = json.loads((reports / "deployed.json").read_text())["by_mode"]["hybrid"]
    local = run_seed_eval(picked, EngineSearcher(seeded), ["hybrid"]).by_mode["hybrid"]
    assert deployed == pytest.approx(vars(local))
    assert (reports / "deployed.png").read_bytes().startswith(b"\x89PNG")
    assert "| hybrid | 12 |" in (reports / "deployed.md").read_text()


def test_eval_says_when_the_server_is_down(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--url", "http://127.0.0.1:1", "--reports",
                                      str(tmp_path)])  # fmt: skip
    assert result.exit_code == 1 and "cannot reach http://127.0.0.1:1" in result.output
