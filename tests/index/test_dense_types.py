"""The FAISS index type by corpus size: flat below the limit, IVF from it (index.store.local.dense)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import Document, Engine, EngineConfig, HashEmbedder
from index.store.local.dense import DensePolicy, FaissVectors, NumpyVectors, nlist_for
from index.store.local.dense import _one_thread as one_thread

faiss = pytest.importorskip("faiss")

DIM = 32


def clustered(count: int, seed: int = 0, centres: int = 40) -> np.ndarray:
    """Unit vectors around a few dozen gaussian centres, like embeddings of topics."""
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(99).standard_normal((centres, DIM)).astype(np.float32)
    rows = middle[rng.integers(0, centres, count)] + 0.6 * rng.standard_normal((count, DIM))
    rows = rows.astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def filled(policy: DensePolicy, count: int = 3000) -> tuple[FaissVectors, NumpyVectors]:
    """The index under test and an exact one over the same vectors (ids 1000...)."""
    ids, vectors = np.arange(1000, 1000 + count, dtype=np.int64), clustered(count)
    index, exact = FaissVectors(DIM, policy=policy), NumpyVectors(DIM)
    index.add(ids, vectors)
    exact.add(ids, vectors)
    return index, exact


def top(index: FaissVectors | NumpyVectors, query: np.ndarray, k: int = 10, allowed=None):  # type: ignore[no-untyped-def]
    return [i for i, _ in index.search(query, k, allowed)]


def recall(index: FaissVectors, exact: NumpyVectors, queries: np.ndarray) -> float:
    hits = [len(set(top(index, q)) & set(top(exact, q))) / 10 for q in queries]
    return float(np.mean(hits))


def test_auto_is_flat_below_the_limit_ivf_from_it_and_flat_again_below_half() -> None:
    index = FaissVectors(DIM, policy=DensePolicy("auto", flat_limit=1000))
    vectors = clustered(1000)
    index.add(np.arange(999, dtype=np.int64), vectors[:999])
    assert index.kind == "flat"
    index.add(np.array([999], dtype=np.int64), vectors[999:])
    assert (index.kind, len(index), index.nlist) == ("ivf", 1000, nlist_for(1000))
    index.remove(np.arange(400, dtype=np.int64))  # 600 left: above half the limit
    assert index.kind == "ivf"
    index.remove(np.arange(400, 500, dtype=np.int64))  # 500 left: half the limit
    assert index.kind == "ivf"
    index.remove(np.array([500], dtype=np.int64))
    assert index.kind == "flat"
    assert np.array_equal(index.ids(), np.arange(501, 1000))


@pytest.mark.parametrize(("kind", "count"), [("flat", 3000), ("ivf", 3)])
def test_a_forced_kind_holds_at_any_size(kind: str, count: int) -> None:
    index, exact = filled(DensePolicy(kind, flat_limit=10), count)  # type: ignore[arg-type]
    assert index.kind == kind
    query = clustered(1, seed=5)[0]
    assert top(index, query, 3) == top(exact, query, 3)


def test_ivf_finds_nearly_what_exact_search_finds_on_clustered_data() -> None:
    index, exact = filled(DensePolicy("ivf", nprobe=6))
    assert index.kind == "ivf" and index.nlist > 6  # really approximate: not every list
    assert recall(index, exact, clustered(100, seed=7)) >= 0.9


def test_an_ivf_index_is_retrained_when_the_corpus_has_grown_many_times() -> None:
    index = FaissVectors(DIM, policy=DensePolicy("ivf"))
    vectors = clustered(4000)
    index.add(np.arange(200, dtype=np.int64), vectors[:200])
    small = index.nlist
    index.add(np.arange(200, 4000, dtype=np.int64), vectors[200:])
    assert index.nlist == nlist_for(4000) > small
    assert np.array_equal(index.ids(), np.arange(4000))


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_removed_ids_never_come_back(kind: str) -> None:
    index, exact = filled(DensePolicy(kind))  # type: ignore[arg-type]
    gone = np.arange(1000, 4000, 2, dtype=np.int64)
    index.remove(gone)
    exact.remove(gone)
    assert np.array_equal(index.ids(), exact.ids())
    found = {i for q in clustered(50, seed=3) for i in top(index, q, 50)}
    assert found and not found & set(gone.tolist())


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_allowed_keeps_results_to_those_ids(kind: str) -> None:
    index, exact = filled(DensePolicy(kind, nprobe=4))  # type: ignore[arg-type]
    query = clustered(1, seed=11)[0]
    few = np.array([1005, 1500, 2222, 3999, 77], dtype=np.int64)  # 77 is not held
    assert top(index, query, allowed=few) == top(exact, query, allowed=few)  # all lists: exact
    many = np.arange(1000, 4000, 3, dtype=np.int64)
    found = top(index, query, allowed=many)
    assert len(found) == 10 and set(found) <= set(many.tolist())
    assert index.search(query, 10, np.zeros(0, dtype=np.int64)) == []


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_save_then_load_gives_the_same_answers_and_the_file_decides_the_type(
    tmp_path: Path, kind: str
) -> None:
    index, _ = filled(DensePolicy(kind))  # type: ignore[arg-type]
    index.save(tmp_path / "dense.faiss")
    loaded = FaissVectors.load(tmp_path / "dense.faiss", DensePolicy("ivf", nprobe=1000))
    assert loaded.kind == kind
    assert np.array_equal(loaded.ids(), index.ids())
    for query in clustered(20, seed=13):
        assert loaded.search(query, 10) == index.search(query, 10)
    copy = loaded.copy()
    copy.remove(np.arange(1000, 2000, dtype=np.int64))
    assert len(loaded) == 3000 and len(copy) == 2000
    copy.add(np.array([1], dtype=np.int64), clustered(1))  # the next write applies the policy
    assert copy.kind == "ivf" and len(copy) == 2001


def test_a_search_runs_on_one_thread_and_leaves_the_callers_thread_count_alone() -> None:
    index, _ = filled(DensePolicy("flat"), 100)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(3)
    try:
        with one_thread(faiss):  # what a search runs in
            assert faiss.omp_get_max_threads() == 1
        index.search(clustered(1)[0], 5)
        assert faiss.omp_get_max_threads() == 3
    finally:
        faiss.omp_set_num_threads(before)


WORDS = "cats dogs parrots horses rivers mountains ships trains music painting".split()


def documents(count: int) -> list[Document]:
    return [
        Document(f"d{n}", f"{WORDS[n % 10]} and {WORDS[(n * 3) % 10]} story number {n}.")
        for n in range(count)
    ]


def test_a_write_never_trains_and_compact_publishes_an_ivf_generation(
    tmp_path: Path,
) -> None:
    config = EngineConfig(data_dir=tmp_path, dense_flat_limit=40)
    engine = Engine.open(config, HashEmbedder(64), create=True)
    engine.ingest(documents(30))
    assert isinstance(engine.files.current.dense, FaissVectors)
    assert engine.files.current.dense.kind == "flat" and not engine.wants_compact
    engine.ingest(documents(60))
    dense = engine.files.current.dense
    assert dense.kind == "flat" and len(dense) == 60
    assert engine.wants_compact  # past the limit, searched exactly until compacted
    exact = [h.passage.passage_id for h in engine.search("parrots and ships", mode="dense").hits]
    report = engine.compact()
    dense = engine.files.current.dense
    assert isinstance(dense, FaissVectors) and dense.kind == "ivf" and len(dense) == 60
    assert report.dense_before.startswith("flat") and report.dense_after.startswith("ivf")
    assert not engine.wants_compact
    assert [
        h.passage.passage_id for h in engine.search("parrots and ships", mode="dense").hits
    ] == exact
    engine.delete("d7")
    assert len(engine.files.current.dense) == 59
    before = [h.passage.passage_id for h in engine.search("parrots and ships", mode="dense").hits]
    assert before and all(h.passage.doc_id != "d7" for h in engine.search("story 7").hits)
    engine.close()
    [saved] = sorted((tmp_path / "indexes" / "dense").glob("base-*.faiss"))
    assert faiss.try_extract_index_ivf(faiss.read_index(str(saved))) is not None
    reopened = Engine.open(config, HashEmbedder(64))
    loaded = reopened.files.current.dense
    assert reopened.files.current.from_files and isinstance(loaded, FaissVectors)
    assert loaded.kind == "ivf" and len(loaded) == 59
    after = [h.passage.passage_id for h in reopened.search("parrots and ships", mode="dense").hits]
    assert after == before
    reopened.close()


def test_settings_pass_the_index_type_and_limit_to_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.settings import Settings

    monkeypatch.setenv("CITEQA_DENSE_INDEX", "ivf")
    monkeypatch.setenv("CITEQA_DENSE_FLAT_LIMIT", "1234")
    config = Settings().engine_config()
    assert (config.dense_index, config.dense_flat_limit) == ("ivf", 1234)
    monkeypatch.setenv("CITEQA_DENSE_INDEX", "hnsw")
    with pytest.raises(ValueError, match="dense_index"):
        Settings()
