"""Words as BM25 counts them: bm25s's tokenizer, English stopwords out, Snowball-stemmed.

One definition for every reader of words: the local BM25 index, Milvus's BM25 (given
the same stemmed terms, so both stores count the same words) and the answer-type check.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any


def bm25s_module() -> Any:
    """bm25s, imported on first use (it pulls in scipy)."""
    try:
        import bm25s
    except ImportError as exc:
        raise ImportError("lexical search needs bm25s: pip install bm25s PyStemmer") from exc
    return bm25s


def new_stemmer() -> Any:
    """A fresh English Snowball stemmer (a bm25s index build owns its own)."""
    try:
        import Stemmer
    except ImportError as exc:
        raise ImportError("lexical search needs PyStemmer: pip install PyStemmer") from exc
    return Stemmer.Stemmer("english")


_local = threading.local()


def stemmer() -> Any:
    """The English Snowball stemmer, one per thread (a PyStemmer object is not thread-safe)."""
    if not hasattr(_local, "stemmer"):
        _local.stemmer = new_stemmer()
    return _local.stemmer


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Each text as the list of words BM25 counts."""
    if not texts:
        return []
    found: list[list[str]] = bm25s_module().tokenize(
        list(texts), stopwords="en", stemmer=stemmer(), show_progress=False, return_ids=False
    )
    return found


def stemmed_terms(texts: Sequence[str]) -> list[str]:
    """Each text as the words BM25 counts (stopwords out, Snowball-stemmed), space-joined:
    what another BM25 (Milvus's) is given, so both count the same words."""
    return [" ".join(words) for words in tokenize(texts)]
