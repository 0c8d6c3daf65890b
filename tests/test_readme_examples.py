"""The README's sample outputs are what a real server prints today (scripts/readme_examples.py)."""

from __future__ import annotations

import difflib
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from index import SentenceTransformerEmbedder
from tests.conftest import ROOT


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "readme_examples", ROOT / "scripts" / "readme_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look the module up by name
    spec.loader.exec_module(module)
    return module


examples = _script()


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples run curl")
def test_readme_examples_match_a_real_run(
    seeded_dir: Path, model: SentenceTransformerEmbedder
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    with examples.serving(seeded_dir, model) as url:
        fresh = examples.regenerate(readme, url)
    assert fresh != readme or "took_ms" in readme  # the blocks were really rewritten
    if examples.normalized(fresh) != examples.normalized(readme):
        diff = "".join(
            difflib.unified_diff(readme.splitlines(True), fresh.splitlines(True), "README", "run")
        )
        pytest.fail(f"README.md examples drifted; run scripts/readme_examples.py\n{diff}")


def test_only_the_outputs_are_rewritten(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (
        "intro\n<!-- example:query -->\n```sh\ncurl -s localhost:8000/v1/query \\\n"
        "  -d '{}'\n```\n\nout:\n\n```json\nOLD\n```\n<!-- /example -->\n"
        '<!-- example:ask -->\n```\n$ scripts/ask.sh "q" 1\nOLD\n```\n<!-- /example -->\n'
        "<!-- example:context -->\n```sh\ncurl -s localhost:8000/v1/context -d '{}'\n```\n\n"
        "```json\nOLD\n```\n<!-- /example -->\nend\n"
    )
    calls: list[tuple[str, ...]] = []

    def fake_run(argv: list[str], url: str) -> str:
        calls.append(tuple(argv))
        if argv[0] == "curl":
            return '{"took_ms": 1.5, "ranks": {"dense": 1, "lexical": null}}'
        return "Q: q  (hybrid, 12 ms)\n"

    monkeypatch.setattr(examples, "_run", fake_run)
    fresh = examples.regenerate(readme, "http://127.0.0.1:9")
    assert calls[0][:3] == ("curl", "-s", "http://127.0.0.1:9/v1/query")
    assert calls[1] == ("scripts/ask.sh", "q", "1")
    assert calls[2][:3] == ("curl", "-s", "http://127.0.0.1:9/v1/context")
    json_out = '{\n  "took_ms": 1.5,\n  "ranks": {"dense": 1, "lexical": null}\n}\n'
    assert fresh == readme.replace("OLD\n", json_out, 1).replace(
        '$ scripts/ask.sh "q" 1\nOLD\n', '$ scripts/ask.sh "q" 1\nQ: q  (hybrid, 12 ms)\n'
    ).replace("OLD\n", json_out)
    assert examples.normalized('"took_ms": 1.5, (hybrid, 12 ms)') == '"took_ms": …, (hybrid, … ms)'
