"""BM25 over passages with bm25s: English stopwords and the Snowball stemmer.

bm25s has no incremental update, so the index is rebuilt from the passage texts
whenever they change (seconds for thousands of passages).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.errors import IndexStateError

_IDS_FILE = "passage_ids.npy"


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        raise ImportError("lexical search needs bm25s: pip install bm25s PyStemmer") from exc
    return bm25s


def _stemmer() -> Any:
    try:
        import Stemmer
    except ImportError as exc:
        raise ImportError("lexical search needs PyStemmer: pip install PyStemmer") from exc
    return Stemmer.Stemmer("english")


_local = threading.local()


def stemmer() -> Any:
    """The English Snowball stemmer, one per thread (a PyStemmer object is not thread-safe)."""
    if not hasattr(_local, "stemmer"):
        _local.stemmer = _stemmer()
    return _local.stemmer


class LexicalIndex:
    """BM25 (Lucene variant, k1=1.5, b=0.75) keyed by passage row id."""

    def __init__(self, ids: Sequence[int], retriever: Any) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._retriever = retriever

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str]) -> LexicalIndex:
        if len(ids) != len(texts):
            raise ValueError("ids and texts must have the same length")
        if not texts:
            return cls([], None)
        bm25s = _bm25s()
        tokens = bm25s.tokenize(
            list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(ids, retriever)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        ids_path = folder / _IDS_FILE
        try:
            ids = np.load(ids_path)
            retriever = _bm25s().BM25.load(str(folder), show_progress=False) if len(ids) else None
        except (OSError, ValueError, KeyError) as exc:
            raise IndexStateError(f"cannot read the BM25 index in {folder}: {exc}") from exc
        return cls(ids.tolist(), retriever)

    def __len__(self) -> int:
        return len(self._ids)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._retriever is not None:
            self._retriever.save(str(folder), show_progress=False)
        with (folder / _IDS_FILE).open("wb") as fh:
            np.save(fh, self._ids)

    def ids(self) -> npt.NDArray[np.int64]:
        """Every passage id held, ascending."""
        return np.sort(self._ids)

    def search(
        self, query: str, k: int, allowed: npt.NDArray[np.int64] | None = None
    ) -> list[tuple[int, float]]:
        """Best ``k`` (passage id, BM25 score) pairs with a score above zero; with
        ``allowed``, only among those ids."""
        if self._retriever is None or k <= 0:
            return []
        tokens = _bm25s().tokenize(
            [query], stopwords="en", stemmer=stemmer(), show_progress=False, return_ids=False
        )
        if not tokens[0]:
            return []
        mask = None
        if allowed is not None:
            mask = np.isin(self._ids, allowed).astype(np.float32)
            if not mask.any():
                return []
        docs, scores = self._retriever.retrieve(
            tokens, k=min(k, len(self._ids)), show_progress=False, n_threads=1, weight_mask=mask
        )
        return [
            (int(self._ids[d]), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]
