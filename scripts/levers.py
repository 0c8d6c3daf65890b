"""Measure retrieval levers on SciFact (train by default) and the seed questions.

    python scripts/levers.py [--split train] [--passages 300]

Each embedding variant is indexed once (cached under data/eval); search variants reuse it.
Writes eval/reports/levers-<split>.md/.json and a chart. Tune on train; report test once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.beir import load_split, score_split  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.report import bar_chart, markdown_table  # noqa: E402
from eval.runner import EvalOptions, open_corpus  # noqa: E402
from eval.searchers import EngineSearcher  # noqa: E402
from eval.seed import run_seed_eval  # noqa: E402
from index import EngineConfig, SentenceTransformerEmbedder  # noqa: E402
from index.files import atomic_write  # noqa: E402

EMBEDDING = {
    "whole+title": dict(whole_docs=True, title=True),
    "p500+title": dict(whole_docs=False, title=True),
    "p500": dict(whole_docs=False, title=False),
}
_SEARCH: dict[str, dict[str, Any]] = {
    "rrf k=60": dict(fusion="rrf", rrf_k=60),
    "rrf k=20": dict(fusion="rrf", rrf_k=20),
    **{f"weighted d={w}": dict(fusion="weighted", dense_weight=w) for w in (0.3, 0.4, 0.5, 0.6)},
    **{f"rrf+sentence {w}": dict(fusion="rrf", rrf_k=60, sentence_weight=w) for w in (0.5, 1.0)},
    **{
        f"weighted d={d}+sentence {w}": dict(fusion="weighted", dense_weight=d, sentence_weight=w)
        for d in (0.4, 0.5, 0.6)
        for w in (0.2, 0.4, 0.6)
    },
}
# Every setting above is without late interaction; "late" settings add it to the defaults.
SEARCH: dict[str, dict[str, Any]] = {
    name: {"late_weight": 0.0, **search} for name, search in _SEARCH.items()
} | {
    f"defaults, late {w} depth {d}": dict(late_weight=w, late_depth=d)
    for w, d in ((0.35, 30), (0.5, 30), (0.7, 30), (0.5, 50))
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared/bench/scifact")
    parser.add_argument("--split", default="train")
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--embedding", nargs="*", default=list(EMBEDDING))
    parser.add_argument("--search", nargs="*", default=list(SEARCH))
    parser.add_argument("--name", help="report name (default: levers-<split>-<embedding>)")
    args = parser.parse_args()
    console = Console(stderr=True)
    embedder = SentenceTransformerEmbedder()
    split = load_split(args.beir, args.split)
    questions = load_questions(ROOT / "eval/questions.jsonl")
    rows: list[dict[str, Any]] = []
    with Progress(console=console) as bar:
        task = bar.add_task("levers", total=len(args.embedding) * len(args.search))
        for emb in args.embedding:
            spec = EMBEDDING[emb]
            base = EngineConfig(data_dir=Path("unused"), title_in_index=bool(spec["title"]))
            options = EvalOptions(config=base, whole_docs=bool(spec["whole_docs"]))
            beir_engine = open_corpus(
                options.engine_config(args.beir), split.corpus, None, embedder
            )
            seed_options = EvalOptions(
                config=base
            )  # seeds keep passages (whole news articles are too long)
            seed_engine = open_corpus(
                seed_options.engine_config(ROOT / "seeds"), ROOT / "seeds", None, embedder
            )
            for name in args.search:
                for engine in (beir_engine, seed_engine):
                    engine.config = dataclasses.replace(engine.config, **SEARCH[name])
                [hybrid] = score_split(beir_engine, split, ["hybrid"], args.passages)
                seed = run_seed_eval(questions, EngineSearcher(seed_engine), ["hybrid"]).by_mode[
                    "hybrid"
                ]
                row = {
                    "embedding": emb,
                    "search": name,
                    "scifact_ndcg10": hybrid.ndcg_at_10,
                    "scifact_r100": hybrid.recall_at_100,
                    "seed_hit1": seed.hit_at_1,
                    "seed_recall5": seed.recall_at_5,
                    "seed_mrr10": seed.mrr_at_10,
                    "seed_highlight1": seed.highlight_at_1,
                }
                rows.append(row)
                console.print(row)
                bar.advance(task)
            beir_engine.close()
            seed_engine.close()
    out = ROOT / "eval/reports"
    name = (
        args.name or f"levers-{args.split}-{'-'.join(e.replace('+', '_') for e in args.embedding)}"
    )
    header = list(rows[0])
    table = markdown_table(
        header, [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()] for r in rows]
    )
    atomic_write(
        out / f"{name}.md",
        f"# Levers on SciFact {args.split} and the seed questions (hybrid)\n\n{table}\n".encode(),
    )
    atomic_write(out / f"{name}.json", json.dumps(rows, indent=2).encode())
    bar_chart(
        out / f"{name}.png",
        f"Levers: SciFact {args.split} nDCG@10 and seed hit@1 (hybrid)",
        {
            f"{r['embedding']} / {r['search']}": {
                "SciFact nDCG@10": r["scifact_ndcg10"],
                "seed hit@1": r["seed_hit1"],
            }
            for r in rows
        },
    )
    print(table)


if __name__ == "__main__":
    main()
