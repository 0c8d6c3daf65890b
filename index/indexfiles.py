"""The derived search indexes (FAISS or numpy vectors, BM25) and their manifest.

SQLite is the source of truth. Each write bumps its generation; the index files are
saved into a folder named for that generation, and the manifest is switched to it
last, atomically. A crash at any point leaves either the old files or a manifest
that lags SQLite, which ``load`` notices and repairs by rebuilding from SQLite.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.config import EngineConfig
from index.dense import FaissVectors, NumpyVectors, VectorIndex, load_numpy_vectors
from index.embedder import Embedder, Vectors
from index.errors import IndexStateError, ModelMismatchError
from index.manifest import SCHEMA_VERSION, Manifest, read_manifest, write_manifest
from index.passages import indexed_text
from index.sparse import LexicalIndex
from index.store import Store, StoredPassage

if TYPE_CHECKING:
    from index.passages import PreparedDocument

log = logging.getLogger("citeqa")
Progress = Callable[[str, int, int], None]

TITLE_META = "title_in_index"
"""SQLite meta key: whether stored vectors were embedded with the title in front."""


def _versions() -> dict[str, str]:
    found = {}
    for name in ("citeqa", "faiss-cpu", "bm25s", "sentence-transformers"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    return found


class IndexFiles:
    """Holds the live dense and lexical indexes and keeps their files in step with SQLite."""

    def __init__(self, config: EngineConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.dense: VectorIndex = NumpyVectors(0)
        self.lexical = LexicalIndex.build([], [])
        self.manifest_path = config.data_dir / "manifest.json"
        self.root = config.data_dir / "indexes"

    @property
    def size(self) -> int:
        return len(self.lexical)

    def text_of(self, stored: StoredPassage) -> str:
        return indexed_text(stored.passage.text, stored.title, self.config.title_in_index)

    # -- loading --------------------------------------------------------------------------

    def load(self, embedder: Embedder, progress: Progress | None = None) -> None:
        """Load the saved files if they match SQLite and the model, else rebuild them."""
        manifest = read_manifest(self.manifest_path)
        reason = self._stale_reason(manifest, embedder)
        if manifest is not None and reason is None:
            try:
                self._load_files(self.root / manifest.folder, manifest)
                return
            except IndexStateError as exc:
                reason = str(exc)
        if self.store.counts()[1] or manifest is not None:
            log.warning("rebuilding the search indexes from SQLite: %s", reason)
        self.rebuild(embedder, progress)

    def _stale_reason(self, manifest: Manifest | None, embedder: Embedder) -> str | None:
        if manifest is None:
            return "no readable manifest"
        if manifest.schema_version != SCHEMA_VERSION:
            return f"manifest schema {manifest.schema_version}, expected {SCHEMA_VERSION}"
        if manifest.generation != self.store.generation():
            return f"files are from generation {manifest.generation}, SQLite is at " \
                   f"{self.store.generation()}"  # fmt: skip
        if manifest.model and manifest.model != embedder.name:
            return f"files were built with model {manifest.model!r}"
        return None

    def _load_files(self, folder: Path, manifest: Manifest) -> None:
        dense_path = folder / ("dense.faiss" if self.config.backend == "faiss" else "dense.npz")
        dense: VectorIndex = NumpyVectors(0)
        if manifest.dimension:
            if not dense_path.exists():
                raise IndexStateError(f"{dense_path} is missing")
            dense = (
                FaissVectors.load(dense_path)
                if self.config.backend == "faiss"
                else load_numpy_vectors(dense_path)
            )
        lexical = LexicalIndex.load(folder / "bm25")
        passages = self.store.counts()[1]
        if len(lexical) != passages or (len(dense) != passages and manifest.dimension):
            raise IndexStateError(
                f"index files hold {len(dense)} vectors and {len(lexical)} BM25 rows, "
                f"SQLite holds {passages} passages"
            )
        self.dense, self.lexical = dense, lexical

    def rebuild(self, embedder: Embedder, progress: Progress | None = None) -> None:
        """Rebuild both indexes from SQLite, re-embedding passages that have no vector."""
        passages = list(self.store.all_passages())
        if not passages:
            self.dense, self.lexical = NumpyVectors(0), LexicalIndex.build([], [])
            self._save(self.store.generation(), 0)
            return
        dimension = int(self.store.get_meta("dimension") or embedder.dimension)
        ids, vectors = self.store.all_vectors(dimension)
        have = set(ids.tolist())
        missing = [p for p in passages if p.row_id not in have]
        if missing:
            log.warning("embedding %d passages that have no stored vector", len(missing))
            fresh = embedder.embed_many(
                [self.text_of(p) for p in missing],
                self.config.batch_size,
                (lambda d, t: progress("embedding", d, t)) if progress else None,
            )
            self._check_dimension(fresh, embedder)
            with self.store.transaction() as db:
                Store.set_vectors(db, [p.row_id for p in missing], fresh)
            ids, vectors = self.store.all_vectors(dimension)
        self.dense = self._new_dense(dimension)
        self.dense.add(ids, vectors)
        self.lexical = LexicalIndex.build(
            [p.row_id for p in passages], [self.text_of(p) for p in passages]
        )
        self._save(self.store.generation(), dimension)

    # -- writing --------------------------------------------------------------------------

    def write(
        self,
        todo: Sequence[tuple[PreparedDocument, str, bool]],
        vectors: Vectors,
        sentence_vectors: Sequence[Vectors],
        embedder: Embedder,
        progress: Progress | None = None,
    ) -> None:
        """Store documents, passages and vectors in one transaction, then update the files."""
        if not todo:
            return
        dimension = self._check_dimension(vectors, embedder)
        removed: list[int] = []
        added: list[int] = []
        start = 0
        with self.store.transaction() as db:
            for prepared, digest, _ in todo:
                count = len(prepared.passages)
                removed += Store.passage_ids_of(db, prepared.document.doc_id)
                added += Store.put_document(
                    db, prepared.document, digest, prepared.passages,
                    vectors[start : start + count], sentence_vectors[start : start + count],
                )  # fmt: skip
                start += count
            Store.set_meta(db, "model", embedder.name)
            Store.set_meta(db, TITLE_META, str(self.config.title_in_index))
            if dimension:
                Store.set_meta(db, "dimension", str(dimension))
            generation = Store.bump_generation(db)
        if progress:
            progress("indexing", 0, 1)
        if dimension and self.dense.dimension != dimension:
            self.dense = self._new_dense(dimension)
        self.dense.remove(np.asarray(removed, dtype=np.int64))
        if added:
            self.dense.add(np.asarray(added, dtype=np.int64), vectors)
        self._rebuild_lexical()
        self._save(generation, self.dense.dimension)
        if progress:
            progress("indexing", 1, 1)

    def delete(self, doc_id: str) -> None:
        with self.store.transaction() as db:
            removed = Store.passage_ids_of(db, doc_id)
            Store.delete_document(db, doc_id)
            generation = Store.bump_generation(db)
        self.dense.remove(np.asarray(removed, dtype=np.int64))
        self._rebuild_lexical()
        self._save(generation, self.dense.dimension)

    def replace_vectors(
        self,
        ids: Sequence[int],
        vectors: Vectors,
        sentence_vectors: Sequence[Vectors],
        embedder: Embedder,
    ) -> None:
        """Swap every stored vector for one from ``embedder`` (a model change)."""
        dimension = int(vectors.shape[1]) if len(vectors) else embedder.dimension
        with self.store.transaction() as db:
            Store.set_vectors(db, ids, vectors)
            Store.set_sentence_vectors(db, ids, sentence_vectors)
            Store.set_meta(db, "model", embedder.name)
            Store.set_meta(db, TITLE_META, str(self.config.title_in_index))
            Store.set_meta(db, "dimension", str(dimension))
            Store.bump_generation(db)
        self.rebuild(embedder)

    def _check_dimension(self, vectors: Vectors, embedder: Embedder) -> int:
        if not len(vectors):
            return 0
        dimension = int(vectors.shape[1])
        stored = self.store.get_meta("dimension")
        if stored is not None and int(stored) != dimension:
            raise ModelMismatchError(
                f"model {embedder.name!r} gives {dimension}-dimensional vectors, but the index "
                f"holds {stored}-dimensional ones; run `citeqa reindex` or use another data dir"
            )
        return dimension

    def _rebuild_lexical(self) -> None:
        passages = list(self.store.all_passages())
        self.lexical = LexicalIndex.build(
            [p.row_id for p in passages], [self.text_of(p) for p in passages]
        )

    def _new_dense(self, dimension: int) -> VectorIndex:
        return (
            FaissVectors(dimension) if self.config.backend == "faiss" else NumpyVectors(dimension)
        )

    def _save(self, generation: int, dimension: int) -> None:
        name = f"gen-{generation:08d}"
        final = self.root / name
        tmp = self.root / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if len(self.dense) or dimension:
            dense_name = "dense.faiss" if self.config.backend == "faiss" else "dense.npz"
            self.dense.save(tmp / dense_name)
        self.lexical.save(tmp / "bm25")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        documents, passages = self.store.counts()
        write_manifest(
            self.manifest_path,
            Manifest(
                schema_version=SCHEMA_VERSION,
                model=self.store.get_meta("model") or "",
                dimension=dimension,
                max_chars=self.config.chunk.max_chars,
                overlap=self.config.chunk.overlap,
                generation=generation,
                folder=name,
                documents=documents,
                passages=passages,
                versions=_versions(),
            ),
        )
        for old in self.root.iterdir():
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
