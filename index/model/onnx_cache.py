"""An ONNX copy of a sentence-transformers model: exported once into a cache, run without torch.

sentence-transformers' own ``backend="onnx"`` needs optimum-onnx, whose releases pin
transformers below 5 while sentence-transformers 6 needs 5 or newer, so the two cannot be
installed together; the export here uses torch's exporter and onnxruntime's quantizer
instead. A folder is named by model, runtime and a digest of the source files (a changed
model gets a new folder), is built in a temp folder and renamed into place (a kill or a
second process never leaves half a cache), and is checked against its ``meta.json`` on
every open (a broken folder is exported again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.files import fsync_dir

log = logging.getLogger("citeqa")
Vectors = npt.NDArray[np.float32]

FORMAT = 1
"""Bump when the export changes: older folders are then ignored and exported again."""
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "meta.json"
STALE_SECONDS = 3600
"""A temp folder this old belongs to an exporter that died; it is removed."""
_PROBE = ["What did Bolton say about the talks?", "ok", "a longer text " * 40]
_MIN_COSINE = {"onnx": 0.999, "onnx-int8": 0.97}
"""The export is checked against torch on ``_PROBE``; below this it is not used."""


class ExportError(Exception):
    """The model cannot be exported (an unsupported pipeline, or the copy disagrees)."""


def source_digest(model_dir: Path) -> str:
    """Names, sizes and mtimes of the model's files: cheap to take on every start."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(
            f"{path.relative_to(model_dir)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()[:16]


def cache_folder(cache_root: Path, name: str, runtime: str, model_dir: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip("/\\")).strip("-.")[-60:] or "model"
    return cache_root / f"{slug}-{runtime}-{source_digest(model_dir)}"


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The folder's ``meta.json`` if every file it lists is there at its size, else None."""
    try:
        meta: dict[str, Any] = json.loads((folder / META_FILE).read_text())
        if meta.get("format") != FORMAT:
            return None
        for file, size in meta["files"].items():
            if (folder / file).stat().st_size != size:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return meta


def ensure_export(
    name: str, model_dir: Path, runtime: str, cache_root: Path, *, rebuild: bool = False
) -> Path:
    """The cache folder for this model and runtime, exported first if it is missing or
    broken (or ``rebuild``: it would not load)."""
    final = cache_folder(cache_root, name, runtime, model_dir)
    if not rebuild and read_meta(final) is not None:
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    _remove_stale(cache_root)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=cache_root))
    try:
        started = time.perf_counter()
        log.warning("exporting %s to ONNX (%s) into %s, once", name, runtime, final)
        export(model_dir, tmp, runtime)
        _install(tmp, final, replace=rebuild)
        log.info("exported %s in %.1f s", final.name, time.perf_counter() - started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _install(tmp: Path, final: Path, *, replace: bool) -> None:
    """Rename ``tmp`` to ``final``; a sound ``final`` another process put there first wins."""
    if final.exists() and (replace or read_meta(final) is None):
        trash = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            final.rename(trash)
        except OSError:
            pass  # another process moved it first
        shutil.rmtree(trash, ignore_errors=True)
    try:
        tmp.rename(final)
    except OSError:
        if read_meta(final) is None:  # not a sound folder from a concurrent export
            raise
    fsync_dir(final.parent)


def _remove_stale(cache_root: Path) -> None:
    cutoff = time.time() - STALE_SECONDS
    for entry in cache_root.glob(".*.tmp"):
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def export(model_dir: Path, dest: Path, runtime: str) -> None:
    """Write the model's token embeddings as ONNX, its tokenizer and ``meta.json`` to
    ``dest``; int8 quantizes the MatMul weights per channel (others lose too much)."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    transformer = _check_pipeline(model)
    max_length = model.max_seq_length
    if not max_length:
        raise ExportError("the model sets no max_seq_length")
    tokenizer = model.tokenizer
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
             if n in tokenizer.model_input_names]  # fmt: skip
    batch = tokenizer(_PROBE, padding=True, truncation=True, return_tensors="pt",
                      max_length=max_length)  # fmt: skip
    onnx_path = dest / (MODEL_FILE if runtime == "onnx" else "float.onnx")
    with _quiet():
        torch.onnx.export(
            _token_embeddings(transformer.auto_model, names).eval(),
            tuple(batch[n] for n in names),
            str(onnx_path),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript, and a plain graph
        )
        if runtime == "onnx-int8":
            from onnxruntime.quantization import (  # type: ignore[import-untyped]
                QuantType,
                quantize_dynamic,
            )

            quantize_dynamic(onnx_path, dest / MODEL_FILE, per_channel=True,
                             op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)  # fmt: skip
            onnx_path.unlink()
    tokenizer.backend_tokenizer.save(str(dest / TOKENIZER_FILE))
    expected = model.encode(_PROBE, normalize_embeddings=True, show_progress_bar=False)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "runtime": runtime,
        "dimension": int(expected.shape[1]),
        "max_seq_length": max_length,
        "inputs": names,
        "pad_id": tokenizer.pad_token_id or 0,
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "files": {f: (dest / f).stat().st_size for f in (MODEL_FILE, TOKENIZER_FILE)},
    }
    (dest / META_FILE).write_text(json.dumps(meta, indent=2))
    _check_copy(dest, np.asarray(expected, np.float32), _MIN_COSINE[runtime])
    for file in (MODEL_FILE, TOKENIZER_FILE, META_FILE):
        with open(dest / file, "rb") as fh:
            os.fsync(fh.fileno())


def _check_pipeline(model: Any) -> Any:
    """Only Transformer → mean Pooling (→ Normalize) is reproduced by the ONNX path."""
    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ExportError(f"modules {kinds}; only Transformer, mean Pooling, Normalize export")
    pooling = model[1].get_config_dict()
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True}
    mean_only = pooling.get("pooling_mode") == "mean" or modes == {"pooling_mode_mean_tokens"}
    if not mean_only or not hasattr(model[0], "auto_model"):
        raise ExportError(f"pooling {pooling}; only mean pooling of a text transformer exports")
    if not hasattr(model.tokenizer, "backend_tokenizer"):
        raise ExportError("the model has no fast (tokenizers) tokenizer")
    return model[0]


def _check_copy(folder: Path, expected: Vectors, min_cosine: float) -> None:
    """A traced graph can bake in a branch; compare the copy with torch before using it."""
    found = OnnxSession(folder).sentence_vectors(_PROBE)
    worst = float((found * expected).sum(axis=1).min())
    if worst < min_cosine:
        raise ExportError(f"the ONNX copy disagrees with torch (cosine {worst:.4f})")


def _token_embeddings(auto_model: Any, names: list[str]) -> Any:
    """A module whose one output is the last hidden state: the token embeddings."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = auto_model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    return TokenEmbeddings()


@contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's tracer and deprecation warnings, and the quantizer's notes on the
    root logger, are about the export, not the user's data: keep them off the console."""

    def notes(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    root = logging.getLogger()
    root.addFilter(notes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(notes)


class OnnxSession:
    """An exported folder under onnxruntime: its tokenizer and one ``session.run`` per
    batch; imports neither torch nor transformers."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]
        from tokenizers import Tokenizer

        meta = read_meta(folder)
        if meta is None:
            raise ExportError(f"{folder} is not a complete export")
        self.dimension = int(meta["dimension"])
        self._inputs: list[str] = list(meta["inputs"])
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        # Idle threads sleep instead of spinning: questions come one at a time, and the
        # CPU is shared with BM25, FAISS and the web server (spinning measured no faster).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    def run(self, texts: Sequence[str]) -> tuple[Vectors, npt.NDArray[np.int64], list[list[str]]]:
        """Token embeddings (padded), the attention mask, and each text's tokens."""
        hidden, mask, encodings = self.run_encoded(texts)
        return hidden, mask, [e.tokens for e in encodings]

    def run_encoded(self, texts: Sequence[str]) -> tuple[Vectors, npt.NDArray[np.int64], list[Any]]:
        """As ``run``, with the tokenizer's encodings (tokens and their character offsets)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        [hidden] = self._session.run(["token_embeddings"], {n: feed[n] for n in self._inputs})
        return np.asarray(hidden, np.float32), feed["attention_mask"], encodings

    def sentence_vectors(self, texts: Sequence[str]) -> Vectors:
        """Mean of the attended token embeddings, unit length (as Pooling + Normalize)."""
        hidden, mask, _ = self.run(texts)
        return mean_pool(hidden, mask)


def span_pool(
    hidden: Vectors, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> Vectors:
    """The mean token state inside each character span, unit length: a sentence's vector
    read in its passage's context. A span no token fell in (cut off by the model's length
    limit) gets a row of zeros, for the caller to embed on its own."""
    pooled = np.zeros((len(spans), hidden.shape[1]), dtype=np.float32)
    if not spans:
        return pooled
    starts, ends = np.array(offsets, dtype=np.int64).reshape(-1, 2)[: len(hidden)].T
    real = ends > starts  # special tokens and padding have empty offsets
    for i, (start, end) in enumerate(spans):
        inside = real & (starts >= start) & (ends <= end)
        if inside.any():
            mean = hidden[inside].mean(axis=0)
            pooled[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return pooled


def mean_pool(hidden: Vectors, mask: npt.NDArray[np.int64]) -> Vectors:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit
