"""Real processes for end-to-end tests: `citeqa serve` on a free loopback port, `citeqa` runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-c", "from service.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MODEL_CACHE = Path(tempfile.gettempdir()) / "citeqa-test-model-cache"
"""ONNX exports shared by every test's servers and commands (one export per runtime, not
one per data dir; keyed by a digest of the model, so never stale)."""


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    return {**env, "HF_HUB_OFFLINE": "1", "CITEQA_MODEL_CACHE": str(MODEL_CACHE), **extra}


def citeqa(*args: str | Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real `citeqa` command to completion."""
    return subprocess.run(
        [*CLI, *map(str, args)], env=cli_env(**env), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


@contextmanager
def serving(data_dir: Path, log_path: Path, *, ready: bool = True, **env: str) -> Iterator[str]:
    """`citeqa serve` over ``data_dir``; with ``ready``, wait until /readyz says 200."""
    port = free_port()
    environ = cli_env(CITEQA_DATA_DIR=str(data_dir), CITEQA_PORT=str(port), **env)
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*CLI, "serve"], env=environ, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _answers(url, ready), 120, lambda: proc.poll() is None, log_path)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _answers(url: str, ready: bool) -> bool:
    try:
        status = httpx.get(f"{url}/readyz", timeout=2).status_code
    except httpx.TransportError:
        return False
    return status == 200 or not ready


def wait_until(
    check: object, seconds: float, alive: object = None, log_path: Path | None = None
) -> float:
    """Poll ``check()`` until true; return the seconds it took (fail after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        if alive is not None and not alive():  # type: ignore[operator]
            raise AssertionError(log_path.read_text() if log_path else "process died")
        time.sleep(0.05)
    raise AssertionError(f"not true after {seconds} s")


def ready(client: object, status: int = 200, seconds: float = 20) -> None:
    """Wait until an in-process app (a TestClient) answers /readyz with ``status``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == status:  # type: ignore[attr-defined]
            return
        time.sleep(0.05)
    raise AssertionError(client.get("/readyz").json())  # type: ignore[attr-defined]
