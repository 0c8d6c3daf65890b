"""Vector search backends over unit vectors, keyed by passage row id.

``FaissVectors`` holds an exact index (``IndexIDMap2(IndexFlatIP)``) while the corpus is
small and an inverted-file one (``IndexIVFFlat``, approximate) once it is large, as its
``DensePolicy`` says; both keep passage row ids, remove single passages and filter by id.
A write adds without retraining (the exact index stays exact past the limit), so no
write waits minutes for k-means; ``tuned`` gives the kind the size calls for, at
``citeqa compact`` or whenever the whole index is built.
``NumpyVectors`` (brute force, no dependency) answers the same calls.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from index.config import FLAT_LIMIT, DenseKind
from index.errors import IndexStateError

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]

log = logging.getLogger("citeqa")

NPROBE = 128
"""Inverted lists an IVF search scans. With ~2*sqrt(n) lists, recall@10 against exact
search is ~0.99 at 100k and 1M vectors (clustered synthetic vectors calibrated to real
MiniLM embeddings, ``make bench-scale``) and a 1M search compares ~60k vectors."""
TRAIN_PER_LIST = 64
"""Training sample per inverted list: k-means on a sample, not the whole corpus, keeps
the switch to IVF to seconds (100k) or about a minute (1M) on two cores."""
MIN_PER_LIST = 39
"""FAISS wants at least 39 training points per list; fewer lists rather than a warning."""


@dataclass(frozen=True)
class DensePolicy:
    """Which FAISS index a corpus of a given size gets.

    ``auto``: exact (flat) below ``flat_limit`` vectors, IVF from there on, and back to
    flat only below half the limit, so a corpus near the limit does not retrain on every
    write. ``flat`` or ``ivf`` forces one.
    """

    kind: DenseKind = "auto"
    flat_limit: int = FLAT_LIMIT
    nprobe: int = NPROBE

    def wants_ivf(self, size: int, is_ivf: bool) -> bool:
        if self.kind != "auto" or size == 0:
            return self.kind == "ivf" and size > 0
        return size >= (self.flat_limit // 2 if is_ivf else self.flat_limit)


def _ideal_lists(size: int) -> float:
    """About 2*sqrt(n) lists: at 1M, 2048 lists with ``NPROBE`` scanned gave the same
    recall for half the comparisons of 1024 lists, for a longer (once) training."""
    return max(1.0, min(2 * math.sqrt(size), size / MIN_PER_LIST))


def nlist_for(size: int) -> int:
    """The power of two nearest the ideal number of inverted lists for ``size`` vectors."""
    lists = int(2 ** round(math.log2(_ideal_lists(size))))
    return max(1, min(lists, size // MIN_PER_LIST))


def _needs_retrain(size: int, nlist: int) -> bool:
    """True once the ideal list count is 2x off the trained one: lists twice too long make
    a search scan twice the vectors. The corpus has then grown (or shrunk) 2-8x since
    training, so the cost of retraining, like that of the vectors, is paid once."""
    ratio = _ideal_lists(size) / nlist
    return ratio > 2 or ratio < 1 / 2


class VectorIndex:
    """Interface: add, remove, search, save and load vectors by integer id."""

    dimension: int

    @property
    def kind(self) -> Literal["flat", "ivf"]:
        return "flat"

    @property
    def nlist(self) -> int:
        """Inverted lists (0 for an exact index)."""
        return 0

    def __len__(self) -> int:
        raise NotImplementedError

    def add(self, ids: Ids, vectors: Vectors, tune: bool = True) -> None:
        """``tune=False`` (a write): never retrain, whatever the size (``tuned`` does)."""
        raise NotImplementedError

    def remove(self, ids: Ids, tune: bool = True) -> None:
        raise NotImplementedError

    @property
    def needs_tuning(self) -> bool:
        """The index is not the kind its size calls for (writes add without retraining)."""
        return self.needs_tuning_at(len(self))

    def needs_tuning_at(self, size: int) -> bool:
        """Whether this index, holding ``size`` vectors, would not be the kind they call for."""
        return False

    def tuned(self) -> VectorIndex:
        """A copy of the kind its size calls for (IVF trained), for ``compact``."""
        return self.copy()

    def merged(self) -> VectorIndex:
        """The same vectors as one index, for saving whole (this one unless layered)."""
        return self

    def search(
        self, query: Vectors, k: int, allowed: Ids | None = None, excluded: Ids | None = None
    ) -> list[tuple[int, float]]:
        """Best ``k`` (id, inner product) pairs for one query vector, best first; with
        ``allowed``, only among those ids; never one of ``excluded``."""
        raise NotImplementedError

    def ids(self) -> Ids:
        """Every id held, ascending."""
        raise NotImplementedError

    def contents(self) -> tuple[Ids, Vectors]:
        """Every (id, vector) held, in storage order."""
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


@contextmanager
def _one_thread(faiss: Any) -> Iterator[None]:
    """One OpenMP thread for this thread's FAISS calls: a single query gains nothing from
    a thread team, and waking one costs milliseconds when the cores are busy (the model's
    own threads, other requests). The setting is per calling thread in OpenMP."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _flat(dimension: int, ids: Ids, vectors: Vectors) -> Any:
    faiss = _faiss()
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if len(ids):
        index.add_with_ids(vectors, ids)
    return index


def _ivf(dimension: int, ids: Ids, vectors: Vectors) -> Any:
    """An IVF index trained (k-means, fixed seed) on a sample of ``vectors``, holding all."""
    faiss = _faiss()
    nlist = nlist_for(len(ids))
    log.info("training an IVF index: %d lists for %d vectors", nlist, len(ids))
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dimension), dimension, nlist, faiss.METRIC_INNER_PRODUCT
    )
    if nlist == 1:  # one list holds everything: nothing to learn
        index.quantizer.add(np.zeros((1, dimension), dtype=np.float32))
        index.is_trained = True
    else:
        index.cp.niter = 10
        sample = min(len(ids), TRAIN_PER_LIST * nlist)
        rows = np.random.default_rng(0).choice(len(ids), sample, replace=False)
        index.train(vectors[np.sort(rows)])
    index.add_with_ids(vectors, ids)
    return index


class FaissVectors(VectorIndex):
    """Inner-product search in FAISS: exact (flat) or approximate (IVF), by ``policy``."""

    def __init__(
        self, dimension: int, index: Any = None, policy: DensePolicy | None = None
    ) -> None:
        self.dimension = dimension
        self.policy = policy or DensePolicy()
        self._index = (
            index if index is not None else _flat(dimension, _no_ids(), _no_vectors(dimension))
        )

    @classmethod
    def load(cls, path: Path, policy: DensePolicy | None = None) -> FaissVectors:
        """The file decides the type; ``policy`` applies from the next add or remove."""
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexStateError(f"cannot read the FAISS index at {path}: {exc}") from exc
        return cls(int(index.d), index, policy)

    @property
    def kind(self) -> Literal["flat", "ivf"]:
        return "ivf" if self._ivf_index() is not None else "flat"

    @property
    def nlist(self) -> int:
        """Inverted lists (0 for a flat index)."""
        ivf = self._ivf_index()
        return int(ivf.nlist) if ivf is not None else 0

    def _ivf_index(self) -> Any:
        return _faiss().try_extract_index_ivf(self._index)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Ids, vectors: Vectors, tune: bool = True) -> None:
        if not len(ids):
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        size = len(self) + len(ids)
        if not tune or (self._wanted(size) == self.kind and not self._stale(size)):
            self._index.add_with_ids(vectors, ids)
            return
        if len(self):
            old_ids, old_vectors = self.contents()
            ids, vectors = np.concatenate([old_ids, ids]), np.vstack([old_vectors, vectors])
        self._rebuild(ids, vectors)

    def remove(self, ids: Ids, tune: bool = True) -> None:
        if not len(ids):
            return
        faiss = _faiss()
        self._index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))
        if tune and self.needs_tuning:
            self._rebuild(*self.contents())

    def needs_tuning_at(self, size: int) -> bool:
        return self._wanted(size) != self.kind or self._stale(size)

    def tuned(self) -> FaissVectors:
        clone = FaissVectors(self.dimension, policy=self.policy)
        if len(self):
            clone._rebuild(*self.contents())
        return clone

    def _wanted(self, size: int) -> Literal["flat", "ivf"]:
        return "ivf" if self.policy.wants_ivf(size, self.kind == "ivf") else "flat"

    def _stale(self, size: int) -> bool:
        return self.kind == "ivf" and _needs_retrain(size, self.nlist)

    def _rebuild(self, ids: Ids, vectors: Vectors) -> None:
        """A new index of the type the policy wants for these vectors (IVF retrained)."""
        build = _ivf if self._wanted(len(ids)) == "ivf" else _flat
        self._index = build(self.dimension, ids, vectors)

    def contents(self) -> tuple[Ids, Vectors]:
        """Every (id, vector) held, in storage order."""
        faiss = _faiss()
        ivf = self._ivf_index()
        if ivf is None:
            flat = faiss.downcast_index(self._index.index)
            vectors = faiss.vector_to_array(flat.codes).view(np.float32)
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            return ids, vectors.reshape(len(ids), self.dimension)
        id_parts, vector_parts = [], []
        lists = ivf.invlists
        for number in range(ivf.nlist):
            size = lists.list_size(number)
            if size:
                id_parts.append(faiss.rev_swig_ptr(lists.get_ids(number), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(number), size * lists.code_size)
                vector_parts.append(codes.copy().view(np.float32).reshape(size, self.dimension))
        if not id_parts:
            return _no_ids(), _no_vectors(self.dimension)
        return np.concatenate(id_parts).astype(np.int64), np.vstack(vector_parts)

    def search(
        self, query: Vectors, k: int, allowed: Ids | None = None, excluded: Ids | None = None
    ) -> list[tuple[int, float]]:
        if not len(self) or k <= 0 or (allowed is not None and not len(allowed)):
            return []
        faiss = _faiss()
        sel, _parts = _selector(faiss, allowed, excluded)  # held through the search
        ivf = self._ivf_index()
        if ivf is None:
            params = faiss.SearchParameters(sel=sel)
        else:
            # A filter keeping a share s of the vectors: scan 1/s times the lists, so as
            # many allowed vectors are compared as without it; a small filter scans all
            # lists, which is exact for the allowed ids.
            share = min(1.0, len(allowed) / len(self)) if allowed is not None else 1.0
            if excluded is not None:  # ids the index holds but no longer counts
                share *= max(1e-9, 1.0 - len(excluded) / len(self))
            nprobe = math.ceil(self.policy.nprobe / share)
            params = faiss.SearchParametersIVF(sel=sel, nprobe=min(nprobe, int(ivf.nlist)))
        with _one_thread(faiss):
            scores, ids = self._index.search(
                query.reshape(1, -1).astype(np.float32), min(k, len(self)), params=params
            )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def ids(self) -> Ids:
        if self.kind == "flat":
            return np.sort(_faiss().vector_to_array(self._index.id_map).astype(np.int64))
        faiss = _faiss()
        lists = self._ivf_index().invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
            for number in range(lists.nlist)
            if lists.list_size(number)
        ]
        return np.sort(np.concatenate(parts).astype(np.int64)) if parts else _no_ids()

    def copy(self) -> FaissVectors:
        return FaissVectors(self.dimension, _faiss().clone_index(self._index), self.policy)

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))


def _selector(faiss: Any, allowed: Ids | None, excluded: Ids | None) -> tuple[Any, list[Any]]:
    """The FAISS id selector for a search, and the objects it refers to: SWIG does not
    keep an ``IDSelectorNot``'s or ``IDSelectorAnd``'s parts alive, the caller must."""
    sel, held = None, []
    if allowed is not None:
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        held.append(sel)
    if excluded is not None and len(excluded):
        batch = faiss.IDSelectorBatch(np.ascontiguousarray(excluded, dtype=np.int64))
        kept = faiss.IDSelectorNot(batch)
        sel = kept if sel is None else faiss.IDSelectorAnd(sel, kept)
        held += [batch, kept, sel]
    return sel, held


def _no_ids() -> Ids:
    return np.zeros(0, dtype=np.int64)


def _no_vectors(dimension: int) -> Vectors:
    return np.zeros((0, dimension), dtype=np.float32)


class NumpyVectors(VectorIndex):
    """Brute-force search in numpy: no dependency, same answers as FAISS."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._ids = _no_ids()
        self._vectors = _no_vectors(dimension)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Ids, vectors: Vectors, tune: bool = True) -> None:
        self._ids = np.concatenate([self._ids, ids.astype(np.int64)])
        self._vectors = np.vstack([self._vectors, vectors.astype(np.float32)])

    def remove(self, ids: Ids, tune: bool = True) -> None:
        keep = ~np.isin(self._ids, ids)
        self._ids, self._vectors = self._ids[keep], self._vectors[keep]

    def search(
        self, query: Vectors, k: int, allowed: Ids | None = None, excluded: Ids | None = None
    ) -> list[tuple[int, float]]:
        if not len(self) or k <= 0:
            return []
        scores = self._vectors @ query.reshape(-1).astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        if allowed is not None:
            order = order[np.isin(self._ids[order], allowed)]
        if excluded is not None and len(excluded):
            order = order[~np.isin(self._ids[order], excluded)]
        return [(int(self._ids[i]), float(scores[i])) for i in order[:k]]

    def ids(self) -> Ids:
        return np.sort(self._ids)

    def contents(self) -> tuple[Ids, Vectors]:
        return self._ids, self._vectors

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
