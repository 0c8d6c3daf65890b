"""`make bench-ingest`: SciFact's corpus through the real `citeqa ingest`, then what it
cost and how well the result answers.

Run: `make bench-ingest` (the whole corpus: 20+ minutes on a shared 2-core machine),
`make bench-ingest LIMIT=300` (the first 300 documents, a quick check), or
`.venv/bin/python scripts/bench_ingest.py [--scifact DIR] [--limit N] [--keep DIR]`.

Measures wall time, passages/s and peak RSS of the ingest process (and txtai's indexing
time for the same passages, in its own venv; ``--no-txtai`` skips it), the bytes on disk by
part (SQLite columns summed with ``length()``, index files by name; ``other`` is the
rest, SQLite's own pages included, so the parts add up to the total), then nDCG@10 on
the test split with `citeqa eval` over that very data dir: eval keeps its index in
``--cache``/<corpus folder>-<settings digest> (``eval.beir.cache_dir``), so the ingest
writes there and eval finds every document unchanged. With ``--limit`` the corpus is cut
and the qrels kept only for the documents left: its nDCG@10 does not compare with the
published figures. Writes bench/results/ingest.json and bench/results/ingest.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import MODEL_CACHE, prepare_txtai
from eval.beir import cache_dir
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
CITEQA = Path(sys.executable).parent / "citeqa"
PARTS = ("text", "passage_vectors", "sentence_vectors", "token_vectors", "faiss", "bm25")
COLUMN_PARTS = {
    "documents.text": "text",
    "passages.text": "text",
    "passages.embedding": "passage_vectors",
    "passages.sentence_vectors": "sentence_vectors",
    "passage_tokens.*": "token_vectors",  # the vectors themselves, in SQLite
    "token_spans.*": "token_vectors",  # where each passage's are in the tokens/ files
}
"""SQLite columns (or whole tables) that belong to a part; the rest count as ``other``."""
console = Console(stderr=True)


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, default=ROOT.parent / "shared/bench/scifact",
                        help="BEIR SciFact folder (corpus.jsonl, queries.jsonl, qrels/)")  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first N documents (a quick run)")
    parser.add_argument(
        "--keep", type=Path, help="work in this folder and keep it (else a temp dir)"
    )
    parser.add_argument("--no-txtai", action="store_true", help="skip txtai's side")
    return parser.parse_args()


# -- the corpus ---------------------------------------------------------------------------


def cut_corpus(scifact: Path, limit: int, work: Path) -> Path:
    """A BEIR folder with the first ``limit`` documents and the test qrels that judge them
    (no README: the published figures are for the whole corpus)."""
    folder = work / f"{scifact.resolve().name}-first{limit}"
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    ids: set[str] = set()
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as src, \
            (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:  # fmt: skip
        for line in src:
            if len(ids) >= limit:
                break
            if line.strip():
                ids.add(str(json.loads(line)["_id"]))
                out.write(line)
    lines = (scifact / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    kept = [lines[0], *(line for line in lines[1:] if line.split("\t")[1] in ids)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_bytes((scifact / "queries.jsonl").read_bytes())
    return folder


# -- ingest -------------------------------------------------------------------------------


def ingest(corpus: Path, data: Path) -> dict[str, float]:
    """`citeqa ingest` as a child process (its own progress bars on the terminal): wall
    seconds and its peak RSS, from the child's own rusage (``wait4``)."""
    console.print(f"citeqa ingest {corpus} --data-dir {data}")
    started = time.perf_counter()
    child = os.posix_spawn(str(CITEQA), [str(CITEQA), "ingest", str(corpus), "--data-dir",
                                         str(data)], os.environ | {"HF_HUB_OFFLINE": "1"})  # fmt: skip
    _, status, usage = os.wait4(child, 0)
    wall = time.perf_counter() - started
    if code := os.waitstatus_to_exitcode(status):
        sys.exit(f"citeqa ingest failed with exit code {code}")
    return {"wall_s": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


# -- bytes on disk ------------------------------------------------------------------------


def column_bytes(database: Path) -> dict[str, int]:
    """Bytes held in each column of each table: text as UTF-8, blobs as stored, numbers
    as their decimal digits (only text and blobs are counted in a part)."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
        sizes: dict[str, int] = {}
        for table in tables:
            for column in [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]:
                query = f'SELECT sum(length(CAST("{column}" AS BLOB))) FROM "{table}"'
                sizes[f"{table}.{column}"] = int(db.execute(query).fetchone()[0] or 0)
        return sizes
    finally:
        db.close()


def column_part(column: str) -> str | None:
    table = column.split(".")[0]
    return COLUMN_PARTS.get(column) or COLUMN_PARTS.get(f"{table}.*")


def file_part(path: Path, data: Path) -> str:
    """Which part a file of the data dir belongs to; token vectors may live in files
    (memory-mapped) named tokens*, or in a tokens* folder, not only in SQLite."""
    relative = path.relative_to(data)
    if any(part.startswith("tokens") for part in relative.parts):
        return "token_vectors"
    if path.name.startswith("citeqa.sqlite3"):
        return "sqlite"
    if relative.parts[0] == "indexes" and "bm25" in relative.parts:
        return "bm25"
    if relative.parts[0] == "indexes" and (
        path.name.startswith("dense") or "dense" in relative.parts
    ):
        return "faiss"
    return "other"


def disk_usage(data: Path) -> dict[str, Any]:
    """Bytes by part; the parts and ``other`` add up to ``total``."""
    files: dict[str, int] = {}
    for path in data.rglob("*"):
        if path.is_file():
            part = file_part(path, data)
            files[part] = files.get(part, 0) + path.stat().st_size
    columns = column_bytes(data / "citeqa.sqlite3")
    parts = dict.fromkeys(PARTS, 0)
    for column, size in columns.items():
        if owner := column_part(column):
            parts[owner] += size
    for part in ("token_vectors", "faiss", "bm25"):
        parts[part] += files.get(part, 0)
    total = sum(files.values())
    return {
        "bytes": parts | {"other": total - sum(parts.values())},
        "bytes_total": total,
        "sqlite_bytes": files.get("sqlite", 0),
        "token_vector_file_bytes": files.get("token_vectors", 0),
        "sqlite_column_bytes": columns,
        "index_generations": len(list((data / "indexes").glob("gen-*"))),
    }


def counts(data: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{data / 'citeqa.sqlite3'}?mode=ro", uri=True)
    try:
        documents, passages = (int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                               for t in ("documents", "passages"))  # fmt: skip
        generation = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return {"documents": documents, "passages": passages,
                "generation": int(generation[0]) if generation else 0}  # fmt: skip
    finally:
        db.close()


# -- quality ------------------------------------------------------------------------------


def ndcg(folder: Path, cache: Path, data: Path, work: Path) -> dict[str, Any]:
    """`citeqa eval` (hybrid, test split) over the data dir just built; it must find that
    very dir (``meta.data_dir``) and change nothing in it."""
    reports, before = work / "reports", counts(data)
    command = [str(CITEQA), "eval", "--beir", str(folder), "--split", "test", "--mode",
               "hybrid", "--cache", str(cache), "--reports", str(reports), "--name", "ingest"]  # fmt: skip
    console.print(" ".join(command[1:]))
    child = os.posix_spawn(str(CITEQA), command, os.environ | {"HF_HUB_OFFLINE": "1"})
    if code := os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]):
        return {"skipped": f"citeqa eval failed with exit code {code}"}
    report = json.loads((reports / "ingest.json").read_text())
    if Path(report["meta"]["data_dir"]).resolve() != data.resolve() or counts(data) != before:
        return {"skipped": f"citeqa eval did not reuse {data}: {report['meta']['data_dir']}"}
    [scores] = report["scores"]
    return {"split": report["meta"]["split"], "ndcg_at_10": round(scores["ndcg_at_10"], 3),
            "recall_at_100": round(scores["recall_at_100"], 3),
            "mrr_at_10": round(scores["mrr_at_10"], 3)}  # fmt: skip


# -- report -------------------------------------------------------------------------------


def chart(result: dict[str, Any], path: Path) -> None:
    """Bytes by part, largest on top, in MB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(result["bytes"].items(), key=lambda item: item[1])
    names = {"faiss": f"faiss ({result['index_generations']} generations)", "bm25": "bm25 (same)"}
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [names.get(name, name.replace("_", " ")) for name, _ in items]
    bars = ax.barh(labels, [b / 1e6 for _, b in items])
    ax.bar_label(bars, labels=[f"{b / 1e6:,.1f} MB" for _, b in items], fontsize=8, padding=2)
    ax.margins(x=0.12)
    ax.set_xlabel("MB on disk")
    ax.set_title(f"SciFact ingest, {result['documents']:,} documents, {result['passages']:,} "
                 f"passages: {result['bytes_total'] / 1e6:,.0f} MB, {result['wall_s']:.0f} s, "
                 f"{result['passages_per_s']:.1f} passages/s, peak RSS "
                 f"{result['peak_rss_mb']:,.0f} MB"
                 + (f"; txtai {result['txtai']['index_build_s']:.0f} s" if "index_build_s"
                    in result.get("txtai", {}) else ""), fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    folder = cut_corpus(args.scifact, args.limit, work) if args.limit else args.scifact
    cache = work / "eval-cache"
    data = cache_dir(cache, folder, Settings().engine_config())
    if data.exists():
        sys.exit(f"{data} already exists; give --keep an empty folder")
    cost = ingest(folder / "corpus.jsonl", data)
    found = counts(data)
    result: dict[str, Any] = {
        "corpus": str(folder / "corpus.jsonl"),
        "limit": args.limit,
        "documents": found["documents"],
        "passages": found["passages"],
        **cost,
        "passages_per_s": round(found["passages"] / cost["wall_s"], 2),
        "wall_note": "includes process start and model load",
        **disk_usage(data),
        "data_dir": str(data) if args.keep else "(temporary)",
    }
    result["quality"] = ndcg(folder, cache, data, work)
    if not args.no_txtai:
        result["txtai"] = txtai_ingest(data, work, cost["wall_s"])
    if args.limit:
        result["quality"]["note"] = "first documents only, qrels cut to them: not comparable"
    return result


def txtai_ingest(data: Path, work: Path, citeqa_s: float) -> dict[str, Any]:
    """txtai indexing the very passages citeqa stored (its venv, process start and model
    load included, as in citeqa's wall time). Both embed each passage once (torch);
    citeqa also splits sentences, pools their vectors and keeps token vectors."""
    _, found = prepare_txtai(data, work)
    if "index_build_s" in found:
        found["citeqa_to_txtai_wall"] = round(citeqa_s / found["index_build_s"], 2)
    return found


def export_models() -> None:
    """The ONNX exports, outside the data dir (they are not index data) and made before
    the timed ingest, so the wall time is the ingest's alone."""
    from index.model.embedder import embedder_for

    config = Settings(data_dir=MODEL_CACHE, model_cache=MODEL_CACHE).engine_config()
    embedder = embedder_for(config)
    embedder.embed("warm up")  # the question runtime
    embedder.embed_many(["warm up"])  # the passage runtime


def main() -> None:
    args = options()
    os.environ["CITEQA_MODEL_CACHE"] = str(MODEL_CACHE)  # for every child process too
    export_models()
    if not (args.scifact / "corpus.jsonl").is_file():
        sys.exit(
            f"{args.scifact}/corpus.jsonl not found; pass --scifact (or SCIFACT=) a BEIR folder"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run(args, work)
    (OUT / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    chart(result, OUT / "ingest.png")
    print(json.dumps({k: v for k, v in result.items() if k != "sqlite_column_bytes"}, indent=2))
    console.print(f"wrote {OUT / 'ingest.json'} and {OUT / 'ingest.png'}")


if __name__ == "__main__":
    main()
