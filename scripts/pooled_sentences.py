"""Issue 13 lever, measured and not adopted: sentence vectors pooled from the passage's
own token states (one model pass) instead of embedding every sentence a second time.

    python scripts/pooled_sentences.py separate|pooled

Builds the seed index in a temp dir with that kind of sentence vectors and prints the
seed eval (hybrid). Pooled vectors sit at cosine ~0.83 from the separate ones and move
the answerable flag (README, "Speed").
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import index.write.ingest as ingest  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.searchers import EngineSearcher  # noqa: E402
from eval.seed import run_seed_eval  # noqa: E402
from index import Engine, EngineConfig, SentenceTransformerEmbedder, read_path  # noqa: E402
from index.read.passages import indexed_text  # noqa: E402

Vectors = npt.NDArray[np.float32]


def pool_spans(
    states: Vectors, offsets: npt.NDArray[np.int64], spans: list[tuple[int, int]]
) -> tuple[Vectors, list[int]]:
    """The mean token state inside each character span, unit length; and the spans no
    token fell in (cut off by the model's length limit)."""
    pooled = np.zeros((len(spans), states.shape[1]), dtype=np.float32)
    missing: list[int] = []
    real = offsets[:, 1] > offsets[:, 0]
    for i, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        if not inside.any():
            missing.append(i)
            continue
        mean = states[inside].mean(axis=0)
        pooled[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return pooled, missing


def pooled_embed(original: Any) -> Any:
    def embed(self: ingest.Writer, changes: Any, progress: Any) -> Any:
        out = original(self, changes, progress)
        model = self.embedder._load()  # type: ignore[attr-defined]
        texts, spans = [], []
        for change in changes:
            for p in change.prepared.passages:
                text = change.prepared.passage_text(p)
                full = indexed_text(text, change.prepared.document.title, True)
                shift = len(full) - len(text) - p.span.start
                texts.append(full)
                spans.append([(s.start + shift, s.end + shift) for s in p.sentences])
        states = model.encode(texts, output_value="token_embeddings", batch_size=32)
        offsets = model.tokenizer(
            texts, return_offsets_mapping=True, truncation=True, max_length=model.max_seq_length
        )["offset_mapping"]
        sentences = []
        for state, offset, span, old in zip(
            states, offsets, spans, out.sentence_vectors, strict=True
        ):
            rows = state.float().numpy()
            pooled, missing = pool_spans(rows, np.asarray(offset)[: len(rows)], span)
            pooled[missing] = old[missing]
            sentences.append(pooled)
        cosine = np.mean(
            [
                np.mean(np.sum(a * b, 1))
                for a, b in zip(sentences, out.sentence_vectors, strict=True)
            ]
        )
        print(f"mean cosine, pooled vs separate sentence vectors: {cosine:.3f}")
        return ingest._Embedded(out.changes, out.vectors, sentences, out.token_vectors)

    return embed


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "pooled"
    if mode == "pooled":
        ingest.Writer._embed = pooled_embed(ingest.Writer._embed)  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as folder:
        config = EngineConfig(data_dir=Path(folder), runtime="torch")
        engine = Engine.open(config, SentenceTransformerEmbedder(), create=True)
        engine.ingest(read_path(ROOT / "seeds"))
        questions = load_questions(ROOT / "eval/questions.jsonl")
        summary = run_seed_eval(questions, EngineSearcher(engine), ["hybrid"]).by_mode["hybrid"]
        engine.close()
    print(mode, {k: v for k, v in vars(summary).items() if isinstance(v, float)})


if __name__ == "__main__":
    main()
