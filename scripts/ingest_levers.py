"""Issue 23's ingest levers, each measured for speed and quality in one table.

    python scripts/ingest_levers.py [--levers before int8 ...] [--speed-docs 1000]

A lever is how passages and sentences get their vectors: what passages and questions run
on (torch, float32 or int8 ONNX), sentences embedded on their own or pooled from the
passage's pass, the batch size; and what the answerable verdict reads (the best
sentence's cosine, or MaxSim, which pooled sentence vectors now get). ``before`` is the
default before issue 23: ONNX passages, separate sentences, batch 64. For each one:

- speed: the first ``--speed-docs`` SciFact documents through the real ``Writer`` into
  a fresh data dir (passages/s; the same model process, warmed up);
- quality: the whole SciFact corpus indexed once per lever (cached under data/eval;
  ``before`` and the default reuse `make eval-scifact`'s index), nDCG@10 and R@100 on train and test
  (hybrid, 1,000 passages a question as `citeqa eval`), and the seed eval's hybrid
  figures over the seeds indexed the same way;
- the answerable threshold refit to the lever's sentence vectors without the seed
  questions: SciFact train questions against SciFact are on topic, the seed questions
  against SciFact and SciFact's against the seeds are off topic; the refit threshold is
  the highest at which the similarity test flags no more on-topic questions than it
  does ``before`` at 0.3 (``refit``), and the seed eval is then scored with it and at the
  default 0.3.

Rows whose verdict is ``sentence`` with pooled vectors were measured before the verdict
read MaxSim; the engine no longer runs that pairing, so their quality cannot be rerun.

Writes eval/reports/ingest-levers.{md,json,png}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.beir import cache_dir, load_split, score_split  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.report import bar_chart, markdown_table  # noqa: E402
from eval.runner import open_corpus  # noqa: E402
from eval.searchers import EngineSearcher  # noqa: E402
from eval.seed import run_seed_eval  # noqa: E402
from index import Engine, EngineConfig, read_path  # noqa: E402
from index.config import BUNDLED_MODEL, PassageRuntime  # noqa: E402
from index.files import atomic_write  # noqa: E402
from index.model.embedder import (  # noqa: E402
    Embedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    SplitEmbedder,
)
from index.search.answerable import closeness  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "bench" / "scifact"
CORPUS = SCIFACT / "corpus.jsonl"
SEEDS = ROOT / "seeds"
MODELS = ROOT / "data" / "models"
REPORT = ROOT / "eval" / "reports" / "ingest-levers"
TODAY_THRESHOLD = 0.3


@dataclass(frozen=True)
class Lever:
    passages: str  # "torch", "onnx" (float32) or "onnx-int8"
    questions: str
    sentences: str  # "separate" or "pooled"
    batch_size: int = 64
    verdict: str = "sentence"  # what the answerable check reads: "sentence" or "maxsim"

    def config(self, data_dir: Path) -> EngineConfig:
        runtime: PassageRuntime = "torch" if self.passages == "torch" else "onnx"
        return EngineConfig(data_dir=data_dir, sentence_vectors=self.sentences,  # type: ignore[arg-type]
                            passage_runtime=runtime, batch_size=self.batch_size,
                            model_cache=MODELS)  # fmt: skip

    def embedder(self) -> Embedder:
        passages: Embedder = (SentenceTransformerEmbedder(BUNDLED_MODEL) if self.passages == "torch"
                              else OnnxEmbedder(BUNDLED_MODEL, self.passages, MODELS))  # fmt: skip
        if self.questions == self.passages:
            return passages
        return SplitEmbedder(OnnxEmbedder(BUNDLED_MODEL, self.questions, MODELS), passages)

    @property
    def vectors(self) -> str:
        """What decides the stored vectors (batch size does not)."""
        return f"{self.passages}-{self.sentences}"

    @property
    def runnable(self) -> bool:
        """The engine reads MaxSim whenever sentences are pooled."""
        return (self.verdict == "maxsim") == (self.sentences == "pooled")


LEVERS = {
    "before": Lever("onnx", "onnx", "separate"),
    "before, batch 16": Lever("onnx", "onnx", "separate", 16),
    "int8 questions": Lever("onnx", "onnx-int8", "separate"),
    "int8": Lever("onnx-int8", "onnx-int8", "separate"),
    "pooled": Lever("onnx", "onnx", "pooled"),
    "pooled, batch 16": Lever("onnx", "onnx", "pooled", 16),
    "int8 + pooled": Lever("onnx-int8", "onnx-int8", "pooled"),
    "int8 + pooled, batch 16": Lever("onnx-int8", "onnx-int8", "pooled", 16),
    "int8 + pooled, batch 32": Lever("onnx-int8", "onnx-int8", "pooled", 32),
    "torch passages, batch 16": Lever("torch", "onnx", "separate", 16),
    "pooled + MaxSim, batch 16": Lever("onnx", "onnx", "pooled", 16, "maxsim"),
    "torch + pooled + MaxSim, batch 16 (default)": Lever("torch", "onnx", "pooled", 16, "maxsim"),
}
console = Console(stderr=True)


def data_dir(lever: Lever, corpus: Path) -> Path:
    """``before`` and the default share `make eval-scifact`'s and `make eval`'s cache
    (``cache_dir`` tells them apart); others have their own."""
    root = ROOT / "data" / "eval"
    if lever.vectors not in ("onnx-separate", "torch-pooled"):
        root = root / f"levers-{lever.vectors}"
    return cache_dir(root, corpus, lever.config(Path("unused")))


def speed(lever: Lever, documents: int) -> dict[str, float]:
    embedder = lever.embedder()
    embedder.embed_passages(["warm up the model"], [[(0, 4)]])
    docs = list(islice(read_path(CORPUS), documents))
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(lever.config(Path(tmp)), embedder, create=True)
        started = time.perf_counter()
        report = engine.ingest(docs)
        seconds = time.perf_counter() - started
        engine.close()
    return {"speed_docs": documents, "speed_passages": report.passages, "speed_s": seconds,
            "passages_per_s": report.passages / seconds}  # fmt: skip


def max_similarities(engine: Engine, questions: Sequence[str]) -> list[tuple[float, bool]]:
    """Per question: the closeness the verdict reads (best sentence cosine or MaxSim), and
    whether the verdict's other tests (names, quantities) pass."""
    config = engine.config
    engine.config = dataclasses.replace(config, answerable_threshold=-1.0)
    by_tokens = config.verdict_reads_tokens
    found = []
    for question in questions:
        result = engine.search(question, 5, "hybrid")
        best = max((closeness(h, by_tokens) for h in result.hits[:5]), default=-1.0)
        found.append((best, result.answerable))
    engine.config = config
    return found


def flagged(sims: Sequence[tuple[float, bool]], threshold: float) -> float:
    return sum(not (other and best >= threshold) for best, other in sims) / max(len(sims), 1)


def below(sims: Sequence[tuple[float, bool]], threshold: float) -> float:
    """The share of questions the similarity test alone flags at ``threshold``."""
    return sum(best < threshold for best, _ in sims) / max(len(sims), 1)


def refit(on: Sequence[tuple[float, bool]], target: float) -> float:
    """The highest threshold at which the similarity test alone flags at most ``target``
    of the on-topic questions (the name and quantity tests flag the same questions
    whatever the vectors, so fitting the whole verdict can leave no threshold at all)."""
    best = 0.0
    for step in range(0, 1001):
        threshold = step / 1000
        if below(on, threshold) <= target:
            best = threshold
    return best


def quality(lever: Lever, on_target: float | None) -> dict[str, Any]:
    embedder = lever.embedder()
    started = time.perf_counter()
    fresh = not data_dir(lever, SCIFACT).exists()
    scifact = open_corpus(lever.config(data_dir(lever, SCIFACT)), CORPUS, None, embedder)
    row: dict[str, Any] = {"full_ingest_s": time.perf_counter() - started} if fresh else {}
    seeds = open_corpus(lever.config(data_dir(lever, SEEDS)), SEEDS, None, embedder)
    splits = {name: load_split(SCIFACT, name) for name in ("train", "test")}
    for name, split in splits.items():
        [hybrid] = score_split(scifact, split, ["hybrid"], 1000)
        row[f"{name}_ndcg10"], row[f"{name}_r100"] = hybrid.ndcg_at_10, hybrid.recall_at_100
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    on = max_similarities(scifact, list(splits["train"].queries.values()))
    off = max_similarities(scifact, [q.question for q in questions])
    off += max_similarities(seeds, list(splits["train"].queries.values())[:200])
    row["on_flagged@0.3"], row["off_flagged@0.3"] = flagged(on, 0.3), flagged(off, 0.3)
    row["on_below@0.3"] = below(on, TODAY_THRESHOLD)
    threshold = TODAY_THRESHOLD if on_target is None else refit(on, on_target)
    row["threshold"] = threshold
    row["off_flagged@refit"] = flagged(off, threshold)
    for label, value in (("", TODAY_THRESHOLD), ("refit_", threshold)):
        seeds.config = dataclasses.replace(seeds.config, answerable_threshold=value)
        seed = run_seed_eval(questions, EngineSearcher(seeds), ["hybrid"]).by_mode["hybrid"]
        row |= {f"{label}seed_hit1": seed.hit_at_1, f"{label}seed_highlight1": seed.highlight_at_1,
                f"{label}seed_unans_flagged": seed.unanswerable_flagged,
                f"{label}seed_ans_flagged": seed.answerable_flagged}  # fmt: skip
    scifact.close()
    seeds.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levers", nargs="*", default=list(LEVERS), choices=list(LEVERS))
    parser.add_argument("--speed-docs", type=int, default=1000)
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--no-speed", action="store_true", help="keep the speed measured before")
    args = parser.parse_args()
    out = REPORT.with_suffix(".json")
    rows: dict[str, dict[str, Any]] = json.loads(out.read_text()) if out.exists() else {}
    on_target: float | None = None
    for name in args.levers:
        lever = LEVERS[name]
        console.print(f"[bold]{name}[/]: speed on {args.speed_docs} documents")
        row: dict[str, Any] = {"lever": dataclasses.asdict(lever)}
        if args.no_speed and name in rows:
            row |= {k: v for k, v in rows[name].items() if k.startswith("speed") or k in (
                "passages_per_s", "full_ingest_s")}  # fmt: skip
        else:
            row |= speed(lever, args.speed_docs)
        done = [r for n, r in rows.items() if n != name and LEVERS[n].vectors == lever.vectors
                and LEVERS[n].questions == lever.questions and LEVERS[n].verdict == lever.verdict
                and "train_ndcg10" in r]  # fmt: skip
        if not args.no_quality and not done and not lever.runnable:
            console.print(f"[yellow]{name}[/]: its verdict is no longer run; quality kept")
            row |= {k: v for k, v in rows.get(name, {}).items() if k not in row}
        elif not args.no_quality and not done:
            console.print(f"[bold]{name}[/]: quality")
            if on_target is None and "before" in rows and "on_below@0.3" in rows["before"]:
                on_target = float(rows["before"]["on_below@0.3"])
            row |= quality(lever, None if lever.sentences == "separate" else on_target)
            if name == "before":
                on_target = float(row["on_below@0.3"])
        elif done:
            row |= {k: v for k, v in done[0].items() if k not in row and k != "full_ingest_s"}
        rows[name] = row
        console.print(row)
        atomic_write(out, json.dumps(rows, indent=2).encode())
    write_report(rows)


COLUMNS = [
    ("passages/s", "passages_per_s", "{:.1f}"),
    ("whole SciFact ingest", "full_ingest_s", "{:.0f} s"),
    ("train nDCG@10", "train_ndcg10", "{:.3f}"),
    ("test nDCG@10", "test_ndcg10", "{:.3f}"),
    ("test R@100", "test_r100", "{:.3f}"),
    ("seed hit@1", "seed_hit1", "{:.3f}"),
    ("seed highlight@1", "seed_highlight1", "{:.3f}"),
    ("threshold", "threshold", "{:.3f}"),
    ("verdict", "verdict", "{}"),
    ("on-topic flagged", "on_flagged@0.3", "{:.3f}"),
    ("off-topic flagged (0.3)", "off_flagged@0.3", "{:.3f}"),
    ("seed ans. flagged (0.3)", "seed_ans_flagged", "{:.3f}"),
    ("off-topic flagged (refit)", "off_flagged@refit", "{:.3f}"),
    ("seed unans. flagged (refit)", "refit_seed_unans_flagged", "{:.3f}"),
    ("seed ans. flagged (refit)", "refit_seed_ans_flagged", "{:.3f}"),
]


def write_report(rows: dict[str, dict[str, Any]]) -> None:
    def cell(row: dict[str, Any], key: str, fmt: str) -> str:
        if key == "verdict":
            return LEVERS[row["name"]].verdict
        return fmt.format(row[key]) if isinstance(row.get(key), int | float) else "-"

    table = markdown_table(["lever", *(c[0] for c in COLUMNS)],
                           [[name, *(cell({**r, "name": name}, k, f) for _, k, f in COLUMNS)]
                            for name, r in rows.items()])  # fmt: skip
    text = (
        f"# Ingest levers (issue 23)\n\n- command: `python scripts/ingest_levers.py`\n\n{table}\n"
    )
    atomic_write(REPORT.with_suffix(".md"), text.encode())
    bar_chart(REPORT.with_suffix(".png"), "Ingest levers: speed (x before) and quality",
              {name: {"speed x before": r["passages_per_s"] / rows.get("before", r)["passages_per_s"],
                      "SciFact test nDCG@10": r.get("test_ndcg10", 0.0),
                      "seed hit@1": r.get("seed_hit1", 0.0)}
               for name, r in rows.items()})  # fmt: skip
    print(table)


if __name__ == "__main__":
    main()
