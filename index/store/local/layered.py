"""A dense index a write can change without copying the corpus.

Each write publishes a new snapshot while searches go on reading the old one, so the
writer used to clone the whole FAISS index first (1.5 GB and about a second a batch at
1M passages, and twice the memory while it lasted). ``LayeredVectors`` shares one base
that nothing changes between snapshots and copies only what changed since: the vectors
added (an exact tail) and the base ids removed (left out of every search). The tail is
folded into a new base once it reaches ``FOLD_AT`` vectors or the removals a quarter of
the base, so a search scans at most that many vectors exactly on top of the base's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from index.config import FLAT_LIMIT
from index.store.local.dense import FaissVectors, Ids, NumpyVectors, VectorIndex, Vectors

FOLD_AT = FLAT_LIMIT
"""Tail vectors before they are folded into the base: an exact search of 50k vectors
costs a few milliseconds, and folding (a copy of the base) then happens once in 50k."""


class LayeredVectors(VectorIndex):
    """A shared, unchanging ``base``, less ``removed``, plus an exact ``tail``."""

    def __init__(
        self, base: VectorIndex, tail: VectorIndex | None = None, removed: Ids | None = None,
        base_ids: Ids | None = None,
    ) -> None:  # fmt: skip
        self.dimension = base.dimension
        self.base = base
        self.tail = tail if tail is not None else _empty_like(base)
        self.removed = removed if removed is not None else np.zeros(0, dtype=np.int64)
        self._base_ids = base_ids if base_ids is not None else base.ids()

    @property
    def kind(self) -> Literal["flat", "ivf"]:
        return self.base.kind

    @property
    def nlist(self) -> int:
        return self.base.nlist

    def __len__(self) -> int:
        return len(self.base) - len(self.removed) + len(self.tail)

    def add(self, ids: Ids, vectors: Vectors, tune: bool = True) -> None:
        """Into the tail; the base is retrained only by ``tuned`` (``compact``)."""
        if len(ids):
            self.tail.add(ids, vectors, tune=False)

    def remove(self, ids: Ids, tune: bool = True) -> None:
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        self.tail.remove(ids, tune=False)
        at = np.searchsorted(self._base_ids, ids).clip(max=max(len(self._base_ids) - 1, 0))
        in_base = ids[self._base_ids[at] == ids] if len(self._base_ids) else ids[:0]
        self.removed = np.union1d(self.removed, in_base).astype(np.int64)

    def needs_tuning_at(self, size: int) -> bool:
        return self.base.needs_tuning_at(size)

    def tuned(self) -> VectorIndex:
        return self.merged().tuned()

    @property
    def needs_folding(self) -> bool:
        return len(self.tail) >= FOLD_AT or len(self.removed) * 4 > max(len(self.base), FOLD_AT)

    def merged(self) -> VectorIndex:
        """One index holding the same vectors (a copy of the base: once a fold). With
        nothing to fold in, the base itself: it is never changed, and a second copy of a
        just-folded base at save time held three of them in memory at once."""
        if not len(self.tail) and not len(self.removed):
            return self.base
        whole = self.base.copy()
        whole.remove(self.removed, tune=False)
        if len(self.tail):
            whole.add(*self.tail.contents(), tune=False)
        return whole

    def search(
        self, query: Vectors, k: int, allowed: Ids | None = None, excluded: Ids | None = None
    ) -> list[tuple[int, float]]:
        hidden = self.removed
        if excluded is not None and len(excluded):
            hidden = np.union1d(hidden, excluded).astype(np.int64)
        found = self.base.search(query, k, allowed, hidden)
        if len(self.tail):
            # Equal scores: the tail's first, as one FAISS index lists the later-added
            # first, so a reader that loads the same files in one piece agrees.
            found = self.tail.search(query, k, allowed, excluded) + found
            found.sort(key=lambda hit: -hit[1])
        return found[:k]

    def ids(self) -> Ids:
        kept = np.setdiff1d(self._base_ids, self.removed, assume_unique=True)
        return np.union1d(kept, self.tail.ids()).astype(np.int64)

    def copy(self) -> LayeredVectors:
        return LayeredVectors(self.base, self.tail.copy(), self.removed.copy(), self._base_ids)

    def save(self, path: Path) -> None:
        self.merged().save(path)


def layered(index: VectorIndex) -> LayeredVectors:
    """A copy of ``index`` for a write to change: its tail folded in first when it has
    grown past ``FOLD_AT``, else sharing its base."""
    if isinstance(index, LayeredVectors):
        return LayeredVectors(index.merged()) if index.needs_folding else index.copy()
    return LayeredVectors(index)


def _empty_like(base: VectorIndex) -> VectorIndex:
    if isinstance(base, FaissVectors):
        return FaissVectors(base.dimension)  # flat: exact, whatever the base's policy
    return NumpyVectors(base.dimension)
