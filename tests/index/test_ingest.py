"""The streaming ingest pipeline, the write lock and index generations (fake embedder)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from index import (
    ChunkSpec,
    Document,
    Engine,
    EngineConfig,
    Filters,
    HashEmbedder,
    IndexStateError,
)
from index.model.embedder import Vectors
from index.store.local.dense import FaissVectors
from index.store.local.dense_files import read_layout
from index.store.lock import is_locked, write_lock

WORDS = "amber basil cedar delta ember fjord garnet harbor indigo juniper kelp lumen".split()


def corpus(count: int) -> list[Document]:
    """Documents that each hold one word no other document has."""
    return [
        Document(
            f"doc-{i:03d}.txt",
            f"Report {i} mentions the {WORDS[i % len(WORDS)]}{i} project. "
            f"It was filed in week {i}. Nothing else happened that week.",
        )
        for i in range(count)
    ]


def open_engine(data: Path, **config: object) -> Engine:
    return Engine.open(EngineConfig(data_dir=data, **config), HashEmbedder(), create=True)  # type: ignore[arg-type]


class CountingEmbedder(HashEmbedder):
    """Records the largest number of texts any single embedding call saw."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        self.largest = max(self.largest, len(texts))
        return super().embed_batch(texts)


def test_ingest_streams_one_batch_at_a_time_and_commits_each(tmp_path: Path) -> None:
    """Memory holds one batch: the source is read only as far as the batch being
    embedded, and every earlier batch is already committed and searchable."""
    batch, docs = 4, corpus(18)
    embedder = CountingEmbedder()
    engine = Engine.open(
        EngineConfig(data_dir=tmp_path, ingest_batch=batch, batch_size=1000), embedder, create=True
    )
    reader = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder())
    pulled: list[int] = []

    def source() -> Iterator[Document]:
        for i, doc in enumerate(docs):
            committed = len(reader.documents())
            # Before document i is read, every full batch before it is committed.
            assert committed == (i // batch) * batch
            pulled.append(i)
            yield doc

    stages: list[tuple[str, int]] = []
    report = engine.ingest(source(), lambda stage, done, total: stages.append((stage, done)))
    assert report.added == len(docs) and report.generation == 5  # ceil(18 / 4) generations
    documents_done = [done for stage, done in stages if stage == "documents"]
    assert documents_done == [4, 8, 12, 16, 18]
    # Each embedding call saw at most one batch's sentences (3 a document here).
    assert 0 < embedder.largest <= batch * 3
    assert reader.refresh() and reader.size == engine.size == 18
    reader.close()
    engine.close()


def test_a_batch_of_long_documents_ends_at_the_passage_limit(tmp_path: Path) -> None:
    """Long pages make big batches: a batch ends once its passages reach the limit,
    however few documents it holds, so memory is bounded by passages."""
    long = [Document(f"long{n}", " ".join(f"Sentence {i} of page {n} is here." for i in range(40)))
            for n in range(6)]  # fmt: skip
    embedder = CountingEmbedder()
    config = EngineConfig(data_dir=tmp_path, ingest_passages=4, batch_size=1000,
                          chunk=ChunkSpec(max_chars=200, overlap=0))  # fmt: skip
    engine = Engine.open(config, embedder, create=True)
    report = engine.ingest(long)
    per_document = report.passages // 6
    assert per_document >= 4 and report.passages == 6 * per_document
    assert report.generation == 6  # one document a batch: each alone reaches the limit
    assert embedder.largest <= per_document * 40  # one document's sentences at most
    engine.close()


def test_a_rerun_skips_committed_documents_without_embedding_them(tmp_path: Path) -> None:
    docs = corpus(10)
    engine = open_engine(tmp_path, ingest_batch=3)
    engine.ingest(docs[:6])
    embedder = CountingEmbedder()
    again = Engine.open(EngineConfig(data_dir=tmp_path, ingest_batch=3), embedder)
    report = again.ingest(docs)
    assert (report.added, report.unchanged) == (4, 6)
    assert embedder.largest <= 3 * 3  # only the new documents' batches were embedded
    again.close()
    engine.close()


def test_empty_documents_are_reported_and_not_stored(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    report = engine.ingest([Document("blank.txt", " \n\t\n"), Document("a.txt", "Real text here.")])
    assert report.empty == ("blank.txt",) and report.added == 1
    assert [d.doc_id for d in engine.documents()] == ["a.txt"]
    # A stored document that became empty is removed, not left answering from old text.
    report = engine.ingest([Document("a.txt", "")])
    assert report.empty == ("a.txt",) and engine.documents() == []
    assert engine.search("real text").hits == ()
    engine.close()


@pytest.mark.parametrize("bad", ["", "   "])
def test_an_empty_id_is_refused(tmp_path: Path, bad: str) -> None:
    engine = open_engine(tmp_path)
    with pytest.raises(Exception, match="empty id"):
        engine.ingest([Document(bad, "Some text.")])
    engine.close()


def test_reading_never_writes_and_a_missing_data_dir_is_named(tmp_path: Path) -> None:
    with pytest.raises(IndexStateError, match="no index in"):
        Engine.open(EngineConfig(data_dir=tmp_path / "typo"), HashEmbedder())
    assert not (tmp_path / "typo").exists()
    engine = open_engine(tmp_path / "data")
    engine.ingest(corpus(3))
    engine.close()
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "data").rglob("*") if p.is_file()}
    reader = Engine.open(EngineConfig(data_dir=tmp_path / "data"), HashEmbedder())
    reader.search("amber0 project")
    reader.documents()
    reader.close()
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "data").rglob("*") if p.is_file()}
    changed = {p.name for p in after if before.get(p) != after[p]}
    assert changed <= {"citeqa.sqlite3-shm", "citeqa.sqlite3-wal"}  # SQLite's own reader files


def test_a_reader_swaps_to_a_newer_generation_and_searches_finish_on_theirs(
    tmp_path: Path,
) -> None:
    writer = open_engine(tmp_path)
    writer.ingest([Document("talks.txt", "The envoy said the talks were about the exit.")])
    reader = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder())
    held = reader.files.current
    writer.ingest([Document("talks.txt", "The envoy said the talks were about oil prices.")])
    assert reader.refresh() and reader.generation == 2
    assert not reader.refresh()  # nothing new: one stat
    hit = reader.search("talks about oil prices").hits[0]
    assert "oil prices" in hit.highlight.text
    # The old generation is untouched: a question that started on it ends on it.
    assert held.generation == 1 and held.size == 1
    writer.close()
    reader.close()


def test_files_holding_other_ids_than_sqlite_are_not_trusted(tmp_path: Path) -> None:
    """The same count with other ids (two writers interleaved, before the lock) must
    not pass: a reader builds from SQLite, and the next writer saves a good generation."""
    engine = open_engine(tmp_path)
    engine.ingest(corpus(4))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    found = read_layout(tmp_path / "indexes" / manifest["folder"])
    assert found is not None
    path = tmp_path / "indexes" / "dense" / found[0].base
    dense = FaissVectors.load(path)
    ids = dense.ids()
    vectors = np.stack([np.asarray(dense._index.reconstruct(int(i))) for i in ids])
    wrong = FaissVectors(dense.dimension)
    wrong.add(ids + 1000, vectors)  # as many vectors, other ids
    wrong.save(path)
    reader = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder())
    assert not reader.files.current.from_files
    assert set(reader.files.current.dense.ids()) == set(reader.store.passage_ids())
    assert reader.search("amber0 project", mode="dense").hits[0].passage.doc_id == "doc-000.txt"
    engine.ingest(corpus(5))  # the next write repairs and publishes
    fresh = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder())
    assert fresh.files.current.from_files
    for engine_ in (reader, fresh, engine):
        engine_.close()


def test_a_crash_between_commit_and_save_is_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_engine(tmp_path)
    engine.ingest(corpus(2))
    manifest = (tmp_path / "manifest.json").read_bytes()
    engine.ingest(corpus(3))
    (tmp_path / "manifest.json").write_bytes(manifest)  # as if killed before the switch
    reader = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder())
    assert not reader.files.current.from_files and reader.size == 3
    assert reader.search("garnet2 project").hits[0].passage.doc_id == "doc-002.txt"
    # The next writer holds the lock itself, so the lag cannot be a write in progress:
    # it saves SQLite's state before adding its own batch on top.
    engine.ingest(corpus(5))
    assert "disagree" not in caplog.text  # repaired first, not caught by the last check
    fresh = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder())
    assert fresh.files.current.from_files and fresh.size == 5
    assert set(fresh.files.current.dense.ids()) == set(fresh.store.passage_ids())
    for opened in (reader, fresh, engine):
        opened.close()


def test_a_second_writer_waits_for_the_first_and_can_be_told_who_holds_it(
    tmp_path: Path,
) -> None:
    tmp_path.joinpath("write.lock").touch()
    released = threading.Event()

    def hold() -> None:
        with write_lock(tmp_path):
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    deadline = time.monotonic() + 5
    while not is_locked(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert is_locked(tmp_path)
    with pytest.raises(IndexStateError, match=r"being written by pid \d+"):
        with write_lock(tmp_path, timeout=0.2):
            pass
    released.set()
    holder.join()
    with write_lock(tmp_path, timeout=1), write_lock(tmp_path, timeout=1):  # re-entrant
        assert is_locked(tmp_path)
    assert not is_locked(tmp_path)


def test_old_generations_are_pruned_and_temp_folders_of_dead_writers_removed(
    tmp_path: Path,
) -> None:
    engine = open_engine(tmp_path, ingest_batch=1)
    (tmp_path / "indexes").mkdir(exist_ok=True)
    (tmp_path / "indexes" / ".gen-00000099.12345.tmp").mkdir()
    engine.ingest(corpus(6))
    names = sorted(p.name for p in (tmp_path / "indexes").iterdir())
    assert names == ["dense", "gen-00000006"]  # only the generation the manifest names
    dense = sorted((p.name for p in (tmp_path / "indexes" / "dense").iterdir()), reverse=True)
    assert dense == ["base-00000001.faiss", *(f"add-{n:08d}.npz" for n in range(6, 1, -1))]
    engine.close()


def test_filters_restrict_candidates_before_ranking(tmp_path: Path) -> None:
    """A filtered question reads only the filtered documents' candidates, however
    many other passages match better."""
    engine = open_engine(tmp_path, candidates=5)
    docs = corpus(30) + [Document("other.txt", "Week 7 notes: the amber project was filed.")]
    engine.ingest(docs)
    result = engine.search("amber project filed", filters=Filters(doc_ids=frozenset({"other.txt"})))
    assert [h.passage.doc_id for h in result.hits] == ["other.txt"]
    for mode in ("dense", "lexical"):
        hits = engine.search(
            "amber project", mode=mode, filters=Filters(doc_ids=frozenset({"other.txt"}))
        )
        assert {h.passage.doc_id for h in hits.hits} == {"other.txt"}
    engine.close()


def test_a_lone_surrogate_in_a_question_is_a_bad_query(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    engine.ingest(corpus(1))
    with pytest.raises(Exception, match="not valid Unicode"):
        engine.search("what about \ud800?")
    engine.close()


def test_a_filtered_question_reads_a_bounded_number_of_passages(tmp_path: Path) -> None:
    """Ten parallel filtered questions over one 300 KB document once cost the whole
    document per passage row: now rows carry their own text and the filter narrows the
    candidates, so a question reads at most the candidate depth, whatever the size."""
    engine = open_engine(tmp_path, candidates=50)
    sentences = [
        f"Line {i} notes that shipment {i} of {WORDS[i % 12]} left the port." for i in range(4000)
    ]
    engine.ingest([Document("big.txt", "\n".join(sentences)), *corpus(3)])
    assert len(engine.document("big.txt").text) > 200_000
    read: list[int] = []
    original = engine.store.passages

    def counting(row_ids: Sequence[int]) -> dict:  # type: ignore[type-arg]
        read.append(len(row_ids))
        return original(row_ids)

    engine.store.passages = counting  # type: ignore[method-assign]
    result = engine.search("shipment of basil", filters=Filters(doc_ids=frozenset({"big.txt"})))
    assert result.hits and {h.passage.doc_id for h in result.hits} == {"big.txt"}
    assert sum(read) <= 2 * 50  # dense and lexical candidates, nothing more
    stored = next(iter(original([1]).values()))
    assert not any(len(str(v)) > 10_000 for v in vars(stored).values())  # no document text
    engine.close()
