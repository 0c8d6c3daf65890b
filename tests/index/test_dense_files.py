"""A write saves what it adds (not the whole dense index), a reader rebuilds the same
index from the files, and ``compact`` merges and reclaims while readers keep going."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import index.store.local.dense_files
from index import Document, Engine, EngineConfig, HashEmbedder
from index.store.local.dense_files import read_layout

WORDS = "cats dogs parrots horses rivers mountains ships trains music painting".split()
QUESTIONS = ["parrots and ships", "music of the rivers", "story number 12", "horses"]


def documents(start: int, count: int, version: str = "") -> list[Document]:
    return [
        Document(f"d{n}", f"{WORDS[n % 10]} and {WORDS[(n * 3) % 10]} story number {n}. {version}"
                 f" The {WORDS[(n * 7) % 10]} came back {version}.")
        for n in range(start, start + count)
    ]  # fmt: skip


def engine_at(path: Path, create: bool = False) -> Engine:
    return Engine.open(EngineConfig(data_dir=path), HashEmbedder(64), create=create)


def answers(engine: Engine) -> list[list[tuple[str, int]]]:
    return [
        [(h.passage.doc_id, h.passage.char_start) for h in engine.search(q, 5).hits]
        for q in QUESTIONS
    ]


def dense_files(path: Path) -> dict[str, int]:
    """Each dense file and its inode: a file rewritten in place would get a new one."""
    return {p.name: p.stat().st_ino for p in (path / "indexes" / "dense").iterdir()}


def current_folder(path: Path) -> Path:
    [folder] = (path / "indexes").glob("gen-*")
    return folder


def test_a_write_saves_only_what_it_added(tmp_path: Path) -> None:
    engine = engine_at(tmp_path, create=True)
    engine.ingest(documents(0, 40))
    first = dense_files(tmp_path)
    assert [n for n in first if n.startswith("base-")] and len(first) == 1
    engine.ingest(documents(40, 5))
    second = dense_files(tmp_path)
    assert {n: second[n] for n in first} == first  # the base is not written again
    [added] = [n for n in second if n not in first]
    with np.load(tmp_path / "indexes" / "dense" / added) as data:
        assert len(data["ids"]) == len(data["vectors"]) == 5
    assert not list(current_folder(tmp_path).glob("dense.faiss"))
    in_memory = answers(engine)
    engine.close()
    reopened = engine_at(tmp_path)
    assert reopened.files.current.from_files and len(reopened.files.current.dense) == 45
    assert answers(reopened) == in_memory
    reopened.close()


def test_removed_passages_stay_removed_after_a_reload(tmp_path: Path) -> None:
    engine = engine_at(tmp_path, create=True)
    engine.ingest(documents(0, 20))
    engine.ingest(documents(20, 10))  # in an addition file
    engine.delete("d3")  # from the base
    engine.delete("d25")  # from the addition
    engine.ingest(documents(5, 3, version="again"))  # replaced: old ids removed, new added
    in_memory = answers(engine)
    ids = engine.files.current.dense.ids()
    engine.close()
    layout, removed = read_layout(current_folder(tmp_path)) or (None, None)
    assert layout is not None and removed is not None and len(removed) >= 4
    reopened = engine_at(tmp_path)
    assert np.array_equal(reopened.files.current.dense.ids(), ids)
    assert answers(reopened) == in_memory
    assert {h.passage.doc_id for q in ("story number 3", "story number 25")
            for h in reopened.search(q, 30).hits}.isdisjoint({"d3", "d25"})  # fmt: skip
    reopened.close()


def test_a_new_base_once_additions_outgrow_it_and_old_files_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.store.local.dense_files, "MIN_BASE", 10)
    engine = engine_at(tmp_path, create=True)
    engine.ingest(documents(0, 8))
    engine.ingest(documents(8, 4))  # 4 added <= 10: appended
    assert len(dense_files(tmp_path)) == 2
    engine.ingest(documents(12, 10))  # 14 added > 10: a new base of everything
    files = dense_files(tmp_path)
    assert len(files) == 1 and next(iter(files)).startswith("base-")
    in_memory = answers(engine)
    engine.close()
    reopened = engine_at(tmp_path)
    assert len(reopened.files.current.dense) == 22 and answers(reopened) == in_memory
    reopened.close()


def test_a_generation_saved_whole_before_layouts_still_loads(tmp_path: Path) -> None:
    engine = engine_at(tmp_path, create=True)
    engine.ingest(documents(0, 12))
    in_memory = answers(engine)
    folder = current_folder(tmp_path)
    engine.files.current.dense.save(folder / "dense.faiss")  # as citeqa wrote it before
    (folder / "dense.json").unlink()
    (folder / "dense-removed.npy").unlink()
    engine.close()
    reopened = engine_at(tmp_path)
    assert reopened.files.current.from_files and answers(reopened) == in_memory
    reopened.ingest(documents(12, 2))  # the next write starts a base of its own
    assert read_layout(current_folder(tmp_path)) is not None
    assert len(reopened.files.current.dense) == 14
    reopened.close()


def test_compact_merges_token_segments_and_drops_dead_rows(tmp_path: Path) -> None:
    engine = engine_at(tmp_path, create=True)
    for start in range(0, 30, 10):
        engine.ingest(documents(start, 10))
    engine.ingest(documents(0, 5, version="again"))  # the first segment is half dead
    engine.delete("d12")
    before = answers(engine)
    report = engine.compact()
    assert report.token_segments_before == 4 and report.token_segments_after == 1
    assert report.token_rows_dropped > 0
    assert report.dense_before == report.dense_after == "flat (exact), 29 vectors"
    assert len(list((tmp_path / "tokens").glob("seg-*.npy"))) == 1
    assert answers(engine) == before  # late interaction reads the same codes
    again = engine.compact()
    assert again.token_rows_dropped == 0 and again.token_segments_after == 1
    engine.close()
    reopened = engine_at(tmp_path)
    assert answers(reopened) == before
    reopened.close()


def test_a_reader_keeps_answering_through_a_compaction(tmp_path: Path) -> None:
    writer = engine_at(tmp_path, create=True)
    writer.ingest(documents(0, 20))
    writer.ingest(documents(20, 10))
    writer.delete("d4")
    reader = engine_at(tmp_path)
    before = answers(reader)
    generation = reader.generation
    writer.compact()
    assert answers(reader) == before  # on the generation it loaded
    assert reader.refresh() and reader.generation == generation + 1
    assert answers(reader) == before
    writer.close()
    reader.close()
