"""Token vector codes: int8 with a scale per token, or a trained product quantizer.

Both stores keep late interaction's token vectors as these codes (Milvus as int8 only),
so the codecs belong to neither.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.files import fsync_dir

Vectors = npt.NDArray[np.float32]
Codes = npt.NDArray[np.uint8]

SUBVECTOR = 8
"""Dimensions per product-quantizer byte."""


def _faiss() -> Any:
    import faiss

    return faiss


class Int8Codec:
    """One float16 scale per token and one int8 per dimension (no training)."""

    name = "int8"

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension

    def encode(self, vectors: Vectors) -> Codes:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        peak = np.abs(vectors).max(axis=1, initial=0.0)
        scales = (np.maximum(peak, 1e-12) / 127).astype(np.float16)
        codes = np.rint(vectors / np.maximum(scales.astype(np.float32), 1e-12)[:, None])
        rows = np.empty((len(vectors), self.dimension + 2), dtype=np.uint8)
        rows[:, :2] = scales.view(np.uint8).reshape(-1, 2)
        rows[:, 2:] = np.clip(codes, -127, 127).astype(np.int8).view(np.uint8)
        return rows

    def decode(self, codes: Codes) -> Vectors:
        codes = np.ascontiguousarray(codes)
        scales = codes[:, :2].copy().view(np.float16).astype(np.float32)
        values = codes[:, 2:].view(np.int8).astype(np.float32)
        decoded: Vectors = values * scales
        return decoded


class PQCodec:
    """FAISS product quantizer: ``dimension / SUBVECTOR`` bytes per token."""

    def __init__(self, quantizer: Any, name: str) -> None:
        self._pq = quantizer
        self.dimension = int(quantizer.d)
        self.name = name

    @staticmethod
    def fits(dimension: int) -> bool:
        return dimension % SUBVECTOR == 0

    @classmethod
    def train(cls, sample: Vectors, tag: str) -> PQCodec:
        """``tag`` makes the name unique: a codec file is never replaced by another."""
        faiss = _faiss()
        dimension = int(sample.shape[1])
        quantizer = faiss.ProductQuantizer(dimension, dimension // SUBVECTOR, 8)
        quantizer.train(np.ascontiguousarray(sample, dtype=np.float32))
        return cls(quantizer, f"pq{dimension // SUBVECTOR}{tag}")

    @classmethod
    def load(cls, path: Path, name: str) -> PQCodec:
        return cls(_faiss().read_ProductQuantizer(str(path)), name)

    def save(self, path: Path) -> None:
        faiss = _faiss()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        faiss.write_ProductQuantizer(self._pq, str(tmp))
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)

    def encode(self, vectors: Vectors) -> Codes:
        codes: Codes = self._pq.compute_codes(np.ascontiguousarray(vectors, dtype=np.float32))
        return codes

    def decode(self, codes: Codes) -> Vectors:
        decoded: Vectors = self._pq.decode(np.ascontiguousarray(codes, dtype=np.uint8))
        return decoded


Codec = Int8Codec | PQCodec
