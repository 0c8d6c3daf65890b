"""`make bench-stores`: the local store against Milvus Lite, side by side on this machine.

In one run: the local store (SQLite + FAISS + bm25s files) and Milvus Lite (pymilvus's
in-process, pure Python Milvus behind a local gRPC port, ``<data_dir>/milvus.db``).

Run: `.venv/bin/python scripts/bench_stores.py` (seeds/ for both parts), or with
``--scifact DIR --limit N`` to ingest the first N documents of a BEIR corpus instead
(the questions are about the seeds, so the query part always runs on seed indexes).

1. Ingest: the same documents, read once, into a fresh data dir per store, with one shared
   embedder, warmed up first (the model load is not counted); ``--ingest-rounds`` times
   per store (default 2, who goes first alternating), medians reported. Embedding
   dominates and is the same work for both, so the embedder is wrapped in a stopwatch
   and the storage's share is reported alone: ``storage_s = wall_s - embed_s`` (chunking
   and preparing the passages too, the same for both), with the time in
   ``Storage.commit`` and in the content-hash lookups broken out of it.
2. Questions: eval/questions.jsonl in hybrid mode, a warm-up pass, then ``--rounds``
   rounds. Each question goes to one store and straight after to the other (who goes
   first alternates), so noise from other work on this shared machine falls on both
   alike, instead of on whichever store happened to run while it was busy. Reported:
   ``SearchResult.took_ms`` percentiles and the median of each of its ``stages``. The
   engines answer on a worker thread, as the server's do (see scripts/bench.py).

Writes bench/results/stores.json and bench/results/stores.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any, Literal, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import MODEL_CACHE, pct, summary
from eval.questions import load_questions
from index import Document, Engine, EngineConfig, SearchResult, read_path
from index.model.embedder import Embedder, TokenVectors, Vectors, embedder_for
from index.model.embedder import Progress as EmbedProgress

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
SEEDS = ROOT / "seeds"
QUESTIONS = ROOT / "eval" / "questions.jsonl"
Store = Literal["local", "milvus"]
STORES: tuple[Store, ...] = ("local", "milvus")
MODE = "hybrid"
PERCENTILES = (50, 90, 99)
PACKAGES = ("pymilvus", "milvus-lite", "faiss-cpu", "bm25s", "onnxruntime", "numpy")
console = Console(stderr=True)
T = TypeVar("T")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=SEEDS,
                        help="documents to ingest: a folder, a .txt/.md or a BEIR .jsonl (default seeds/)")  # fmt: skip
    parser.add_argument("--scifact", type=Path,
                        help="a BEIR folder (corpus.jsonl) to ingest instead of --docs")  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first N documents of what is ingested")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds of questions")
    parser.add_argument("--ingest-rounds", type=int, default=2,
                        help="ingests per store, who goes first alternating; medians reported")  # fmt: skip
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument(
        "--keep", type=Path, help="work in this folder and keep it (else a temp dir)"
    )
    args = parser.parse_args()
    if args.scifact is not None and not (args.scifact / "corpus.jsonl").is_file():
        parser.error(f"{args.scifact}/corpus.jsonl not found; give a BEIR folder")
    if min(args.rounds, args.ingest_rounds, args.limit or 1) < 1:
        parser.error("--rounds, --ingest-rounds and --limit must be 1 or more")
    return args


# -- the embedder, timed ------------------------------------------------------------------


class TimedEmbedder(Embedder):
    """Forwards every call to one shared embedder and adds up the seconds spent in it (an
    outer call only: ``embed_many`` calling ``embed_batch`` inside is counted once)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0
        self._depth = 0

    def __getattr__(self, name: str) -> Any:  # anything the base class does not define
        return getattr(self.inner, name)

    def _timed(self, call: Callable[[], T]) -> T:
        if self._depth:
            return call()
        self._depth += 1
        started = time.perf_counter()
        try:
            return call()
        finally:
            self.seconds += time.perf_counter() - started
            self._depth -= 1

    @property
    def dimension(self) -> int:
        return self._timed(lambda: self.inner.dimension)

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        return self._timed(lambda: self.inner.embed_batch(texts))

    def embed(self, text: str) -> Vectors:
        return self._timed(lambda: self.inner.embed(text))

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        return self._timed(lambda: self.inner.embed_tokens(texts))

    def embed_with_tokens(self, text: str) -> tuple[Vectors, TokenVectors]:
        return self._timed(lambda: self.inner.embed_with_tokens(text))

    def embed_many(
        self, texts: Sequence[str], batch_size: int = 64, progress: EmbedProgress | None = None
    ) -> Vectors:
        return self._timed(lambda: self.inner.embed_many(texts, batch_size, progress))

    def embed_many_with_tokens(
        self, texts: Sequence[str], batch_size: int = 64, progress: EmbedProgress | None = None
    ) -> tuple[Vectors, list[TokenVectors]]:
        return self._timed(lambda: self.inner.embed_many_with_tokens(texts, batch_size, progress))


def shared_embedder() -> Embedder:
    """The engine's default embedder (ONNX, exported once into bench/.model-cache), with
    every path the ingest and the questions take run once, so no load is timed."""
    embedder = embedder_for(EngineConfig(data_dir=MODEL_CACHE, model_cache=MODEL_CACHE))
    with console.status("loading the model (bench/.model-cache) ..."):
        embedder.embed("warm up")
        embedder.embed_with_tokens("warm up")
        embedder.embed_many(["warm up", "a second text"])
        embedder.embed_many_with_tokens(["warm up", "a second text"])
    return embedder


# -- ingest -------------------------------------------------------------------------------


def config_for(store: Store, data: Path) -> EngineConfig:
    """The shipped defaults; only the storage differs (Milvus Lite at <data>/milvus.db)."""
    return EngineConfig(data_dir=data, store=store, milvus_uri=None, model_cache=MODEL_CACHE)


def documents(args: argparse.Namespace) -> tuple[list[Document], str]:
    """What the ingest part writes, read once (reading is not timed), and a label. A BEIR
    corpus is cut as bench_ingest's ``cut_corpus`` cuts it: its first N documents."""
    source = args.scifact / "corpus.jsonl" if args.scifact is not None else args.docs
    docs = list(islice(read_path(source), args.limit))
    shown = source.resolve()
    label = str(shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else source)
    return docs, label + (f", first {args.limit}" if args.limit else "")


def bytes_on_disk(data: Path) -> int:
    return sum(p.stat().st_size for p in data.rglob("*") if p.is_file())


@contextmanager
def stopwatch(obj: Any, method: str, seconds: dict[str, float], key: str) -> Iterator[None]:
    """Time every call of ``obj.method`` into ``seconds[key]`` (an instance attribute
    shadows the method while this lasts)."""
    original = getattr(obj, method)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[key] += time.perf_counter() - started

    setattr(obj, method, timed)
    try:
        yield
    finally:
        delattr(obj, method)


def ingest(
    store: Store,
    docs: Sequence[Document],
    data: Path,
    embedder: TimedEmbedder,
    bar: Progress,
    name: str,
) -> dict[str, Any]:
    """``engine.ingest`` of ``docs`` into an empty data dir: wall seconds, and how much of
    them the embedder, ``Storage.commit`` and the content-hash lookups took."""
    task = bar.add_task(name, total=len(docs))

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "documents":
            bar.update(task, completed=done, description=name)
        else:
            bar.update(task, description=f"{name}: {stage} {done}/{total}")

    started = time.perf_counter()
    engine = Engine.open(config_for(store, data), embedder, create=True)
    open_s = time.perf_counter() - started
    spent = {"commit": 0.0, "content_hash": 0.0}
    try:
        with stopwatch(engine.storage, "commit", spent, "commit"), \
                stopwatch(engine.storage, "content_hash", spent, "content_hash"):  # fmt: skip
            embedder.seconds = 0.0
            started = time.perf_counter()
            report = engine.ingest(docs, progress, len(docs))
            wall = time.perf_counter() - started
        stored_docs, stored_passages = engine.storage.counts()
        generation = engine.generation
    finally:
        engine.close()
    embed = embedder.seconds
    storage = wall - embed
    bar.update(task, completed=len(docs), description=f"{name}: {wall:.1f} s")
    return {
        "documents": stored_docs,
        "passages": stored_passages,
        "passages_written": report.passages,
        "generation": generation,
        "wall_s": round(wall, 3),
        "passages_per_s": round(report.passages / wall, 2),
        "embed_s": round(embed, 3),
        "storage_s": round(storage, 3),
        "storage_passages_per_s": round(report.passages / storage, 1),
        "commit_s": round(spent["commit"], 3),
        "content_hash_lookup_s": round(spent["content_hash"], 3),
        "prepare_and_other_s": round(storage - spent["commit"] - spent["content_hash"], 3),
        "open_create_s": round(open_s, 3),
        "bytes_on_disk": bytes_on_disk(data),
    }


def ingest_both(
    docs: Sequence[Document],
    work: Path,
    tag: str,
    embedder: TimedEmbedder,
    bar: Progress,
    rounds: int = 1,
) -> tuple[dict[Store, dict[str, Any]], dict[Store, Path]]:
    """``rounds`` ingests per store, each into a fresh data dir, who goes first alternating
    (an even number cancels any order effect); each figure is the median over the rounds.
    Returns the figures and the last round's data dirs."""
    runs: dict[Store, list[dict[str, Any]]] = {store: [] for store in STORES}
    dirs: dict[Store, Path] = {}
    for number in range(rounds):
        for store in STORES if number % 2 == 0 else STORES[::-1]:
            dirs[store] = work / f"{tag}-{number + 1}-{store}"
            name = f"{tag} {store}" + (f" ({number + 1}/{rounds})" if rounds > 1 else "")
            runs[store].append(ingest(store, docs, dirs[store], embedder, bar, name))
    return {store: combined(runs[store]) for store in STORES}, dirs


def combined(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds, and every round's figures (when several)."""
    figures: dict[str, Any] = {}
    for key, value in runs[0].items():
        middle = statistics.median(run[key] for run in runs)
        figures[key] = round(middle, 3) if isinstance(value, float) else int(middle)
    if len(runs) > 1:
        figures["passages_per_s"] = round(figures["passages_written"] / figures["wall_s"], 2)
        figures["storage_passages_per_s"] = round(
            figures["passages_written"] / figures["storage_s"], 1
        )
        figures["each_round"] = list(runs)
    return figures


def ratio(milvus: float, local: float) -> float | None:
    return round(milvus / local, 2) if local else None


def ingest_ratios(found: Mapping[Store, Mapping[str, Any]]) -> dict[str, float | None]:
    local, milvus = found["local"], found["milvus"]
    keys = ("wall_s", "storage_s", "commit_s", "content_hash_lookup_s", "bytes_on_disk")
    return {key: ratio(milvus[key], local[key]) for key in keys}


# -- questions ----------------------------------------------------------------------------


def top(result: SearchResult) -> list[str]:
    return [hit.passage.passage_id for hit in result.hits]


def agreement(
    first: Mapping[str, SearchResult], second: Mapping[str, SearchResult]
) -> dict[str, float]:
    """How alike the two stores answer (same passages cited, same verdict): they rank
    with different BM25 and dense code, so small differences are expected."""
    questions = list(first)
    same_top1 = sum(top(first[q])[:1] == top(second[q])[:1] for q in questions)
    overlap = [
        len(set(top(first[q])) & set(top(second[q]))) / max(1, len(top(first[q])))
        for q in questions
    ]
    same_verdict = sum(first[q].answerable == second[q].answerable for q in questions)
    return {
        "same_top1": round(same_top1 / len(questions), 3),
        "mean_topk_overlap": round(statistics.fmean(overlap), 3),
        "same_answerable_verdict": round(same_verdict / len(questions), 3),
    }


def ask_all(
    engines: Mapping[Store, Engine],
    questions: Sequence[str],
    rounds: int,
    top_k: int,
    bar: Progress,
) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]], dict[str, float]]:
    """A warm-up pass, then ``rounds`` measured ones; each question goes to both stores in
    turn, who goes first alternating. Returns took_ms, stage ms, and agreement."""
    took: dict[str, list[float]] = {store: [] for store in engines}
    stages: dict[str, dict[str, list[float]]] = {store: {} for store in engines}
    answers: dict[str, dict[str, SearchResult]] = {store: {} for store in engines}
    task = bar.add_task("questions (warm-up)", total=len(questions) * (rounds + 1))
    with ThreadPoolExecutor(1) as worker:
        for number in range(rounds + 1):
            for i, question in enumerate(questions):
                order = list(engines) if (i + number) % 2 == 0 else list(engines)[::-1]
                for store in order:
                    result = worker.submit(engines[store].search, question, top_k, MODE).result()
                    if number == 0:
                        answers[store][question] = result
                        continue
                    took[store].append(result.took_ms)
                    for stage, ms in result.stages.items():
                        stages[store].setdefault(stage, []).append(ms)
                bar.advance(task)
            bar.update(task, description=f"questions (round {number + 1} of {rounds})")
        bar.update(task, description=f"questions ({rounds} rounds)")
    return took, stages, agreement(answers["local"], answers["milvus"])


def medians(stages: Mapping[str, list[float]]) -> dict[str, float]:
    return {stage: round(statistics.median(ms), 2) for stage, ms in stages.items()}


# -- report -------------------------------------------------------------------------------


def machine(load_start: tuple[float, float, float]) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_count": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def chart(result: Mapping[str, Any], path: Path) -> None:
    """Left: took_ms percentiles per store; right: each stage's median per store."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    query = result["query"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), width_ratios=[2, 5])
    width = 0.38
    x = np.arange(len(PERCENTILES))
    for n, store in enumerate(STORES):
        values = [query["took_ms"][store][f"p{q}"] for q in PERCENTILES]
        bars = left.bar(x + (n - 0.5) * width, values, width, label=store)
        left.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    left.set_xticks(x, [f"p{q}" for q in PERCENTILES])
    left.set(ylabel="took_ms", title="Search latency (SearchResult.took_ms)")
    left.legend()
    left.margins(y=0.12)
    stage_names = list(dict.fromkeys(s for store in STORES for s in query["stage_ms_p50"][store]))
    x = np.arange(len(stage_names))
    for n, store in enumerate(STORES):
        values = [query["stage_ms_p50"][store].get(s, 0.0) for s in stage_names]
        bars = right.bar(x + (n - 0.5) * width, values, width, label=store)
        right.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    right.set_xticks(x, stage_names)
    right.set(ylabel="median ms", title="Median time per stage (SearchResult.stages)")
    right.legend()
    right.margins(y=0.12)
    info = result["machine"]
    ingest = result["ingest"]
    fig.suptitle(
        f"local vs Milvus Lite: {query['questions']} seed questions x {query['rounds']} rounds, "
        f"{MODE}, top {query['top_k']}, interleaved; {info['cpu_count']} CPUs, load "
        f"{info['load_average_start'][0]:.2f} -> {info['load_average_end'][0]:.2f}\n"
        f"ingest of {ingest['corpus']} ({ingest['local']['passages']} passages): wall "
        f"{ingest['local']['wall_s']:.1f} s vs {ingest['milvus']['wall_s']:.1f} s, storage only "
        f"{ingest['local']['storage_s']:.2f} s vs {ingest['milvus']['storage_s']:.2f} s",
        fontsize=9,
    )  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tables(result: Mapping[str, Any]) -> list[Table]:
    ingest, query = result["ingest"], result["query"]
    found = Table(title=f"Ingest: {ingest['corpus']}, median of {ingest['rounds']} per store "
                        "(one embedder, load not counted)")  # fmt: skip
    found.add_column("")
    for store in STORES:
        found.add_column(store, justify="right")
    found.add_column("milvus / local", justify="right")
    rows = [("documents", "documents", "{:,}"), ("passages", "passages", "{:,}"),
            ("wall s", "wall_s", "{:.2f}"), ("passages/s", "passages_per_s", "{:.1f}"),
            ("  embedder s", "embed_s", "{:.2f}"),
            ("  storage s (wall - embedder)", "storage_s", "{:.3f}"),
            ("    in Storage.commit s", "commit_s", "{:.3f}"),
            ("    content-hash lookups s", "content_hash_lookup_s", "{:.3f}"),
            ("    prepare and other s", "prepare_and_other_s", "{:.3f}"),
            ("storage passages/s", "storage_passages_per_s", "{:,.0f}"),
            ("open (create) s", "open_create_s", "{:.3f}"),
            ("MB on disk", "bytes_on_disk", "{:.1f}")]  # fmt: skip
    for label, key, fmt in rows:
        values = [ingest[store][key] for store in STORES]
        if key == "bytes_on_disk":
            values = [v / 1e6 for v in values]
        shown = ratio(values[1], values[0]) if key not in ("documents", "passages") else None
        found.add_row(
            label, *(fmt.format(v) for v in values), "" if shown is None else f"{shown:.2f}"
        )
    latency = Table(title=f"Questions: {query['questions']} x {query['rounds']} rounds per store, "
                          f"{MODE}, top {query['top_k']}, took_ms")  # fmt: skip
    latency.add_column("")
    for store in STORES:
        latency.add_column(store, justify="right")
    latency.add_column("milvus / local", justify="right")
    for key in ("p50", "p90", "p99", "mean"):
        values = [query["took_ms"][store][key] for store in STORES]
        shown = ratio(values[1], values[0])
        latency.add_row(key, *(f"{v:.2f}" for v in values), "" if shown is None else f"{shown:.2f}")
    latency.add_section()
    for stage in dict.fromkeys(s for store in STORES for s in query["stage_ms_p50"][store]):
        local, milvus = (query["stage_ms_p50"][store].get(stage) for store in STORES)
        shown = ratio(milvus, local) if local is not None and milvus is not None else None
        shown_values = ("-" if v is None else f"{v:.2f}" for v in (local, milvus))
        latency.add_row(f"{stage} (median)", *shown_values, "" if shown is None else f"{shown:.2f}")
    return [found, latency]


def run(args: argparse.Namespace, work: Path, embedder: Embedder) -> dict[str, Any]:
    timed = TimedEmbedder(embedder)
    docs, label = documents(args)
    seeds_too = args.scifact is None and args.docs.resolve() == SEEDS and not args.limit
    questions = [q.question for q in load_questions(QUESTIONS)]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as bar:
        found, dirs = ingest_both(docs, work, "ingest", timed, bar, args.ingest_rounds)
        if not seeds_too:  # the questions are about the seeds: index them too (not reported)
            seed_docs = list(read_path(SEEDS))
            _, dirs = ingest_both(seed_docs, work, "seeds", timed, bar)
        engines = {store: Engine.open(config_for(store, dirs[store]), embedder) for store in STORES}
        try:
            took, stages, alike = ask_all(engines, questions, args.rounds, args.top_k, bar)
        finally:
            for engine in engines.values():
                engine.close()
    summaries = {store: summary(took[store]) for store in STORES}
    return {
        "ingest": {
            "corpus": label,
            "rounds": args.ingest_rounds,
            "note": "wall_s is engine.ingest alone (documents read beforehand, model loaded "
            "and warmed once, shared); storage_s = wall_s - embed_s: chunking, hashing and "
            "everything the store does; commit_s is the time inside Storage.commit; each "
            "figure is its own median over the rounds (alternating who goes first)",
            **found,
            "ratio_milvus_to_local": ingest_ratios(found),
        },
        "query": {
            "corpus": "seeds",
            "questions": len(questions),
            "rounds": args.rounds,
            "mode": MODE,
            "top_k": args.top_k,
            "interleaved": "each question to both stores in turn, who goes first alternating",
            "took_ms": summaries,
            "ratio_milvus_to_local": {
                f"p{q}": ratio(pct(took["milvus"], q), pct(took["local"], q)) for q in PERCENTILES
            },
            "stage_ms_p50": {store: medians(stages[store]) for store in STORES},
            "stage_ratio_milvus_to_local_p50": {
                stage: ratio(statistics.median(ms), statistics.median(stages["local"][stage]))
                for stage, ms in stages["milvus"].items()
                if stage in stages["local"]
            },
            "agreement": alike,
        },
    }


def main() -> None:
    load_start = os.getloadavg()
    args = options()
    OUT.mkdir(parents=True, exist_ok=True)
    embedder = shared_embedder()
    with tempfile.TemporaryDirectory(prefix="citeqa-stores-") as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()) and args.keep:
            sys.exit(f"{work} is not empty; give --keep an empty folder")
        result = run(args, work, embedder)
    result["machine"] = machine(load_start)
    result["command"] = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    (OUT / "stores.json").write_text(json.dumps(result, indent=2) + "\n")
    chart(result, OUT / "stores.png")
    out = Console()
    for table in tables(result):
        out.print(table)
    info = result["machine"]
    out.print(
        f"agreement (warm-up pass): {result['query']['agreement']}\n"
        f"{info['cpu_count']} CPUs; load average {info['load_average_start']} at start, "
        f"{info['load_average_end']} at end"
    )
    console.print(f"wrote {OUT / 'stores.json'} and {OUT / 'stores.png'}")


if __name__ == "__main__":
    main()
