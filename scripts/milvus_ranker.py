"""Milvus's own hybrid ranking against citeqa's fusion, on the seed eval, over Milvus Lite.

The Milvus store runs Milvus's dense search and its BM25 search and lets citeqa fuse the
two lists (weighted, min-max normalized scores), add the best-sentence list and reorder
the head by late interaction. Milvus can fuse the two itself (``hybrid_search`` with an
RRF or weighted ranker) in one call, but returns only the fused score. This measures what
that would cost in quality, on the same index and questions:

- ``citeqa`` (the default): citeqa's fusion with the sentence list and late interaction;
- ``citeqa, dense+BM25 only``: citeqa's weighted fusion of the two lists alone;
- ``milvus rrf`` / ``milvus weighted``: Milvus's ``hybrid_search`` ranking, taken as is.

Run: ``.venv/bin/python scripts/milvus_ranker.py`` -> eval/reports/milvus-ranker.{md,json}
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from eval.questions import load_questions
from eval.searchers import EngineSearcher
from eval.seed import RETRIEVAL, run_seed_eval
from index import Engine, EngineConfig, read_path
from index.model.embedder import embedder_for
from index.read.terms import stemmed_terms
from index.store.milvus.storage import MilvusStorage
from index.store.protocol import Ranked

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "eval" / "reports"
FIGURES = (*RETRIEVAL, "unanswerable_flagged", "answerable_flagged")


def milvus_ranked(storage: MilvusStorage, ranker: Any) -> Callable[..., tuple[Ranked, Ranked]]:
    """``Storage.retrieve`` answered by one ``hybrid_search`` call: Milvus's fused list in
    place of the dense one, no BM25 list (so citeqa's fusion keeps Milvus's order)."""
    from pymilvus import AnnSearchRequest

    plain = storage.retrieve

    def retrieve(question: str, query: Any, depth: int, mode: str, filters: Any, laps: Any) -> Any:
        terms = stemmed_terms([question])[0]
        if mode != "hybrid" or not terms:
            return plain(question, query, depth, mode, filters, laps)
        requests = [
            AnnSearchRequest(data=[np.asarray(query, dtype=np.float32).tolist()],
                             anns_field="dense", param={"metric_type": "IP"}, limit=depth),
            AnnSearchRequest(data=[terms], anns_field="sparse", param={}, limit=depth),
        ]  # fmt: skip
        found = storage.client.hybrid_search(
            storage.names["passages"], requests, ranker=ranker, limit=depth, output_fields=["seq"]
        )
        laps.lap("dense")
        return [(int(h["id"]), float(h["distance"])) for h in found[0]], []

    return retrieve


def main() -> None:
    from pymilvus import RRFRanker, WeightedRanker

    console = Console()
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    with tempfile.TemporaryDirectory() as folder:
        base = EngineConfig(data_dir=Path(folder), store="milvus",
                            model_cache=ROOT / "bench" / ".model-cache")  # fmt: skip
        embedder = embedder_for(base)
        writer = Engine.open(base, embedder, create=True)
        writer.ingest(read_path(ROOT / "seeds"))
        writer.close()
        variants: dict[str, tuple[EngineConfig, Any]] = {
            "citeqa (default)": (base, None),
            "citeqa, dense+BM25 only": (
                dataclasses.replace(base, sentence_weight=0.0, late_weight=0.0), None),
            "milvus rrf (k=60)": (
                dataclasses.replace(base, sentence_weight=0.0, late_weight=0.0), RRFRanker(60)),
            "milvus weighted (0.5, 0.5)": (
                dataclasses.replace(base, sentence_weight=0.0, late_weight=0.0),
                WeightedRanker(0.5, 0.5)),
        }  # fmt: skip
        results: dict[str, dict[str, float | None]] = {}
        for name, (config, ranker) in variants.items():
            engine = Engine.open(config, embedder)
            storage = engine.storage
            assert isinstance(storage, MilvusStorage)
            if ranker is not None:
                storage.retrieve = milvus_ranked(storage, ranker)  # type: ignore[method-assign]
            run = run_seed_eval(questions, EngineSearcher(engine), ["hybrid"])
            summary = run.by_mode["hybrid"]
            results[name] = {f: getattr(summary, f) for f in FIGURES}
            engine.close()
            console.print(f"{name}: done")
    table = Table(title=f"seed eval, hybrid, {len(questions)} questions, Milvus Lite")
    table.add_column("ranking")
    for figure in FIGURES:
        table.add_column(figure, justify="right")
    for name, figures in results.items():
        table.add_row(name, *(f"{v:.3f}" if v is not None else "-" for v in figures.values()))
    console.print(table)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "milvus-ranker.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| ranking | " + " | ".join(FIGURES) + " |", "|---" * (len(FIGURES) + 1) + "|"]
    for name, figures in results.items():
        cells = " | ".join(f"{v:.3f}" if v is not None else "-" for v in figures.values())
        lines.append(f"| {name} | {cells} |")
    (REPORTS / "milvus-ranker.md").write_text(
        "# Milvus's hybrid ranking vs citeqa's fusion (seed eval, hybrid)\n\n"
        "`.venv/bin/python scripts/milvus_ranker.py`\n\n" + "\n".join(lines) + "\n"
    )
    console.print(f"wrote {REPORTS / 'milvus-ranker.md'} and .json")


if __name__ == "__main__":
    main()
