"""Regenerate the README's sample outputs from a real run, so they cannot drift.

    .venv/bin/python scripts/readme_examples.py            # rewrite the blocks in README.md
    .venv/bin/python scripts/readme_examples.py --check    # exit 1 with a diff if they drifted

It indexes seeds/ with the bundled model (or serves ``--data-dir``), starts a real server
on a free loopback port, and runs each example's own command from README.md against it:
the `curl` in the block marked ``<!-- example:query -->`` and the `scripts/ask.sh` line
in the block marked ``<!-- example:ask -->``. Only the output part of each block is
rewritten; the commands stay as written. ``took_ms`` differs from run to run, so
``normalized`` leaves it out of any comparison (tests/test_readme_examples.py).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from index import Embedder, Engine, EngineConfig, SentenceTransformerEmbedder, read_path
from service.app import create_app
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REGION = re.compile(
    r"(?P<open><!-- example:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<close><!-- /example -->)",
    re.S,
)
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```", re.S | re.M)
# The README's commands talk to `make run`'s address; the examples go to this run's server.
DEFAULT_URL = re.compile(r"^(https?://)?(localhost|127\.0\.0\.1):8000(?=/|$)")
VOLATILE = [
    (re.compile(r'"took_ms": [0-9.]+'), '"took_ms": …'),
    (re.compile(r"\((hybrid|dense|lexical), \d+ ms\)"), r"(\1, … ms)"),
]


class ExampleError(Exception):
    """An example's command failed or its block is not laid out as expected."""


def normalized(text: str) -> str:
    """``text`` without what changes from run to run (timings)."""
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def dump(value: object, pad: str = "") -> str:
    """Indented JSON, with short flat objects such as ``ranks`` kept on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list):
        return flat
    children = list(value.values()) if isinstance(value, dict) else value
    if not any(isinstance(c, dict | list) for c in children) and len(flat) <= 40:
        return flat
    inner = pad + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dump(v, inner)}" for k, v in value.items()]  # fmt: skip
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    return "[\n" + ",\n".join(f"{inner}{dump(v, inner)}" for v in value) + f"\n{pad}]"


def _run(argv: list[str], url: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    done = subprocess.run(
        argv, cwd=ROOT, env={**env, "CITEQA_URL": url}, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise ExampleError(f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def _fences(name: str, body: str, count: int) -> list[re.Match[str]]:
    fences = list(FENCE.finditer(body))
    if len(fences) < count:
        raise ExampleError(f"example {name!r} needs {count} fenced block(s); it has {len(fences)}")
    return fences


def query_example(body: str, url: str) -> str:
    """The first block is a curl command: run it, put its JSON in the second block."""
    command, output = _fences("query", body, 2)
    argv = shlex.split(command["code"].replace("\\\n", " "))
    if not argv or argv[0] != "curl" or shutil.which("curl") is None:
        raise ExampleError("the query example must be a curl command, and curl must be installed")
    answer = json.loads(_run([DEFAULT_URL.sub(url, arg) for arg in argv], url))
    if "error" in answer:
        raise ExampleError(f"the server answered an error: {answer['error']}")
    return body[: output.start("code")] + dump(answer) + "\n" + body[output.end("code") :]


def ask_example(body: str, url: str) -> str:
    """One block: a `$ scripts/ask.sh ...` line, then what it prints."""
    block = _fences("ask", body, 1)[0]
    line = block["code"].splitlines()[0]
    if not line.startswith("$ scripts/ask.sh "):
        raise ExampleError(f"the ask example must start with '$ scripts/ask.sh ...', not {line!r}")
    printed = _run(shlex.split(line[2:]), url)
    return body[: block.start("code")] + f"{line}\n{printed}" + body[block.end("code") :]


EXAMPLES: dict[str, Callable[[str, str], str]] = {
    "query": query_example,
    "context": query_example,  # the same shape: a curl command, then its JSON
    "ask": ask_example,
}


def regenerate(readme: str, url: str) -> str:
    """``readme`` with the output of every marked example replaced by a fresh run's."""

    def one(region: re.Match[str]) -> str:
        name = region["name"]
        if name not in EXAMPLES:
            raise ExampleError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
        return region["open"] + EXAMPLES[name](region["body"], url) + region["close"]

    found = {m["name"] for m in REGION.finditer(readme)}
    if missing := sorted(set(EXAMPLES) - found):
        raise ExampleError(f"README.md has no <!-- example:{missing[0]} --> block")
    return REGION.sub(one, readme)


@contextmanager
def serving(data_dir: Path, embedder: Embedder) -> Iterator[str]:
    """A real uvicorn server over ``data_dir`` on a free loopback port, once it is ready."""
    app = create_app(Settings(data_dir=data_dir), embedder=embedder)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="readme-examples", daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started, "the server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: httpx.get(f"{url}/readyz").status_code == 200, "the index did not load")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _wait(check: Callable[[], bool], failure: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise ExampleError(f"{failure} within {seconds:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="serve this index [seeds/, indexed afresh]")
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md has drifted")
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("CITEQA_")]:
        del os.environ[key]  # the README shows the defaults
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    model = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        if args.data_dir is None:
            engine = Engine.open(EngineConfig(data_dir=data_dir), model, create=True)
            engine.ingest(read_path(ROOT / "seeds"))
            engine.close()
        readme = README.read_text(encoding="utf-8")
        with serving(data_dir, model) as url:
            fresh = regenerate(readme, url)
    if args.check:
        if normalized(fresh) == normalized(readme):
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                readme.splitlines(True), fresh.splitlines(True), "README.md", "fresh"
            )
        )
        return 1
    README.write_text(fresh, encoding="utf-8")
    print(f"rewrote the examples in {README.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
