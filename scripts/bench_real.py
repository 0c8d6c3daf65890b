"""`make bench-scale`'s real-text part: about 5,000 pages of real manuals (over 200,000
passages) through `citeqa ingest`, then whole hybrid questions over them, in process.

The corpus is the HTML documentation Debian ships for Linux, Python, PostgreSQL and Git
(``debian_docs``): real prose, read by the same HTML reader users' pages go through.
Reports the ingest's wall time, passages/s and peak RSS (the child's own rusage), the
bytes on disk by part, then 300 questions (the pages' section headings) one at a time on
a worker thread, as the server asks them: p50/p99 of the whole search and of each stage
(``SearchResult.stages``), and the resident memory of the process that answered.

Run: `make bench-scale` (both parts; this one takes well over an hour on 2 cores, almost
all of it the model), `make bench-real MANUALS=git` for one manual (about 17,000 passages),
or `.venv/bin/python scripts/bench_real.py [--manuals linux,git] [--keep DIR]`.
Writes bench/results/real.json and bench/results/real.png.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from bench import OUT, pct
from bench_ingest import counts, disk_usage, ingest
from bench_scale import rss_mb
from debian_docs import NAMES, corpus, headings
from index.engine import Engine
from service.settings import Settings

QUESTIONS = 300
WARMUP = 10
TOP_K = 5
console = Console(stderr=True)


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manuals", default=",".join(NAMES),
                        help=f"comma-separated, of {', '.join(NAMES)} (default: all)")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="build the data dir here and keep it")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for real.json/.png")
    args = parser.parse_args()
    args.manuals = tuple(name.strip() for name in args.manuals.split(",") if name.strip())
    if unknown := set(args.manuals) - set(NAMES):
        parser.error(f"unknown manuals {sorted(unknown)}; choose from {', '.join(NAMES)}")
    return args


def spread(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 50), 2), "p99_ms": round(pct(values, 99), 2)}


def ask(data: Path, questions: list[str]) -> dict[str, Any]:
    """Each question once, after a few to warm up; the search's own wall time and stages."""
    before = rss_mb()
    started = time.perf_counter()
    engine = Engine.open(Settings(data_dir=data).engine_config())
    open_s = time.perf_counter() - started
    took: list[float] = []
    stages: dict[str, list[float]] = {}
    unanswerable = 0
    with ThreadPoolExecutor(1) as worker, Progress(console=console) as progress:
        task = progress.add_task("questions", total=len(questions) + WARMUP)
        for number, question in enumerate(questions[:WARMUP] + questions):
            started = time.perf_counter()
            result = worker.submit(engine.search, question, TOP_K).result()
            elapsed = (time.perf_counter() - started) * 1000
            progress.advance(task)
            if number < WARMUP:
                continue
            took.append(elapsed)
            unanswerable += not result.answerable
            for stage, ms in result.stages.items():
                stages.setdefault(stage, []).append(ms)
    resident = rss_mb()
    engine.close()
    return {
        "questions": len(questions),
        "top_k": TOP_K,
        "mode": "hybrid",
        "open_s": round(open_s, 2),
        "search": spread(took),
        "stages": {stage: spread(ms) for stage, ms in stages.items()},
        "flagged_unanswerable": unanswerable,
        "rss_mb_after_questions": round(resident, 1),
        "rss_mb_added_by_engine": round(resident - before, 1),
    }


def chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = result["questions"]["stages"]
    names = [*stages, "whole search"]
    p50 = [stages[name]["p50_ms"] for name in stages] + [result["questions"]["search"]["p50_ms"]]
    p99 = [stages[name]["p99_ms"] for name in stages] + [result["questions"]["search"]["p99_ms"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=(3, 2))
    rows = range(len(names))
    left.barh([r + 0.2 for r in rows], p50, height=0.4, label="p50")
    left.barh([r - 0.2 for r in rows], p99, height=0.4, label="p99", alpha=0.6)
    left.set_yticks(list(rows), names)
    left.invert_yaxis()
    left.set(xlabel="ms", title=f"One hybrid question over {result['passages']:,} passages")
    left.legend(fontsize=8)
    parts = {k: v / 2**20 for k, v in result["bytes"].items() if v > 0}
    right.barh(list(parts), list(parts.values()), color="C2")
    right.invert_yaxis()
    right.set(xlabel="MB on disk", title=f"{result['bytes_total'] / 2**20:,.0f} MB on disk")
    fig.suptitle(
        f"{result['documents']:,} pages of real manuals: ingest {result['wall_s'] / 60:.1f} min "
        f"({result['passages_per_s']:.1f} passages/s), peak RSS {result['peak_rss_mb']:,.0f} MB",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    folder = corpus(args.manuals)
    data = work / "data"
    if data.exists():
        raise SystemExit(f"{data} already exists; give --keep an empty folder")
    console.print(f"{sum(p.is_file() for p in folder.rglob('*.html')):,} pages in {folder}")
    questions = headings(folder, QUESTIONS)
    load_before = os.getloadavg()
    cost = ingest(folder, data)
    found = counts(data)
    gc.collect()
    return {
        "corpus": "Debian's HTML manuals: " + ", ".join(args.manuals),
        "documents": found["documents"],
        "passages": found["passages"],
        **cost,
        "passages_per_s": round(found["passages"] / cost["wall_s"], 2),
        "wall_note": "includes process start, model load and reading the HTML",
        **disk_usage(data),
        "questions": ask(data, questions),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "faiss-cpu": metadata.version("faiss-cpu"),
        },
        "data_dir": str(data) if args.keep else "(temporary)",
    }


def main() -> None:
    args = options()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args, Path(tmp))
    (args.out / "real.json").write_text(json.dumps(result, indent=2))
    chart(result, args.out / "real.png")
    print(json.dumps({k: v for k, v in result.items() if k != "sqlite_column_bytes"}, indent=2))
    console.print(f"wrote {args.out / 'real.json'} and {args.out / 'real.png'}")


if __name__ == "__main__":
    main()
