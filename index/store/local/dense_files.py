"""The dense index on disk: one base file and an append-only file per write.

Saving the whole FAISS index at every write made each batch cost the corpus (1.5 GB a
batch at 1M passages). A write now saves what it added, ``indexes/dense/add-<gen>.npz``,
and the ids it removed since the base go into its generation folder; a reader loads the
base, drops the removed ids and adds the rest. The base is rewritten only when the
additions outgrow it (so each vector is written about twice in all), when removals
reach a quarter of it, or at ``citeqa compact``. Every file is immutable once renamed
into place; the folder's files no generation names are swept by the writer.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.errors import IndexStateError
from index.files import fsync_dir
from index.store.local.dense import VectorIndex

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]

LAYOUT_FILE = "dense.json"
REMOVED_FILE = "dense-removed.npy"
MIN_BASE = 50_000
"""Additions a base takes before it is rewritten, however small it is: a corpus of a
few thousand passages keeps its first base (a few MB) and appends to it."""
MAX_ADDS = 64
"""Addition files a generation may name: a reader opens each one."""
_FILE_RE = re.compile(r"(base|add)-\d{8}(\.\d+)?\.(faiss|npz)")


@dataclass(frozen=True)
class DenseLayout:
    """The dense files one generation is made of."""

    base: str
    base_size: int
    adds: tuple[str, ...] = ()
    added: int = 0
    """Vectors in ``adds``."""

    def takes(self, added: int, removed: int) -> bool:
        """Whether a write of this size may append instead of writing a new base."""
        return (
            self.added + added <= max(self.base_size, MIN_BASE)
            and len(self.adds) < MAX_ADDS
            and removed * 4 <= max(self.base_size, MIN_BASE)
        )

    def files(self) -> set[str]:
        return {self.base, *self.adds}


def write_base(folder: Path, generation: int, index: VectorIndex, suffix: str) -> DenseLayout:
    """The whole index as a new base (``suffix``: ".faiss" or ".npz")."""
    name = _unique(folder, f"base-{generation:08d}", suffix)
    _write(folder, name, index.save)
    return DenseLayout(name, len(index))


def write_add(
    folder: Path, generation: int, layout: DenseLayout, ids: Ids, vectors: Vectors
) -> DenseLayout:
    """``layout`` with one more addition file holding ``ids`` and ``vectors``."""
    if not len(ids):
        return layout
    name = _unique(folder, f"add-{generation:08d}", ".npz")

    def save(path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(fh, ids=np.asarray(ids, np.int64), vectors=np.asarray(vectors, np.float32))

    _write(folder, name, save)
    return replace(layout, adds=(*layout.adds, name), added=layout.added + len(ids))


def save_layout(generation_folder: Path, layout: DenseLayout, removed: Ids) -> None:
    """Into a generation folder being written (the caller fsyncs it)."""
    (generation_folder / LAYOUT_FILE).write_text(json.dumps(asdict(layout)))
    with (generation_folder / REMOVED_FILE).open("wb") as fh:
        np.save(fh, np.asarray(removed, np.int64))


def read_layout(generation_folder: Path) -> tuple[DenseLayout, Ids] | None:
    """The layout and removed ids, or None for a folder written before layouts
    (which holds its whole index as ``dense.faiss`` or ``dense.npz``)."""
    path = generation_folder / LAYOUT_FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        layout = DenseLayout(raw["base"], int(raw["base_size"]), tuple(raw["adds"]),
                             int(raw["added"]))  # fmt: skip
        removed = np.load(generation_folder / REMOVED_FILE).astype(np.int64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexStateError(
            f"cannot read the dense layout in {generation_folder}: {exc}"
        ) from exc
    return layout, removed


def load(
    folder: Path, layout: DenseLayout, removed: Ids, open_base: Callable[[Path], VectorIndex]
) -> VectorIndex:
    """The base, less the removed ids, plus every addition (no retraining)."""
    path = folder / layout.base
    if not path.exists():
        raise IndexStateError(f"{path} is missing")
    index = open_base(path)
    index.remove(removed, tune=False)
    for name in layout.adds:
        try:
            with np.load(folder / name) as data:
                ids, vectors = data["ids"], data["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            raise IndexStateError(f"cannot read {folder / name}: {exc}") from exc
        keep = ~np.isin(ids, removed)  # added, then removed by a later write
        index.add(ids[keep], vectors[keep], tune=False)
    return index


def sweep(folder: Path, in_use: set[str]) -> None:
    """Delete dense files no generation names, and temp files of dead writers (the
    caller holds the write lock; readers that loaded them hold them in memory)."""
    if not folder.exists():
        return
    for path in folder.iterdir():
        name = path.name
        if (_FILE_RE.fullmatch(name) and name not in in_use) or name.endswith(".tmp"):
            path.unlink(missing_ok=True)


def _unique(folder: Path, stem: str, suffix: str) -> str:
    """A name not in use: ``compact`` may write a second base in one generation."""
    name, number = f"{stem}{suffix}", 1
    while (folder / name).exists():
        name, number = f"{stem}.{number}{suffix}", number + 1
    return name


def _write(folder: Path, name: str, save: Callable[[Path], None]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    save(tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    tmp.replace(folder / name)
    fsync_dir(folder)
