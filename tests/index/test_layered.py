"""A write changes a copy that shares the current dense index's base: searches of the
old snapshot see it unchanged, and the layered index answers as one index would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import index.store.local.layered as layered_module
from index import Document, Engine, EngineConfig, HashEmbedder
from index.store.local.dense import DensePolicy, FaissVectors, NumpyVectors, VectorIndex
from index.store.local.layered import LayeredVectors, layered

DIM = 16


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def ids(start: int, stop: int) -> np.ndarray:
    return np.arange(start, stop, dtype=np.int64)


def one_index(pairs: dict[int, np.ndarray]) -> NumpyVectors:
    whole = NumpyVectors(DIM)
    keys = np.array(sorted(pairs), dtype=np.int64)
    whole.add(keys, np.array([pairs[k] for k in keys], dtype=np.float32).reshape(-1, DIM))
    return whole


def best(index: VectorIndex, query: np.ndarray, k: int, **kw: object) -> list[int]:
    return [i for i, _ in index.search(query, k, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["flat", "numpy"])
def test_layered_search_answers_as_one_index(kind: str) -> None:
    base: VectorIndex = (
        FaissVectors(DIM, policy=DensePolicy("flat")) if kind == "flat" else NumpyVectors(DIM)
    )
    first = unit(200, 0)
    base.add(ids(0, 200), first)
    index = layered(base)
    added = unit(30, 1)
    index.add(ids(200, 230), added)
    index.remove(np.array([3, 50, 199, 210, 999], dtype=np.int64))  # base, tail, unknown
    pairs = {i: v for i, v in zip(range(230), np.vstack([first, added]), strict=True)}
    for gone in (3, 50, 199, 210):
        del pairs[gone]
    expected = one_index(pairs)
    assert len(index) == len(expected) == 226
    assert np.array_equal(index.ids(), expected.ids())
    allowed = np.array([1, 3, 7, 120, 205, 210, 222], dtype=np.int64)
    for query in unit(20, 2):
        assert best(index, query, 10) == best(expected, query, 10)
        assert best(index, query, 5, allowed=allowed) == best(expected, query, 5, allowed=allowed)
        hidden = np.array(best(expected, query, 3), dtype=np.int64)
        assert best(index, query, 5, excluded=hidden) == best(expected, query, 8)[3:8]


def test_a_copy_shares_the_base_and_leaves_the_original_unchanged() -> None:
    base = FaissVectors(DIM)
    base.add(ids(0, 100), unit(100, 3))
    first = layered(base)
    first.add(ids(100, 110), unit(10, 4))
    second = layered(first)
    second.remove(ids(0, 50))
    second.add(ids(110, 120), unit(10, 5))
    assert second.base is first.base is base  # nothing the size of the corpus was copied
    assert len(base) == 100 and len(first) == 110 and len(second) == 70
    query = unit(1, 6)[0]
    assert all(i < 110 for i in best(first, query, 110))
    assert not set(best(second, query, 120)) & set(range(50))


def test_a_long_tail_is_folded_into_a_new_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layered_module, "FOLD_AT", 20)
    base = FaissVectors(DIM)
    base.add(ids(0, 100), unit(100, 7))
    grown = layered(base)
    grown.add(ids(100, 125), unit(25, 8))
    grown.remove(ids(10, 12))
    folded = layered(grown)
    assert folded.base is not base and len(folded.tail) == 0 and not len(folded.removed)
    assert len(folded.base) == len(grown) == 123
    for query in unit(5, 9):
        assert best(folded, query, 10) == best(grown, query, 10)


def test_an_ivf_base_never_returns_a_removed_passage() -> None:
    base = FaissVectors(DIM, policy=DensePolicy("ivf", nprobe=4))
    base.add(ids(0, 2000), unit(2000, 10))
    assert base.kind == "ivf"
    index = layered(base)
    index.remove(ids(0, 400))
    for query in unit(10, 11):
        found = best(index, query, 50)
        assert len(found) == 50 and min(found) >= 400


def documents(start: int, count: int) -> list[Document]:
    return [Document(f"d{n}", f"story number {n} about rivers and ships.")
            for n in range(start, start + count)]  # fmt: skip


def test_searches_of_the_old_generation_are_unchanged_by_a_write(tmp_path: Path) -> None:
    engine = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder(64), create=True)
    engine.ingest(documents(0, 30))
    before = engine.files.current
    held = before.dense.ids().copy()
    engine.ingest(documents(30, 10))
    engine.delete("d3")
    after = engine.files.current.dense
    assert isinstance(after, LayeredVectors) and after.base is before.dense
    assert len(before.dense) == 30 and np.array_equal(before.dense.ids(), held)
    assert len(after) == 39 and len(np.intersect1d(after.ids(), held)) == 29
    engine.close()
