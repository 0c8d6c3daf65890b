"""Vector search backends over unit vectors, keyed by passage row id.

``FaissVectors`` (inner product, ``IndexIDMap2`` so ids are passage row ids and
single passages can be removed) and ``NumpyVectors`` (brute force, no dependency)
answer the same calls, so either can sit behind the search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.errors import IndexStateError

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]


class VectorIndex:
    """Interface: add, remove, search, save and load vectors by integer id."""

    dimension: int

    def __len__(self) -> int:
        raise NotImplementedError

    def add(self, ids: Ids, vectors: Vectors) -> None:
        raise NotImplementedError

    def remove(self, ids: Ids) -> None:
        raise NotImplementedError

    def search(self, query: Vectors, k: int, allowed: Ids | None = None) -> list[tuple[int, float]]:
        """Best ``k`` (id, inner product) pairs for one query vector, best first; with
        ``allowed``, only among those ids."""
        raise NotImplementedError

    def ids(self) -> Ids:
        """Every id held, ascending."""
        raise NotImplementedError

    def copy(self) -> VectorIndex:
        """An independent copy: a writer changes the copy while searches read the original."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("the FAISS backend needs faiss-cpu: pip install faiss-cpu") from exc
    return faiss


class FaissVectors(VectorIndex):
    """Exact inner-product search in FAISS."""

    def __init__(self, dimension: int, index: Any = None) -> None:
        faiss = _faiss()
        self.dimension = dimension
        self._index = (
            index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        )

    @classmethod
    def load(cls, path: Path) -> FaissVectors:
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexStateError(f"cannot read the FAISS index at {path}: {exc}") from exc
        return cls(int(index.d), index)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: Ids) -> None:
        if len(ids):
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: Vectors, k: int, allowed: Ids | None = None) -> list[tuple[int, float]]:
        if not len(self) or k <= 0 or (allowed is not None and not len(allowed)):
            return []
        params = None
        if allowed is not None:
            faiss = _faiss()
            params = faiss.SearchParameters(
                sel=faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            )
        scores, ids = self._index.search(
            query.reshape(1, -1).astype(np.float32), min(k, len(self)), params=params
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def ids(self) -> Ids:
        return np.sort(_faiss().vector_to_array(self._index.id_map).astype(np.int64))

    def copy(self) -> FaissVectors:
        return FaissVectors(self.dimension, _faiss().clone_index(self._index))

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))


class NumpyVectors(VectorIndex):
    """Brute-force search in numpy: no dependency, same answers as FAISS."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._ids = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, dimension), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        self._ids = np.concatenate([self._ids, ids.astype(np.int64)])
        self._vectors = np.vstack([self._vectors, vectors.astype(np.float32)])

    def remove(self, ids: Ids) -> None:
        keep = ~np.isin(self._ids, ids)
        self._ids, self._vectors = self._ids[keep], self._vectors[keep]

    def search(self, query: Vectors, k: int, allowed: Ids | None = None) -> list[tuple[int, float]]:
        if not len(self) or k <= 0:
            return []
        scores = self._vectors @ query.reshape(-1).astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        if allowed is not None:
            order = order[np.isin(self._ids[order], allowed)]
        return [(int(self._ids[i]), float(scores[i])) for i in order[:k]]

    def ids(self) -> Ids:
        return np.sort(self._ids)

    def copy(self) -> NumpyVectors:
        clone = NumpyVectors(self.dimension)
        clone._ids, clone._vectors = self._ids.copy(), self._vectors.copy()
        return clone

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(fh, ids=self._ids, vectors=self._vectors)


def load_numpy_vectors(path: Path) -> NumpyVectors:
    """Read a file written by ``NumpyVectors.save``."""
    try:
        with np.load(path) as data:
            index = NumpyVectors(int(data["vectors"].shape[1]))
            index.add(data["ids"], data["vectors"])
    except (OSError, ValueError, KeyError) as exc:
        raise IndexStateError(f"cannot read the vector file at {path}: {exc}") from exc
    return index
