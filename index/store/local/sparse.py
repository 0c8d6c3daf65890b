"""BM25 over passages with bm25s: English stopwords and the Snowball stemmer.

bm25s has no incremental update (a new passage changes every term's IDF), so each
generation's index is rebuilt; ``LexicalCorpus`` keeps each passage's counted words
between rebuilds, so only new passages are tokenized and a rebuild is array arithmetic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.errors import IndexStateError
from index.read.terms import bm25s_module, new_stemmer, stemmer, tokenize

_IDS_FILE = "passage_ids.npy"


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
        bm25s = bm25s_module()
        tokens = bm25s.tokenize(
            list(texts), stopwords="en", stemmer=new_stemmer(), show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(ids, retriever)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        ids_path = folder / _IDS_FILE
        try:
            ids = np.load(ids_path)
            retriever = (
                bm25s_module().BM25.load(str(folder), show_progress=False) if len(ids) else None
            )
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
        tokens = bm25s_module().tokenize(
            [query], stopwords="en", stemmer=stemmer(), show_progress=False, return_ids=False
        )
        if not tokens[0]:
            return []
        return self._top(tokens[0], k, allowed)

    def _top(
        self, words: list[str], k: int, allowed: npt.NDArray[np.int64] | None
    ) -> list[tuple[int, float]]:
        """Sum the query words' posting lists (bm25s stores each posting's final BM25
        weight) over the passages they name only: bm25s's own ``retrieve`` scores and
        ranks every passage, 95 ms a question at 1M passages against 2 ms here."""
        vocab = self._retriever.vocab_dict
        terms = [vocab[w] for w in words if w in vocab]  # a repeated word counts again
        scores = self._retriever.scores
        indptr, indices, data = scores["indptr"], scores["indices"], scores["data"]
        postings = [slice(indptr[t], indptr[t + 1]) for t in terms]
        if not postings:
            return []
        rows, at = np.unique(np.concatenate([indices[p] for p in postings]), return_inverse=True)
        summed = np.bincount(at, weights=np.concatenate([data[p] for p in postings]))
        if allowed is not None:
            keep = np.isin(self._ids[rows], allowed)
            rows, summed = rows[keep], summed[keep]
        summed = summed.astype(np.float32)  # bm25s sums in float32: the same scores
        if len(rows) > k:  # the k-th best score and every passage tied with it
            best = summed >= np.partition(summed, len(summed) - k)[len(summed) - k]
            rows, summed = rows[best], summed[best]
        found = self._ids[rows]
        order = np.lexsort((found, -summed))[:k]  # ties by passage id, so runs agree
        return [(int(found[i]), float(summed[i])) for i in order if summed[i] > 0]


class LexicalCorpus:
    """Every passage's counted words, kept by a writer between generations.

    A generation's BM25 is built from them with array arithmetic: bm25s's own build loops
    over every passage in Python (about 10 s a generation at 200,000 passages, and a
    generation every 1,024 passages), and this gives the same arrays (the same Lucene
    weights in the same float32, in the same order: ``tests/index/test_lexical.py``).
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._docs: dict[int, _Counted] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        vocab = self.vocab
        for row_id, words in zip(ids, tokenize(texts), strict=True):
            counts = Counter(vocab.setdefault(w, len(vocab)) for w in words)
            self._docs[int(row_id)] = _Counted(
                np.fromiter(counts.keys(), dtype=np.int32, count=len(counts)),
                np.fromiter(counts.values(), dtype=np.float32, count=len(counts)),
                len(words),
            )

    def remove(self, ids: Sequence[int]) -> None:
        for row_id in ids:
            self._docs.pop(int(row_id), None)

    def index(self) -> LexicalIndex:
        """The BM25 index of the passages held, in row id order."""
        ids = sorted(self._docs)
        if "" not in self.vocab:  # bm25s scores a query with no known word against it
            self.vocab[""] = len(self.vocab)
        if not ids:
            return LexicalIndex([], None)
        retriever = bm25s_module().BM25()
        docs = [self._docs[i] for i in ids]
        retriever.scores = _lucene_scores(retriever.k1, retriever.b, docs, len(self.vocab))
        retriever.vocab_dict = dict(self.vocab)
        retriever.nonoccurrence_array = None  # what bm25s's build leaves for Lucene BM25
        retriever.unique_token_ids_set = set(self.vocab.values())
        return LexicalIndex(ids, retriever)


@dataclass(frozen=True, slots=True)
class _Counted:
    """One passage's distinct words (vocabulary ids), how often each occurs, and its length."""

    terms: npt.NDArray[np.int32]
    counts: npt.NDArray[np.float32]
    length: int


def _lucene_scores(k1: float, b: float, docs: Sequence[_Counted], words: int) -> dict[str, Any]:
    """bm25s's score matrix (passages x words, CSC, each posting's final weight), computed
    the way its build computes it: float64 arithmetic, idf from ``math.log``, float32 out."""
    from scipy import sparse  # imported on first build: it is slow to import

    terms = np.concatenate([d.terms for d in docs])
    tf = np.concatenate([d.counts for d in docs]).astype(np.float64)
    lengths = np.array([d.length for d in docs])
    rows = np.repeat(np.arange(len(docs), dtype=np.int32), [len(d.terms) for d in docs])
    n_docs, average = len(docs), lengths.mean()
    frequencies = np.bincount(terms, minlength=words)
    idf = np.zeros(words, dtype=np.float32)
    held = np.flatnonzero(frequencies)
    idf[held] = [
        math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) for df in frequencies[held].tolist()
    ]
    norm = k1 * ((1 - b) + b * lengths.astype(np.float64) / average)
    weights = (idf[terms] * (tf / (norm[rows] + tf))).astype(np.float32)
    matrix = sparse.csc_matrix((weights, (rows, terms)), shape=(n_docs, words), dtype=np.float32)
    # scipy's CSC conversion is a counting sort (bm25s sorts packed keys): the same order,
    # rows ascending within each word; int64 offsets, as bm25s's own build gives.
    return {"data": matrix.data, "indices": matrix.indices.astype(np.int32, copy=False),
            "indptr": matrix.indptr.astype(np.int64, copy=False), "num_docs": n_docs}  # fmt: skip
