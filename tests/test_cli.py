from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.conftest import BOLTON, BOLTON_ANSWER, SEEDS

runner = CliRunner()


@pytest.mark.model
def test_ingest_ask_documents_delete(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    first = runner.invoke(app, ["ingest", str(docs), "--data-dir", data])
    assert first.exit_code == 0, first.output
    assert "5 added" in first.output
    again = runner.invoke(app, ["ingest", str(docs), "--data-dir", data])
    assert "5 unchanged" in again.output

    answer = runner.invoke(app, ["ask", BOLTON, "-k", "3", "--data-dir", data])
    assert answer.exit_code == 0, answer.output
    assert BOLTON_ANSWER in answer.output and "[1] " in answer.output

    as_json = runner.invoke(app, ["ask", BOLTON, "--json", "--data-dir", data])
    assert json.loads(as_json.stdout)["results"][0]["citation"]["label"] == "[1]"

    listed = runner.invoke(app, ["documents", "--data-dir", data])
    assert len(listed.stdout.strip().splitlines()) == 5

    assert (
        runner.invoke(app, ["delete", "002_97bb957da4f5db3c.txt", "--data-dir", data]).exit_code
        == 0
    )
    gone = runner.invoke(app, ["delete", "002_97bb957da4f5db3c.txt", "--data-dir", data])
    assert gone.exit_code == 1 and "no document" in gone.output

    asked = ["ask", BOLTON, "-k", "3", "--json", "--data-dir", data]
    before = json.loads(runner.invoke(app, asked).stdout)["results"]
    compacted = runner.invoke(app, ["compact", "--data-dir", data])
    assert compacted.exit_code == 0, compacted.output
    assert re.search(
        r"token segments 1\s+->\s+1\s+\([1-9][\d,]*\s+dead\s+rows\s+dropped\)", compacted.output
    )
    assert json.loads(runner.invoke(app, asked).stdout)["results"] == before


@pytest.mark.model
def test_an_ingest_past_the_exact_limit_trains_once_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEQA_DENSE_FLAT_LIMIT", "40")  # the seeds make about 85 passages
    data = str(tmp_path / "data")
    left = runner.invoke(app, ["ingest", str(SEEDS), "--data-dir", data, "--no-compact"])
    assert left.exit_code == 0 and "training" not in left.output
    trained = runner.invoke(app, ["compact", "--data-dir", data])
    assert re.search(
        r"dense: flat\s+\(exact\),\s+\d+\s+vectors\s+->\s+ivf\s+\(\d+\s+lists\)", trained.output
    )
    other = str(tmp_path / "other")
    once = runner.invoke(app, ["ingest", str(SEEDS), "--data-dir", other, "--batch-size", "2"])
    assert once.exit_code == 0, once.output
    assert once.output.count("training it") == 1 and re.search(r"->\s+ivf\s+\(", once.output)


def test_cli_errors_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    monkeypatch.setenv("CITEQA_PORT", "eighty")
    bad = runner.invoke(app, ["documents", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "CITEQA_PORT" in bad.output


def _help(*command: str) -> str:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    # Undo the table's wrapping: drop its borders and join the words again.
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


@pytest.mark.parametrize(
    ("command", "hints"),
    [
        (
            ("ingest",),
            [
                "[env CITEQA_INGEST_BATCH, 64]",
                "[env CITEQA_DATA_DIR, ./data]",
                "[env CITEQA_MODEL]",
            ],
        ),
        (("serve",), ["[env CITEQA_HOST, 127.0.0.1]", "[env CITEQA_PORT, 8000]"]),
        (("eval",), ["[CITEQA_CHUNK_CHARS]", "[all three]", "[seed; for --beir, NAME-SPLIT]"]),
    ],
)
def test_help_keeps_the_env_and_default_hints(command: tuple[str, ...], hints: list[str]) -> None:
    text = _help(*command)
    for hint in hints:
        assert hint in text


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"citeqa {metadata.version('citeqa')}\n"
    assert "--version" in _help()


def test_the_installed_command_has_version_and_hints() -> None:
    script = Path(sys.executable).with_name("citeqa")
    if not script.exists():
        pytest.skip("citeqa is not installed into this interpreter's bin/")
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("citeqa ")
    env = {**os.environ, "COLUMNS": "200"}
    shown = subprocess.run(
        [script, "ingest", "--help"], capture_output=True, text=True, timeout=120, env=env
    )
    assert "[env CITEQA_DATA_DIR, ./data]" in shown.stdout
