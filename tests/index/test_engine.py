from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from index import (
    BadDocumentError,
    BadQueryError,
    Document,
    Engine,
    EngineConfig,
    Filters,
    HashEmbedder,
    ModelMismatchError,
    NotFoundError,
    read_path,
)
from index.model.embedder import Vectors
from tests.conftest import SEEDS

DOCS = [
    Document("a", "Cats purr loudly at night. Cats sleep all day long in the sun."),
    Document("b", "Dogs bark at the mailman. Dogs fetch sticks in the park."),
    Document("c", "Parrots talk and mimic people. Parrots eat seeds and fruit."),
]


STORES = ["local", "milvus"]
"""The storages the engine's behaviour is checked on: the same tests, both stores."""
each_store = pytest.mark.parametrize("store", STORES)


def open_engine(data: Path, backend: str = "faiss", dim: int = 256, store: str = "local") -> Engine:
    config = EngineConfig(data_dir=data, backend=backend, store=store)  # type: ignore[arg-type]
    return Engine.open(config, HashEmbedder(dim), create=True)


@pytest.mark.parametrize(
    ("backend", "store"), [("faiss", "local"), ("numpy", "local"), ("faiss", "milvus")]
)
@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_search_finds_the_right_document(
    tmp_path: Path, backend: str, store: str, mode: str
) -> None:
    engine = open_engine(tmp_path, backend, store=store)
    engine.ingest(DOCS)
    result = engine.search("Which animal fetch sticks?", top_k=2, mode=mode)
    assert result.hits[0].passage.doc_id == "b"
    assert "fetch sticks" in result.hits[0].highlight.text
    for hit in result.hits:
        doc = engine.document(hit.passage.doc_id)
        assert doc.text[hit.passage.char_start : hit.passage.char_end] == hit.passage.text
        assert doc.text[hit.highlight.char_start : hit.highlight.char_end] == hit.highlight.text


@each_store
def test_index_survives_reopen_and_answers_the_same(tmp_path: Path, store: str) -> None:
    engine = open_engine(tmp_path, store=store)
    engine.ingest(DOCS)
    before = [h.passage.passage_id for h in engine.search("parrots eat seeds").hits]
    engine.close()
    reopened = open_engine(tmp_path, store=store)
    assert reopened.size == engine.size
    assert [h.passage.passage_id for h in reopened.search("parrots eat seeds").hits] == before


@each_store
def test_ingest_skips_unchanged_replaces_changed_and_delete_removes(
    tmp_path: Path, store: str
) -> None:
    engine = open_engine(tmp_path, store=store)
    first = engine.ingest(DOCS)
    assert (first.added, first.replaced, first.unchanged) == (3, 0, 0)
    again = engine.ingest(DOCS)
    assert (again.added, again.replaced, again.unchanged, again.passages) == (0, 0, 3, 0)
    changed = engine.ingest([Document("a", "Cats now chase laser pointers around the house.")])
    assert changed.replaced == 1
    hits = engine.search("laser pointers", mode="lexical").hits
    assert hits[0].passage.doc_id == "a"
    assert not engine.search("purr loudly", mode="lexical").hits
    engine.delete("b")
    assert all(h.passage.doc_id != "b" for h in engine.search("dogs bark mailman", top_k=5).hits)
    with pytest.raises(NotFoundError, match="'b'"):
        engine.document("b")
    engine.close()
    assert open_engine(tmp_path, store=store).size == engine.size


def test_a_damaged_faiss_file_is_rebuilt_from_sqlite(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    engine.ingest(DOCS)
    engine.close()
    damaged = list((tmp_path / "indexes" / "dense").glob("base-*.faiss"))
    assert damaged
    for faiss_file in damaged:
        faiss_file.write_bytes(b"garbage")
    reopened = open_engine(tmp_path)
    assert reopened.search("dogs bark", mode="dense").hits[0].passage.doc_id == "b"


def test_a_manifest_that_lags_sqlite_triggers_a_rebuild(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    engine.ingest(DOCS[:1])
    engine.close()
    stale = (tmp_path / "manifest.json").read_bytes()
    engine = open_engine(tmp_path)
    engine.ingest(DOCS[1:])
    engine.close()
    (tmp_path / "manifest.json").write_bytes(stale)  # as if we crashed before saving the files
    reopened = open_engine(tmp_path)
    assert reopened.search("parrots", mode="lexical").hits[0].passage.doc_id == "c"


@each_store
def test_an_index_built_with_another_model_is_refused(tmp_path: Path, store: str) -> None:
    engine = open_engine(tmp_path, store=store)
    engine.ingest(DOCS)
    engine.close()

    class OtherModel(HashEmbedder):
        name = "other-model"

    with pytest.raises(ModelMismatchError, match="built with model 'hash'"):
        Engine.open(EngineConfig(tmp_path, store=store), OtherModel(), create=True)  # type: ignore[arg-type]


@each_store
def test_another_dimension_is_refused_and_reindex_repairs(tmp_path: Path, store: str) -> None:
    engine = open_engine(tmp_path, dim=256, store=store)
    engine.ingest(DOCS[:1])
    engine.close()
    wider = open_engine(tmp_path, dim=32, store=store)
    with pytest.raises(ModelMismatchError, match="32-dimensional"):
        wider.ingest(DOCS[1:])
    assert wider.search("cats", mode="lexical").hits  # nothing half-written
    wider.reindex()
    wider.ingest(DOCS[1:])
    assert wider.search("parrots eat seeds", mode="dense").hits[0].passage.doc_id == "c"


@each_store
def test_filters_and_duplicate_collapse(tmp_path: Path, store: str) -> None:
    engine = open_engine(tmp_path, store=store)
    twin = "Maduro is eager to play ball with the White House."
    engine.ingest([Document("x", twin), Document("y", twin), *DOCS])
    doc_ids = [h.passage.doc_id for h in engine.search("Maduro play ball", top_k=5).hits]
    assert doc_ids.count("x") + doc_ids.count("y") == 1
    only = engine.search("animals", top_k=5, filters=Filters(doc_ids=frozenset({"c"})))
    assert {h.passage.doc_id for h in only.hits} == {"c"}
    with pytest.raises(BadQueryError, match="unknown doc_ids"):
        engine.search("x", filters=Filters(doc_ids=frozenset({"nope"})))


@each_store
def test_an_unknown_source_is_an_error_like_an_unknown_doc_id(tmp_path: Path, store: str) -> None:
    engine = open_engine(tmp_path, store=store)
    engine.ingest([Document("n", "Parrots talk at the news desk.", source="Gazette"), *DOCS])
    assert engine.storage.sources() == {"Gazette"}  # documents without a source add none
    only = engine.search("parrots", filters=Filters(sources=frozenset({"Gazette"})))
    assert {h.passage.doc_id for h in only.hits} == {"n"}
    with pytest.raises(BadQueryError, match=r"unknown sources in filters: 'gazette'.*GET /v1/doc"):
        engine.search("parrots", filters=Filters(sources=frozenset({"Gazette", "gazette"})))


@pytest.mark.parametrize(
    ("question", "kwargs", "message"),
    [
        ("  ", {}, "empty"),
        ("cats", {"mode": "fuzzy"}, "unknown mode"),
        ("cats", {"top_k": 0}, "top_k"),
    ],
)
def test_bad_queries_say_what_to_change(
    hash_engine: Engine, question: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(BadQueryError, match=message):
        hash_engine.search(question, **kwargs)  # type: ignore[arg-type]


def test_empty_index_answers_nothing_not_an_error(hash_engine: Engine) -> None:
    result = hash_engine.search("anything at all")
    assert result.hits == () and result.answerable is False


def test_readers(tmp_path: Path) -> None:
    docs = list(read_path(SEEDS))
    assert [d.doc_id for d in docs] == sorted(p.name for p in SEEDS.glob("*.txt"))
    assert docs[0].text == (SEEDS / docs[0].doc_id).read_text()
    beir = tmp_path / "corpus.jsonl"
    beir.write_text('{"_id": "7", "title": "T", "text": "Body."}\n\n{"_id": 8, "text": "More."}\n')
    assert [(d.doc_id, d.title) for d in read_path(beir)] == [("7", "T"), ("8", None)]
    beir.write_text('{"title": "no id"}\n')
    with pytest.raises(BadDocumentError, match=r"corpus.jsonl:1"):
        list(read_path(beir))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BadDocumentError, match="not UTF-8"):
        list(read_path(tmp_path / "bin.txt"))
    with pytest.raises(BadDocumentError, match="does not exist"):
        list(read_path(tmp_path / "missing.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        BadDocumentError, match=r"no \.txt, \.md, \.html, \.htm, \.pdf, \.docx files"
    ):
        list(read_path(tmp_path / "empty"))


def test_a_damaged_sqlite_file_gives_a_clear_error(tmp_path: Path) -> None:
    from index import IndexStateError

    tmp_path.joinpath("citeqa.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexStateError, match="ingest again"):
        open_engine(tmp_path)


class CountingEmbedder(HashEmbedder):
    """Counts the texts it embeds, to show what is (not) embedded at query time."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        self.texts += len(texts)
        return super().embed_batch(texts)


def test_sentences_are_embedded_once_at_ingest_not_per_question(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    engine = Engine.open(EngineConfig(data_dir=tmp_path), embedder, create=True)
    engine.ingest(DOCS)
    before = embedder.texts
    result = engine.search("Which animal fetch sticks?", top_k=3)
    assert embedder.texts == before + 1  # the question only
    assert "fetch sticks" in result.hits[0].highlight.text
    engine.close()


def test_an_index_without_sentence_vectors_is_read_as_is_and_filled_by_the_next_write(
    tmp_path: Path,
) -> None:
    engine = open_engine(tmp_path)
    engine.ingest(DOCS)
    expected = engine.search("Which animal fetch sticks?", top_k=3)
    with engine.store.transaction() as db:  # as an index written before migration 2
        db.execute("UPDATE passages SET sentence_vectors = NULL")
    engine.close()
    embedder = CountingEmbedder()
    reopened = Engine.open(EngineConfig(data_dir=tmp_path), embedder)
    again = reopened.search("Which animal fetch sticks?", top_k=3)  # embedded on the fly
    spans = [(h.highlight.char_start, h.highlight.char_end) for h in expected.hits]
    assert [(h.highlight.char_start, h.highlight.char_end) for h in again.hits] == spans
    assert len(reopened.store.passages_without_sentence_vectors()) == 3  # a reader never writes
    embedder.texts = 0
    reopened.ingest([])
    assert embedder.texts == 6  # two sentences in each of three documents
    assert reopened.store.passages_without_sentence_vectors() == []
    reopened.close()


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_sentence_scoring_keeps_hybrid_answers_and_dense_mode_pure(
    tmp_path: Path, fusion: str
) -> None:
    config = EngineConfig(data_dir=tmp_path, fusion=fusion, sentence_weight=1.0)  # type: ignore[arg-type]
    engine = Engine.open(config, HashEmbedder(), create=True)
    engine.ingest(DOCS)
    assert engine.search("Which animal fetch sticks?").hits[0].passage.doc_id == "b"
    dense = engine.retrieve("Which animal fetch sticks?", 3, "dense")
    plain = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder(), create=True)
    assert dense == plain.retrieve("Which animal fetch sticks?", 3, "dense")
    plain.close()
    engine.close()


@each_store
def test_retrieve_ranks_without_highlights_and_checks_its_input(tmp_path: Path, store: str) -> None:
    engine = open_engine(tmp_path, store=store)
    engine.ingest(DOCS)
    ranked = engine.retrieve("parrots eat seeds", 10, "lexical")
    assert ranked[0][0].doc_id == "c" and ranked[0][1] > 0
    with pytest.raises(BadQueryError, match="unknown mode"):
        engine.retrieve("parrots", 10, "fuzzy")
    engine.close()


def test_embed_many_returns_rows_in_input_order_whatever_the_batching() -> None:
    import numpy as np

    texts = ["a much longer text about parrots and seeds", "cats", "dogs bark", "", "x y"]
    embedder = HashEmbedder()
    assert np.array_equal(embedder.embed_many(texts, batch_size=2), embedder.embed_batch(texts))
    assert embedder.embed_many([]).shape == (0, embedder.dimension)


def test_the_answerable_verdict_does_not_depend_on_top_k(tmp_path: Path) -> None:
    # a low threshold: the hash embedder's cosines are small; the names rule decides here
    engine = Engine.open(
        EngineConfig(tmp_path, answerable_threshold=0.1), HashEmbedder(), create=True
    )
    engine.ingest([
        Document("a", "Parrots eat seeds and fruit. Parrots talk about seeds all day."),
        Document("b", "Rubio met Cabello in Caracas."),
    ])  # fmt: skip
    question = "Did Rubio and Cabello talk about parrots eating seeds?"
    first = engine.search(question, top_k=1)
    assert first.hits[0].passage.doc_id == "a"  # the names meet only in the second result
    verdicts = {engine.search(question, top_k=k).answerable for k in (1, 2, 5)}
    assert verdicts == {True}
    assert engine.search("What did Putin say about parrots?", top_k=1).answerable is False
    engine.close()


@pytest.mark.parametrize(
    ("sentences", "late_weight", "mode", "scored"),
    [
        ("pooled", 0.5, "dense", True),  # the verdict reads MaxSim in every mode
        ("pooled", 0.0, "hybrid", True),  # with late interaction's reordering off too
        ("separate", 0.5, "dense", False),  # it reads the best sentence's cosine
        ("separate", 0.5, "hybrid", True),  # late interaction scored the head
    ],
)
def test_the_verdict_reads_maxsim_when_sentences_are_pooled(
    tmp_path: Path, sentences: str, late_weight: float, mode: str, scored: bool
) -> None:
    config = EngineConfig(tmp_path, sentence_vectors=sentences, late_weight=late_weight)  # type: ignore[arg-type]
    engine = Engine.open(config, HashEmbedder(), create=True)
    engine.ingest(DOCS)
    result = engine.search("Which animal fetch sticks?", top_k=3, mode=mode)
    assert result.hits and all((hit.late is not None) is scored for hit in result.hits)
    assert ("late" in result.stages) is (mode == "hybrid" and late_weight > 0)
    strict = dataclasses.replace(engine.config, answerable_threshold=0.99)
    engine.config = strict  # no hash-embedded hit comes that close, by either measure
    assert engine.search("Which animal fetch sticks?", mode=mode).answerable is False
    engine.close()


@pytest.mark.parametrize(
    ("mode", "filters", "stages"),
    [
        ("hybrid", None, ["embed", "dense", "lexical", "fuse", "late", "highlight", "answerable"]),
        ("dense", None, ["embed", "dense", "fuse", "highlight", "answerable"]),
        ("lexical", Filters(doc_ids=frozenset({"b"})),
         ["filter", "embed", "lexical", "fuse", "highlight", "answerable"]),
    ],
)  # fmt: skip
@each_store
def test_search_times_each_stage_that_ran(
    tmp_path: Path, mode: str, filters: Filters | None, stages: list[str], store: str
) -> None:
    engine = open_engine(tmp_path, store=store)
    engine.ingest(DOCS)
    result = engine.search("Which animal fetch sticks?", mode=mode, filters=filters)
    assert list(result.stages) == stages
    assert all(ms >= 0 for ms in result.stages.values())
    assert sum(result.stages.values()) <= result.took_ms


def test_close_waits_for_a_write_in_progress(tmp_path: Path) -> None:
    class Slow(HashEmbedder):
        entered = threading.Event()

        def embed_batch(self, texts: Sequence[str]) -> Vectors:
            self.entered.set()
            threading.Event().wait(0.2)
            return super().embed_batch(texts)

    engine = Engine.open(EngineConfig(data_dir=tmp_path), Slow(), create=True)
    writer = threading.Thread(target=engine.ingest, args=(DOCS,))
    writer.start()
    assert Slow.entered.wait(5)
    engine.close()  # after the write has committed, not in the middle of it
    writer.join(5)
    reopened = open_engine(tmp_path)
    assert {d.doc_id for d in reopened.documents()} == {"a", "b", "c"}
    reopened.close()


@each_store
def test_a_long_document_comes_back_exactly_and_its_spans_cite_it(
    tmp_path: Path, store: str
) -> None:
    # Longer than one Milvus VARCHAR part (16,000 characters), with text beyond the basic
    # plane that UTF-8 stores in 4 bytes, so parts must split by characters, not bytes.
    filler = " ".join(f"Paragraph {i} notes the harbour tide tables 🌊." for i in range(900))
    text = f"{filler}\n\nThe lighthouse keeper counted seventeen brass lanterns.\n\n{filler}"
    assert len(text) > 80_000
    engine = open_engine(tmp_path, store=store)
    engine.ingest([Document("long", text, title="Harbour log"), *DOCS])
    assert engine.document("long").text == text
    hit = engine.search("How many brass lanterns did the keeper count?", mode="lexical").hits[0]
    assert hit.passage.doc_id == "long" and "seventeen brass lanterns" in hit.highlight.text
    assert text[hit.passage.char_start : hit.passage.char_end] == hit.passage.text
    spans = engine.indexed_spans("long")
    assert spans[0].start == 0 and spans[-1].end == len(text)
    assert engine.document_info("long").chars == len(text)
    engine.close()


@each_store
def test_ids_with_quotes_and_backslashes_are_kept_apart(tmp_path: Path, store: str) -> None:
    # Milvus filters and keys are strings citeqa writes: an id must never be read as
    # another id, nor break the expression.
    ids = ['b"x', 'b\\"x', "it's.txt", "back\\slash.txt"]
    engine = open_engine(tmp_path, store=store)
    engine.ingest([Document(i, f"Parrot number {n} eats seeds.") for n, i in enumerate(ids)])
    assert sorted(d.doc_id for d in engine.documents()) == sorted(ids)
    for n, doc_id in enumerate(ids):
        assert engine.document(doc_id).text == f"Parrot number {n} eats seeds."
        assert engine.indexed_spans(doc_id)
    only = engine.search("parrot seeds", filters=Filters(doc_ids=frozenset({'b\\"x'})))
    assert {h.passage.doc_id for h in only.hits} == {'b\\"x'}
    engine.delete('b\\"x')
    assert sorted(d.doc_id for d in engine.documents()) == sorted(set(ids) - {'b\\"x'})
    assert engine.document('b"x').text == "Parrot number 0 eats seeds."
    engine.close()
