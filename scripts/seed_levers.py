"""Seed-question levers that need re-indexing (passage size, title) crossed with fusion.

    python scripts/seed_levers.py

Prints one line per setting (hybrid, answerable questions). Seconds per setting: the
seed articles are small, so every variant is indexed from scratch in a temp folder.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.questions import load_questions  # noqa: E402
from eval.searchers import EngineSearcher  # noqa: E402
from eval.seed import run_seed_eval  # noqa: E402
from index import ChunkSpec, Engine, EngineConfig, SentenceTransformerEmbedder, read_path  # noqa: E402

SEARCH: dict[str, dict[str, object]] = {
    "rrf": {},
    "rrf+sentence 0.5": {"sentence_weight": 0.5},
    "rrf+sentence 1.0": {"sentence_weight": 1.0},
    "rrf+sentence 2.0": {"sentence_weight": 2.0},
    "weighted d=0.5": {"fusion": "weighted", "dense_weight": 0.5},
    "weighted d=0.5+sentence 0.3": {
        "fusion": "weighted",
        "dense_weight": 0.5,
        "sentence_weight": 0.3,
    },
    "weighted d=0.5+sentence 0.6": {
        "fusion": "weighted",
        "dense_weight": 0.5,
        "sentence_weight": 0.6,
    },
    "weighted d=0.4+sentence 0.5": {
        "fusion": "weighted",
        "dense_weight": 0.4,
        "sentence_weight": 0.5,
    },
}
INDEXING = [(500, False), (500, True), (300, False), (300, True), (800, True)]


def main() -> None:
    embedder = SentenceTransformerEmbedder()
    questions = [q for q in load_questions(ROOT / "eval/questions.jsonl") if q.answerable]
    print("| chunk | title | search | hit@1 | hit@5 | recall@5 | MRR@10 | highlight@1 | chars |")
    print("|---|---|---|---|---|---|---|---|---|")
    for chunk, title in INDEXING:
        with tempfile.TemporaryDirectory() as folder:
            config = EngineConfig(Path(folder), chunk=ChunkSpec(chunk), title_in_index=title)
            engine = Engine.open(config, embedder, create=True)
            engine.ingest(read_path(ROOT / "seeds"))
            for name, search in SEARCH.items():
                engine.config = dataclasses.replace(config, **search)  # type: ignore[arg-type]
                s = run_seed_eval(questions, EngineSearcher(engine), ["hybrid"]).by_mode["hybrid"]
                print(f"| {chunk} | {title} | {name} | {s.hit_at_1:.3f} | {s.hit_at_5:.3f} | "
                      f"{s.recall_at_5:.3f} | {s.mrr_at_10:.3f} | {s.highlight_at_1:.3f} | "
                      f"{s.mean_passage_chars:.0f} |", flush=True)  # fmt: skip
            engine.close()


if __name__ == "__main__":
    main()
