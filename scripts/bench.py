"""`make bench`: seed index build time, and HTTP query latency over a real server.

Latency is reported as percentiles and as ratios to baselines measured in the same
run (a /healthz round trip; the same search in-process), since these machines are noisy.
Writes bench/results/bench.json and bench/results/latency.png.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import track

from index import Engine, EngineConfig, SentenceTransformerEmbedder, read_path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
QUERIES = 200
QUESTIONS = [
    "What did Bolton say about the talks?",
    "Who did Cabello talk to in the Trump administration?",
    "Why did Machado dedicate her Nobel prize to Trump?",
    "How many soldiers are mobilized under Operation Southern Lance?",
    "What did Maduro offer in exchange for stepping down?",
    "Why has Trump reset relations with Maduro?",
    "What is the Cartel de los Soles?",
    "What did Richard Grenell negotiate in Caracas?",
]
console = Console(stderr=True)


def pct(values: list[float], q: float) -> float:
    """The ``q``th percentile (nearest rank); 0 for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def summary(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(pct(values, q), 2) for q in (50, 90, 99)} | {
        "mean": round(statistics.fmean(values), 2)
    }


def build_index(data: Path) -> tuple[float, float, int]:
    model = SentenceTransformerEmbedder()
    started = time.perf_counter()
    model.embed("load")
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    engine = Engine.open(EngineConfig(data_dir=data), model, create=True)
    report = engine.ingest(read_path(ROOT / "seeds"))
    build_s = time.perf_counter() - started
    engine.close()
    return load_s, build_s, report.passages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLI = [sys.executable, "-c", "from service.cli import main; main()"]


@contextmanager
def serving(data: Path, log: Path | None = None, **env: str) -> Iterator[str]:
    """`citeqa serve` over ``data`` on a free port, ready to answer; stopped afterwards.
    The other scripts (load, mcp_bench) start their servers with this too."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    environ |= {"CITEQA_DATA_DIR": str(data), "CITEQA_PORT": str(port), "HF_HUB_OFFLINE": "1",
                "CITEQA_LOG_LEVEL": "warning", **env}  # fmt: skip
    with open(log or os.devnull, "wb") as out:
        server = subprocess.Popen(
            [*CLI, "serve"], env=environ, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=60)


def http_latencies(data: Path) -> tuple[list[float], list[float], list[float]]:
    with serving(data) as url, httpx.Client(base_url=url, timeout=60) as client:
        for q in QUESTIONS:  # warm-up, not measured
            client.get("/v1/query", params={"q": q})
        health, query, server_ms = [], [], []
        for i in track(range(QUERIES), description="HTTP queries", console=console):
            started = time.perf_counter()
            client.get("/healthz")
            health.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            body = client.post("/v1/query", json={"question": QUESTIONS[i % len(QUESTIONS)]})
            query.append((time.perf_counter() - started) * 1000)
            server_ms.append(body.json()["took_ms"])
    return health, query, server_ms


def chart(query: list[float], health: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(query, lw=0.8, label="POST /v1/query")
    left.plot(health, lw=0.8, label="GET /healthz (baseline)")
    left.set(xlabel="request #", ylabel="ms", title="Latency per request")
    left.legend()
    qs = list(range(1, 100))
    right.plot(qs, [pct(query, q) for q in qs], label="query")
    right.plot(qs, [pct(health, q) for q in qs], label="healthz")
    right.set(xlabel="percentile", ylabel="ms", title="Latency percentiles", yscale="log")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        console.print("indexing seeds/ with the bundled model ...")
        load_s, build_s, passages = build_index(data)
        health, query, server_ms = http_latencies(data)
    result = {
        "model_load_s": round(load_s, 2),
        "seed_index_build_s": round(build_s, 2),
        "seed_passages": passages,
        "queries": QUERIES,
        "http_query_ms": summary(query),
        "server_took_ms": summary(server_ms),
        "healthz_ms": summary(health),
        "ratio_query_to_healthz_p50": round(pct(query, 50) / pct(health, 50), 1),
        "share_of_time_in_search_p50": round(pct(server_ms, 50) / pct(query, 50), 2),
    }
    (OUT / "bench.json").write_text(json.dumps(result, indent=2))
    chart(query, health, OUT / "latency.png")
    print(json.dumps(result, indent=2))
    console.print(f"wrote {OUT / 'bench.json'} and {OUT / 'latency.png'}")


if __name__ == "__main__":
    main()
