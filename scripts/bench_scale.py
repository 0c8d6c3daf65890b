"""`make bench-scale`: dense and BM25 search at 10k, 100k and 1M passages, in-process.

No model runs. Dense: synthetic 384-dim unit vectors shaped like MiniLM embeddings (a
shared mean direction, a decaying spectrum, topics > subtopics > documents > passages),
with the shape calibrated so that IVF recall at each nprobe matches real MiniLM embeddings
of SciFact (26k passages); uniform random vectors would make approximate search look
far worse than it is, and well-separated gaussian blobs far better. For each size: the
index the engine picks (``dense_index="auto"``) and the exact flat one, each with build
time, memory, single-query latency (one query at a time, like the service) and, for the
engine's pick, recall@10 against exact search. BM25: generated text (a Zipf vocabulary of
50k words, ~60 words a passage) in ``index.store.local.sparse.LexicalIndex``.

Run: `make bench-scale`, or `.venv/bin/python scripts/bench_scale.py --sizes 10000,100000`
for a quick check. Writes bench/results/scale.json and bench/results/scale.png.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bench import OUT, pct
from index.config import FLAT_LIMIT
from index.store.local.dense import NPROBE, DensePolicy, FaissVectors, VectorIndex
from index.store.local.layered import layered
from index.store.local.sparse import LexicalIndex

SIZES = (10_000, 100_000, 1_000_000)
DIM = 384
QUERIES = 300
K = 50
"""Results per search, like the engine's ``candidates``; recall is over the first 10."""
FILTER_SHARE = 0.01
"""A filtered search keeps this share of the passages (like one source's documents)."""
VOCAB = 50_000
WORDS_PER_PASSAGE = (40, 80)
COMMON = 50
"""Query words skip the most common ranks, as the engine drops English stopwords."""
TARGETS = {"p50_ms_at_1M": 30.0, "recall_at_10_gap": 0.02}
"""Issue 13: p50 <= 30 ms at 1M passages, recall@10 within 0.02 of exact search."""

console = Console(stderr=True)
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Shape:
    """How the synthetic embeddings are spread (see the module docstring)."""

    alpha: float = 0.85  # variance of the i-th direction ~ i^-alpha
    mean: float = 0.35  # length of the shared direction every vector leans to
    topic: float = 0.45
    subtopic: float = 0.4
    document: float = 0.65
    passage: float = 0.33
    query: float = 0.75  # a question is further from its document than its passages are
    topics: int = 64
    subtopics: int = 4096
    per_document: int = 5


class Embeddings:
    """Clustered unit vectors like a sentence model's, and questions near them."""

    def __init__(self, shape: Shape = Shape(), seed: int = 1) -> None:
        self.shape, self.rng = shape, np.random.default_rng(seed)
        spectrum = np.arange(1, DIM + 1, dtype=np.float64) ** -shape.alpha
        self.scale = np.sqrt(spectrum / spectrum.sum()).astype(np.float32)
        self.rotation = np.linalg.qr(self.rng.standard_normal((DIM, DIM)))[0].astype(np.float32)
        lean = self.rng.standard_normal(DIM).astype(np.float32)
        topics = self.noise(shape.topics) * shape.topic
        picked = topics[self.rng.integers(0, shape.topics, shape.subtopics)]
        self.subtopics = picked + self.noise(shape.subtopics) * shape.subtopic
        self.subtopics += shape.mean * lean / np.linalg.norm(lean)
        weights = 1.0 / np.arange(1, shape.subtopics + 1) ** 0.5  # some subjects are common
        self.weights = weights / weights.sum()
        self.documents: list[Matrix] = []

    def noise(self, count: int) -> Matrix:
        drawn = self.rng.standard_normal((count, DIM), dtype=np.float32) * self.scale
        rotated: Matrix = drawn @ self.rotation
        return rotated

    def passages(self, count: int, chunk: int = 50_000) -> Iterator[Matrix]:
        """``count`` passage vectors in chunks; ``per_document`` passages share a document."""
        shape = self.shape
        for start in range(0, count, chunk):
            size = min(chunk, count - start)
            picked = self.rng.choice(
                shape.subtopics, -(-size // shape.per_document), p=self.weights
            )
            documents = self.subtopics[picked] + self.noise(len(picked)) * shape.document
            self.documents.append(documents)
            rows = np.repeat(documents, shape.per_document, axis=0)[:size]
            yield unit(rows + self.noise(size) * shape.passage)

    def queries(self, count: int) -> Matrix:
        """Questions about documents already drawn by ``passages``."""
        documents = np.vstack(self.documents)
        picked = documents[self.rng.integers(0, len(documents), count)]
        return unit(picked + self.noise(count) * self.shape.query)


def unit(rows: Matrix) -> Matrix:
    out: Matrix = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return out


@dataclass(frozen=True)
class Measured:
    """One index at one size."""

    kind: str
    build_s: float
    rss_delta_mb: float
    index_mb: float
    p50_ms: float
    p99_ms: float
    recall_at_10: float | None = None
    filtered_p50_ms: float | None = None
    filtered_p99_ms: float | None = None
    nlist: int | None = None
    write_copy_ms: float | None = None
    """What a batch's write cost in memory before: clone the index, then change it."""
    write_layered_ms: float | None = None
    """What it costs now: a layered copy sharing the base (``index.store.local.layered``)."""
    layered_p50_ms: float | None = None
    layered_p99_ms: float | None = None
    """Searches with a tail of ``TAIL`` vectors and ``REMOVED`` base ids left out."""


BATCH = 320
"""Vectors one ingest batch adds (64 SciFact abstracts)."""
TAIL, REMOVED = 20_000, 1_000


def rss_mb() -> float:
    """Resident memory of this process now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return float(peak / 2**20 if sys.platform == "darwin" else peak / 2**10)


def folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


class Bench:
    """One rich progress display for the whole run."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def timed(self, label: str, work: Callable[[], object]) -> tuple[float, float]:
        """Seconds ``work`` took and the resident memory it added (MB), with a spinner."""
        task = self.progress.add_task(label, total=None)
        gc.collect()
        before, started = rss_mb(), time.perf_counter()
        work()
        seconds, grown = time.perf_counter() - started, rss_mb() - before
        self.progress.update(task, total=1, completed=1)
        return seconds, grown

    def latencies(self, label: str, search: Callable[[int], object], count: int) -> list[float]:
        for i in range(min(10, count)):  # warm-up, not measured
            search(i)
        found = []
        for i in self.progress.track(range(count), description=label):
            started = time.perf_counter()
            search(i)
            found.append((time.perf_counter() - started) * 1000)
        return found

    def vectors(self, embeddings: Embeddings, size: int) -> Matrix:
        out = np.empty((size, DIM), dtype=np.float32)
        task = self.progress.add_task(f"{size:,} passage vectors", total=size)
        start = 0
        for chunk in embeddings.passages(size):
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
            self.progress.advance(task, len(chunk))
        return out

    def dense(self, size: int, folder: Path) -> tuple[Measured, Measured]:
        """The exact flat index and the engine's pick (``auto``) over the same vectors."""
        embeddings = Embeddings()
        vectors = self.vectors(embeddings, size)
        queries = embeddings.queries(QUERIES)
        ids = np.arange(size, dtype=np.int64)
        allowed = np.random.default_rng(2).choice(size, int(size * FILTER_SHARE), replace=False)
        # The exact index stays alive while the other is built, so the memory one adds is
        # not the memory the other just gave back.
        exact, truth, kept = self.one_dense(
            DensePolicy("flat"), ids, vectors, queries, allowed, folder
        )
        auto, _, _ = self.one_dense(
            DensePolicy("auto"), ids, vectors, queries, allowed, folder, truth
        )
        del kept
        return exact, auto

    def one_dense(
        self,
        policy: DensePolicy,
        ids: npt.NDArray[np.int64],
        vectors: Matrix,
        queries: Matrix,
        allowed: npt.NDArray[np.int64],
        folder: Path,
        truth: list[list[int]] | None = None,
    ) -> tuple[Measured, list[list[int]], FaissVectors]:
        """Build one index, time its searches, and score its top 10 against ``truth``."""
        size = len(ids)
        index = FaissVectors(DIM, policy=policy)
        name = "exact" if policy.kind == "flat" else "auto"
        build_s, grown = self.timed(f"{size:,}: build {name}", lambda: index.add(ids, vectors))
        top: dict[int, list[int]] = {}

        def search(i: int) -> None:
            top[i] = [pid for pid, _ in index.search(queries[i], K)][:10]

        times = self.latencies(f"{size:,}: {name} ({index.kind}) search", search, len(queries))
        found = [top[i] for i in range(len(queries))]
        recall = 1.0
        if truth is not None:
            recall = float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
            )
        filtered = self.latencies(
            f"{size:,}: {name} search, {FILTER_SHARE:.0%} allowed",
            lambda i: index.search(queries[i], K, allowed),
            len(queries),
        )
        writes = self.writes(index, vectors, queries, name)
        path = folder / f"dense-{name}.faiss"
        index.save(path)
        measured = Measured(
            kind=index.kind,
            build_s=round(build_s, 2),
            rss_delta_mb=round(grown, 1),
            index_mb=round(folder_mb(path), 1),
            p50_ms=round(pct(times, 50), 3),
            p99_ms=round(pct(times, 99), 3),
            recall_at_10=round(recall, 4),
            filtered_p50_ms=round(pct(filtered, 50), 3),
            filtered_p99_ms=round(pct(filtered, 99), 3),
            nlist=index.nlist or None,
            **writes,
        )
        path.unlink()
        return measured, found, index

    def writes(
        self, index: FaissVectors, vectors: Matrix, queries: Matrix, name: str
    ) -> dict[str, float]:
        """One batch's write in memory, the old way (a clone) and the layered way, and
        searches of a layered index that has taken many writes."""
        size, rng = len(index), np.random.default_rng(4)
        new_ids = np.arange(size, size + BATCH, dtype=np.int64)
        new = vectors[rng.choice(size, BATCH)]
        gone = rng.choice(size, 10, replace=False).astype(np.int64)

        def write(copy: Callable[[], VectorIndex]) -> float:
            started = time.perf_counter()
            changed = copy()
            changed.remove(gone, tune=False)
            changed.add(new_ids, new, tune=False)
            return (time.perf_counter() - started) * 1000

        task = self.progress.add_task(f"{size:,}: {name} writes", total=None)
        clone = statistics.median(write(index.copy) for _ in range(5))
        shared = statistics.median(write(lambda: layered(index)) for _ in range(5))
        self.progress.update(task, total=1, completed=1)
        grown = layered(index)
        grown.remove(rng.choice(size, min(REMOVED, size // 10), replace=False).astype(np.int64))
        tail = min(TAIL, size // 5)
        grown.add(np.arange(size, size + tail, dtype=np.int64), vectors[rng.choice(size, tail)])
        times = self.latencies(
            f"{size:,}: {name} layered search", lambda i: grown.search(queries[i], K), len(queries)
        )
        return {"write_copy_ms": round(clone, 2), "write_layered_ms": round(shared, 2),
                "layered_p50_ms": round(pct(times, 50), 3),
                "layered_p99_ms": round(pct(times, 99), 3)}  # fmt: skip

    def bm25(self, size: int, folder: Path) -> Measured:
        index, build_s, grown, questions = self.build_bm25(size)
        times = self.latencies(
            f"{size:,}: search BM25", lambda i: index.search(questions[i], K), QUERIES
        )
        index.save(folder / "bm25")
        return Measured(
            kind="bm25",
            build_s=round(build_s, 2),
            rss_delta_mb=round(grown, 1),
            index_mb=round(folder_mb(folder / "bm25"), 1),
            p50_ms=round(pct(times, 50), 3),
            p99_ms=round(pct(times, 99), 3),
        )

    def build_bm25(self, size: int) -> tuple[LexicalIndex, float, float, list[str]]:
        """The index, its build seconds and memory, and questions (the texts are dropped)."""
        texts, questions = self.texts(size)
        built: list[LexicalIndex] = []
        build_s, grown = self.timed(
            f"{size:,}: build BM25", lambda: built.append(LexicalIndex.build(range(size), texts))
        )
        return built[0], build_s, grown, questions

    def texts(self, size: int) -> tuple[list[str], list[str]]:
        """``size`` passages of Zipf-distributed words, and 5-word questions each taken
        from one passage (past the most common words)."""
        rng = np.random.default_rng(3)
        vocab = words(VOCAB, rng)
        weights = 1.0 / np.arange(1, VOCAB + 1)
        weights /= weights.sum()
        asked = set(rng.choice(size, QUERIES, replace=False).tolist())
        texts, questions = [], []
        task = self.progress.add_task(f"{size:,}: passage texts", total=size)
        for start in range(0, size, 20_000):
            count = min(20_000, size - start)
            lengths = rng.integers(*WORDS_PER_PASSAGE, count)
            ranks = rng.choice(VOCAB, int(lengths.sum()), p=weights)
            end = 0
            for row, length in enumerate(lengths.tolist(), start=start):
                mine, end = ranks[end : end + length], end + length
                texts.append(" ".join([vocab[r] for r in mine]))
                if row in asked:
                    rare = list(dict.fromkeys(r for r in mine.tolist() if r >= COMMON))
                    picked = rng.choice(len(rare), min(5, len(rare)), replace=False)
                    questions.append(" ".join(vocab[rare[i]] for i in picked))
            self.progress.advance(task, count)
        return texts, questions


def words(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct pronounceable non-words (no English stopword among them)."""
    from bm25s.stopwords import STOPWORDS_EN

    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    found: dict[str, None] = {}
    while len(found) < count:
        parts = rng.choice(len(syllables), (count, 4))
        lengths = rng.integers(2, 5, count)
        for row, length in zip(parts, lengths, strict=True):
            word = "".join(syllables[s] for s in row[:length])
            if word not in STOPWORDS_EN:
                found[word] = None
    return list(found)[:count]


def chart(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [int(row["passages"]) for row in rows]  # type: ignore[call-overload]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = [("dense_auto", "dense, engine's pick (auto)"), ("dense_exact", "dense, exact (flat)"),
              ("bm25", "BM25 (bm25s)")]  # fmt: skip
    for (key, label), colour in zip(series, ("C0", "C1", "C2"), strict=True):
        p50 = [row[key]["p50_ms"] for row in rows]  # type: ignore[index]
        p99 = [row[key]["p99_ms"] for row in rows]  # type: ignore[index]
        left.plot(sizes, p50, "o-", color=colour, label=f"{label} p50")
        left.plot(sizes, p99, "o--", color=colour, alpha=0.6, label=f"{label} p99")
        right.plot(sizes, [row[key]["index_mb"] for row in rows], "o-", color=colour, label=label)  # type: ignore[index]
    for size, row in zip(sizes, rows, strict=True):
        auto = row["dense_auto"]
        if auto["kind"] == "ivf":  # type: ignore[index]
            note = f"IVF, recall@10 {auto['recall_at_10']:.3f}"  # type: ignore[index]
            left.annotate(note, (size, auto["p50_ms"]), textcoords="offset points",  # type: ignore[index]
                          xytext=(-10, -14), fontsize=7, color="C0", ha="right")  # fmt: skip
    left.axhline(TARGETS["p50_ms_at_1M"], color="grey", lw=0.8, ls=":", label="30 ms target (p50)")
    left.set(xscale="log", yscale="log", xlabel="passages", ylabel="ms per query",
             title="Search latency, one query at a time")  # fmt: skip
    right.set(xscale="log", yscale="log", xlabel="passages", ylabel="MB on disk",
              title="Index size")  # fmt: skip
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated passage counts (default: 10000,100000,1000000)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=OUT, help="folder for scale.json/.png")
    args = parser.parse_args()
    sizes = sorted(int(part) for part in args.sizes.split(",") if part.strip())
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    rows: list[dict[str, object]] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress, tempfile.TemporaryDirectory() as tmp:
        bench = Bench(progress)
        for size in sizes:
            exact, auto = bench.dense(size, Path(tmp))
            gc.collect()
            bm25 = bench.bm25(size, Path(tmp))
            gc.collect()
            row = {"passages": size, "dense_exact": asdict(exact), "dense_auto": asdict(auto),
                   "bm25": asdict(bm25)}  # fmt: skip
            rows.append(row)
            console.print(json.dumps(row))
    result = {
        "machine": {"cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                    "peak_rss_mb": round(rss_peak_mb(), 1),
                    "faiss-cpu": metadata.version("faiss-cpu"), "bm25s": metadata.version("bm25s")},
        "setup": {"dimension": DIM, "queries": QUERIES, "k": K, "filter_share": FILTER_SHARE,
                  "flat_limit": FLAT_LIMIT, "nprobe": NPROBE, "shape": asdict(Shape()),
                  "vocabulary": VOCAB, "words_per_passage": list(WORDS_PER_PASSAGE)},
        "targets": TARGETS,
        "sizes": rows,
    }  # fmt: skip
    (args.out / "scale.json").write_text(json.dumps(result, indent=2))
    chart(rows, args.out / "scale.png")
    print(json.dumps(result, indent=2))
    console.print(f"wrote {args.out / 'scale.json'} and {args.out / 'scale.png'}")


def rss_peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak / 2**20 if sys.platform == "darwin" else peak / 2**10)


if __name__ == "__main__":
    main()
