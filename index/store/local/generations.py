"""The derived search indexes (FAISS or numpy vectors, BM25), one generation at a time.

SQLite is the source of truth and numbers its writes (its *generation*). A writer,
holding the data dir's write lock, commits to SQLite, saves that generation's files into
``indexes/gen-N`` and only then points ``manifest.json`` at them (atomic rename). Any
process can read: it loads the generation the manifest names, after checking the files
hold exactly SQLite's passage ids. A crash at any point leaves either a complete older
generation or a manifest that lags SQLite: a reader then builds the indexes from SQLite
in memory (it never writes), and the next writer saves them as a new generation.

A ``Snapshot`` is immutable once published: a search holds the one it started on, and a
reader swaps to a newer one with one assignment.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.config import EngineConfig
from index.errors import IndexStateError
from index.files import fsync_dir
from index.read.passages import indexed_text
from index.store.local import dense_files
from index.store.local.db import Store
from index.store.local.dense import (
    DensePolicy,
    FaissVectors,
    NumpyVectors,
    VectorIndex,
    load_numpy_vectors,
)
from index.store.local.dense_files import DenseLayout
from index.store.local.layered import layered
from index.store.local.manifest import (
    SCHEMA_VERSION,
    Manifest,
    ids_digest,
    read_manifest,
    write_manifest,
)
from index.store.local.sparse import LexicalCorpus, LexicalIndex
from index.store.lock import is_locked
from index.store.protocol import StoredPassage

log = logging.getLogger("citeqa")

"""SQLite meta key: whether stored vectors were embedded with the title in front."""
KEEP_GENERATIONS = 1
"""Generations kept on disk: only the one the manifest names. Readers hold what they
loaded in memory; one that loses the race with a writer (its folder removed mid-load)
reads the manifest again and loads the new one."""
Stamp = tuple[int, int, int]
Ids = npt.NDArray[np.int64]


def _versions() -> dict[str, str]:
    found = {}
    for name in ("citeqa", "faiss-cpu", "bm25s", "sentence-transformers"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    return found


def _stamp(path: Path) -> Stamp | None:
    """The manifest's identity (a stat, not a read): a rename gives a new inode."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@dataclass(frozen=True)
class SavedDense:
    """A generation's dense files, the ids ``removed`` since their base, and the base
    file as this process saw it: a writer appends only to a base that has not changed
    since (anything else gets a new base, as a whole save would have)."""

    layout: DenseLayout
    removed: Ids
    base_stamp: Stamp | None


@dataclass(frozen=True)
class Snapshot:
    """One generation's indexes; never changed once built."""

    generation: int
    dense: VectorIndex
    lexical: LexicalIndex
    stamp: Stamp | None = None
    from_files: bool = True
    """False when built from SQLite in memory because no saved generation matched."""
    saved: SavedDense | None = None
    """The dense files this generation was saved as (None: not saved, or saved before
    layouts): a writer appends to them."""

    @property
    def size(self) -> int:
        return len(self.lexical)


class IndexFiles:
    """Loads, swaps and (for a writer) saves the generations of the derived indexes."""

    def __init__(self, config: EngineConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.manifest_path = config.data_dir / "manifest.json"
        self.root = config.data_dir / "indexes"
        self.dense_dir = self.root / "dense"
        self.current = Snapshot(0, NumpyVectors(0), LexicalIndex.build([], []), None, False)
        self._corpus: LexicalCorpus | None = None
        self._corpus_generation = -1

    @property
    def size(self) -> int:
        return self.current.size

    def text_of(self, stored: StoredPassage) -> str:
        return indexed_text(stored.passage.text, stored.title, self.config.title_in_index)

    # -- reading --------------------------------------------------------------------------

    def load(self) -> None:
        """Load the newest usable generation (or build one in memory); never writes."""
        self.current = self._read()

    def refresh(self) -> bool:
        """Swap to a newer generation if the manifest changed; True if it did."""
        stamp = _stamp(self.manifest_path)
        if stamp == self.current.stamp:
            return False
        snapshot = self._read()
        if snapshot.generation == self.current.generation and snapshot.from_files == (
            self.current.from_files
        ):
            self.current = dataclasses.replace(
                self.current, stamp=snapshot.stamp, from_files=snapshot.from_files
            )
            return False
        self.current = snapshot
        log.info("now searching generation %d (%d passages)", snapshot.generation, snapshot.size)
        return True

    def _read(self, writing: bool = False) -> Snapshot:
        """``writing``: the caller holds the write lock, so SQLite ahead of the files
        means a writer died between its commit and its save, never one still saving."""
        problem = "no manifest"
        for _ in range(3):  # a writer may publish between our reads: look again
            stamp = _stamp(self.manifest_path)
            manifest = read_manifest(self.manifest_path)
            if manifest is None:
                problem = "no readable manifest"
                if stamp is None:
                    break
                continue
            try:
                return self._from_manifest(manifest, stamp, writing)
            except IndexStateError as exc:
                problem = str(exc)
        generation = self.store.generation()
        if generation or self.store.counts()[1]:
            log.warning("building the search indexes from SQLite in memory: %s", problem)
        return self.build(generation, _stamp(self.manifest_path))

    def _from_manifest(self, manifest: Manifest, stamp: Stamp | None, writing: bool) -> Snapshot:
        if manifest.schema_version != SCHEMA_VERSION:
            raise IndexStateError(
                f"manifest schema {manifest.schema_version}, expected {SCHEMA_VERSION}"
            )
        model = self.store.get_meta("model")
        if model is not None and manifest.model != model:
            raise IndexStateError(f"files were built with model {manifest.model!r}")
        generation = self.store.generation()
        if manifest.generation > generation:
            raise IndexStateError(
                f"files are from generation {manifest.generation}, newer than SQLite's {generation}"
            )
        snapshot = self._load_files(manifest, stamp)
        if manifest.generation == generation:
            if ids_digest(self.store.passage_ids()) != manifest.ids_sha256:
                raise IndexStateError("the index files hold other passage ids than SQLite")
            return snapshot
        # SQLite is ahead: fine while its writer is still saving the files, a crash if not.
        if not writing and is_locked(self.config.data_dir):
            return snapshot
        raise IndexStateError(
            f"files are from generation {manifest.generation}, SQLite is at {generation}"
        )

    def _load_files(self, manifest: Manifest, stamp: Stamp | None) -> Snapshot:
        folder = self.root / manifest.folder
        dense: VectorIndex = NumpyVectors(manifest.dimension)
        found = dense_files.read_layout(folder) if manifest.dimension else None
        saved = self._saved(*found) if found else None
        if saved is not None:
            dense = dense_files.load(self.dense_dir, saved.layout, saved.removed, self._open_dense)
        elif manifest.passages and manifest.dimension:  # saved whole, before layouts
            dense_path = folder / self._dense_name()
            if not dense_path.exists():
                raise IndexStateError(f"{dense_path} is missing")
            dense = self._open_dense(dense_path)
        lexical = LexicalIndex.load(folder / "bm25")
        digest = manifest.ids_sha256
        if ids_digest(lexical.ids()) != digest or (
            manifest.dimension and ids_digest(dense.ids()) != digest
        ):
            raise IndexStateError(f"the files in {folder} do not hold the ids the manifest names")
        return Snapshot(manifest.generation, dense, lexical, stamp, True, saved)

    def _saved(self, layout: DenseLayout, removed: Ids) -> SavedDense:
        return SavedDense(layout, removed, _stamp(self.dense_dir / layout.base))

    def _open_dense(self, path: Path) -> VectorIndex:
        if self.config.backend == "faiss":
            return FaissVectors.load(path, self._dense_policy())
        return load_numpy_vectors(path)

    def build(self, generation: int, stamp: Stamp | None = None) -> Snapshot:
        """Both indexes from SQLite, in memory; passages without a vector are reported."""
        dimension = int(self.store.get_meta("dimension") or 0)
        dense = self._new_dense(dimension)
        if dimension:
            ids, vectors = self.store.all_vectors(dimension)
            dense.add(ids, vectors)
        lexical = self._build_lexical()
        if len(dense) != len(lexical) and dimension:
            log.warning(
                "%d passages have no stored vector of dimension %d; run `citeqa reindex`",
                len(lexical) - len(dense),
                dimension,
            )
        return Snapshot(generation, dense, lexical, stamp, False)

    def _build_lexical(self) -> LexicalIndex:
        return LexicalIndex.build(*self._texts(self.store.passage_texts()))

    def _next_lexical(self, generation: int, removed: Ids, added: Ids) -> LexicalIndex:
        """BM25 for ``generation`` from the writer's token corpus, which is read from
        SQLite once and then only changed by this writer's own commits."""
        if self._corpus is None or self._corpus_generation != generation - 1:
            self._corpus = LexicalCorpus()
            ids, texts = self._texts(self.store.passage_texts())
            self._corpus.add(ids, texts)
        else:
            self._corpus.remove(removed.tolist())
            ids, texts = self._texts(self.store.passage_texts(added.tolist()))
            self._corpus.add(ids, texts)
        self._corpus_generation = generation
        return self._corpus.index()

    def _texts(self, rows: Iterable[tuple[int, str, str | None]]) -> tuple[list[int], list[str]]:
        ids, texts = [], []
        for row_id, text, title in rows:
            ids.append(row_id)
            texts.append(indexed_text(text, title, self.config.title_in_index))
        return ids, texts

    # -- writing (the caller holds the write lock) ----------------------------------------

    def sync(self) -> None:
        """Before a write: catch up with other writers and repair a generation a crashed
        writer committed to SQLite but never saved."""
        current = self.current
        if (
            current.from_files
            and current.stamp is not None
            and current.stamp == _stamp(self.manifest_path)
            and current.generation == self.store.generation()
        ):
            return  # nobody wrote since we loaded or published: no need to read it again
        snapshot = self._read(writing=True)
        if not snapshot.from_files and (snapshot.generation or snapshot.size):
            snapshot = self._save(snapshot)
        self.current = snapshot

    def publish(
        self, generation: int, removed: Ids, added: Ids, vectors: npt.NDArray[np.float32]
    ) -> None:
        """After SQLite committed ``generation``: the current indexes with ``removed`` taken
        out and ``added`` put in, saved, then made current."""
        dimension = int(vectors.shape[1]) if len(added) else self.current.dense.dimension
        dense = self.current.dense
        # Searches go on reading the current index: change a copy that shares its base.
        dense = layered(dense) if dense.dimension == dimension else self._new_dense(dimension)
        dense.remove(removed, tune=False)  # never k-means inside a write: see ``compact``
        if len(added):
            dense.add(added, vectors, tune=False)
        snapshot = Snapshot(generation, dense, self._next_lexical(generation, removed, added))
        delta: tuple[Ids, Ids, npt.NDArray[np.float32]] | None = (removed, added, vectors)
        if not np.array_equal(dense.ids(), snapshot.lexical.ids()):
            # Never publish a generation whose files disagree: rebuild it from SQLite.
            log.warning("generation %d: vectors and passages disagree; rebuilding", generation)
            snapshot, delta = self.build(generation), None
            self._corpus = None
        self.current = self._save(snapshot, delta)

    def rebuild(self) -> None:
        """Rebuild both indexes from SQLite and save them (after vectors changed)."""
        self.current = self._save(self.build(self.store.generation()))

    @property
    def needs_tuning(self) -> bool:
        """The dense index is not the kind its size calls for (see ``compact``)."""
        return self.current.dense.needs_tuning

    def compact(self, generation: int) -> None:
        """After SQLite numbered a compaction ``generation``: the dense index as its size
        calls for (IVF trained once it is large), saved as one new base."""
        current = self.current
        dense = current.dense.tuned() if current.dense.needs_tuning else current.dense
        self.current = self._save(Snapshot(generation, dense, current.lexical))
        if self._corpus_generation == generation - 1:  # the token corpus did not change
            self._corpus_generation = generation

    def _suffix(self) -> str:
        return ".faiss" if self.config.backend == "faiss" else ".npz"

    def _dense_name(self) -> str:
        """The whole index's file in a generation folder saved before layouts."""
        return f"dense{self._suffix()}"

    def _new_dense(self, dimension: int) -> VectorIndex:
        if self.config.backend == "faiss":
            return FaissVectors(dimension, policy=self._dense_policy())
        return NumpyVectors(dimension)

    def _dense_policy(self) -> DensePolicy:
        """Flat or IVF by corpus size; a FAISS index switches type as it grows or shrinks."""
        return DensePolicy(self.config.dense_index, self.config.dense_flat_limit)

    def _appended(
        self, snapshot: Snapshot, delta: tuple[Ids, Ids, npt.NDArray[np.float32]] | None
    ) -> tuple[DenseLayout, Ids] | None:
        """The dense files for ``snapshot`` as the previous generation's plus one addition
        file (``delta``: what this write removed and added), or None: write a new base."""
        previous, generation = self.current, snapshot.generation
        saved = previous.saved
        if (
            delta is not None
            and saved is not None
            and previous.dense.dimension == snapshot.dense.dimension
            and saved.base_stamp is not None
            and saved.base_stamp == _stamp(self.dense_dir / saved.layout.base)
        ):
            gone, added, vectors = delta
            removed = np.union1d(saved.removed, gone).astype(np.int64)
            if saved.layout.takes(len(added), len(removed)):
                layout = dense_files.write_add(self.dense_dir, generation, saved.layout, added,
                                               vectors)  # fmt: skip
                return layout, removed
        return None

    def _save(
        self,
        snapshot: Snapshot,
        delta: tuple[Ids, Ids, npt.NDArray[np.float32]] | None = None,
    ) -> Snapshot:
        """Save ``snapshot`` as its generation and point the manifest at it; returns it
        as saved (its layout and the manifest's stamp)."""
        log.debug("saving generation %d", snapshot.generation)
        name = f"gen-{snapshot.generation:08d}"
        final = self.root / name
        tmp = self.root / f".{name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        saved: SavedDense | None = None
        if snapshot.dense.dimension:
            appended = self._appended(snapshot, delta)
            if appended is None:  # a new base: the whole index, in one piece again
                snapshot = dataclasses.replace(snapshot, dense=snapshot.dense.merged())
                appended = (
                    dense_files.write_base(self.dense_dir, snapshot.generation, snapshot.dense,
                                           self._suffix()),
                    np.zeros(0, dtype=np.int64),
                )  # fmt: skip
            layout, removed = appended
            dense_files.save_layout(tmp, layout, removed)
            saved = self._saved(layout, removed)
        snapshot.lexical.save(tmp / "bm25")
        for path in [*tmp.iterdir(), *(tmp / "bm25").iterdir()]:
            if path.is_file():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
        fsync_dir(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        fsync_dir(self.root)
        documents, passages = self.store.counts()
        write_manifest(
            self.manifest_path,
            Manifest(
                schema_version=SCHEMA_VERSION,
                model=self.store.get_meta("model") or "",
                dimension=snapshot.dense.dimension,
                max_chars=self.config.chunk.max_chars,
                overlap=self.config.chunk.overlap,
                generation=snapshot.generation,
                folder=name,
                documents=documents,
                passages=passages,
                ids_sha256=ids_digest(snapshot.lexical.ids()),
                versions=_versions(),
            ),
        )
        self._prune(snapshot.generation)
        dense_files.sweep(self.dense_dir, saved.layout.files() if saved else set())
        return dataclasses.replace(snapshot, stamp=_stamp(self.manifest_path), from_files=True,
                                   saved=saved)  # fmt: skip

    def _prune(self, generation: int) -> None:
        """Drop generations older than the last few, and temp folders of dead writers
        (the caller holds the lock, so no other writer is saving)."""
        for entry in self.root.iterdir():
            name = entry.name
            stale_tmp = name.startswith(".gen-") and name.endswith(".tmp")
            old = (
                name.startswith("gen-")
                and name[4:].isdigit()
                and (int(name[4:]) <= generation - KEEP_GENERATIONS)
            )
            if stale_tmp or old:
                shutil.rmtree(entry, ignore_errors=True)
