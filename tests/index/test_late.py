from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index import Document, Engine, EngineConfig, HashEmbedder, SentenceTransformerEmbedder
from index.model.embedder import TokenVectors
from index.model.tokens import content_vectors
from index.search.late import maxsim
from index.store.local.db import tokens_blob, tokens_from_blob


class CountingTokens(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.token_texts: list[str] = []

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        self.token_texts.extend(texts)
        return super().embed_tokens(texts)


def test_only_meaningful_tokens_take_part() -> None:
    tokens = ("[CLS]", "what", "did", "bolton", "say", "?", "##s", "[SEP]")
    vectors = np.eye(len(tokens), dtype=np.float32)
    kept = content_vectors(TokenVectors(tokens, vectors))
    assert [int(row.argmax()) for row in kept] == [3, 4, 6]  # bolton, say, ##s


def test_each_question_token_takes_its_best_match() -> None:
    embedder = HashEmbedder()
    question = content_vectors(embedder.embed_tokens(["sanctions on oil"])[0])
    both = content_vectors(embedder.embed_tokens(["oil exports face new sanctions"])[0])
    one = content_vectors(embedder.embed_tokens(["oil prices rose sharply today"])[0])
    assert maxsim(question, both) == pytest.approx(1.0)
    assert maxsim(question, one) == pytest.approx(0.5)
    assert maxsim(question, np.zeros((0, 256), np.float32)) == 0.0


def test_token_vectors_are_stored_at_ingest_not_computed_per_question(tmp_path: Path) -> None:
    embedder = CountingTokens()
    engine = Engine.open(EngineConfig(data_dir=tmp_path), embedder, create=True)
    engine.ingest([Document("a", "Oil sanctions hit hard."), Document("b", "Rain fell.")])
    assert len(embedder.token_texts) == 2  # one text per passage
    embedder.token_texts.clear()
    engine.search("how did sanctions hit?")
    assert embedder.token_texts == ["how did sanctions hit?"]  # the question only
    engine.close()


def test_an_index_without_token_vectors_gets_them_at_the_next_write(tmp_path: Path) -> None:
    # Late interaction off and sentences separate: nothing reads token vectors, none stored.
    config = EngineConfig(data_dir=tmp_path, late_weight=0.0, sentence_vectors="separate")
    engine = Engine.open(config, HashEmbedder(), create=True)
    engine.ingest([Document("a", "Oil sanctions hit hard.")])
    assert len(engine.store.passages_without_token_vectors()) == 1
    engine.close()
    embedder = CountingTokens()
    reopened = Engine.open(EngineConfig(data_dir=tmp_path), embedder)
    assert embedder.token_texts == []  # a reader never writes
    reopened.ingest([])
    assert len(embedder.token_texts) == 1
    assert reopened.store.passages_without_token_vectors() == []
    reopened.close()


DOCS = [
    Document("a", f"Report {i}. The ministry released figures on trade. Exports grew slowly.")
    for i in range(6)
] + [Document("z", "Oil sanctions hit the economy hard. Talks stalled in the capital.")]


def test_pooled_sentences_keep_token_vectors_with_late_interaction_off(tmp_path: Path) -> None:
    config = EngineConfig(data_dir=tmp_path, late_weight=0.0)  # sentences pooled by default
    engine = Engine.open(config, HashEmbedder(), create=True)
    engine.ingest([Document("a", "Oil sanctions hit hard.")])
    assert engine.store.passages_without_token_vectors() == []  # the verdict reads them
    engine.close()


def test_late_interaction_keeps_scores_falling_and_dense_mode_pure(tmp_path: Path) -> None:
    docs = [Document(f"d{i}", d.text) for i, d in enumerate(DOCS)]
    on = Engine.open(EngineConfig(data_dir=tmp_path, late_weight=0.5), HashEmbedder(), create=True)
    on.ingest(docs)
    hits = on.search("how did sanctions hit the economy?", top_k=7).hits
    assert hits[0].passage.doc_id == "d6"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    off = Engine.open(EngineConfig(data_dir=tmp_path, late_weight=0.0), HashEmbedder(), create=True)
    question = "trade figures and exports"
    assert on.retrieve(question, 5, "dense") == off.retrieve(question, 5, "dense")
    on.close()
    off.close()


@pytest.mark.model
def test_the_model_gives_one_unit_vector_per_token(model: SentenceTransformerEmbedder) -> None:
    [tokens] = model.embed_tokens(["Maduro's talks with the U.S. were secret."])
    assert tokens.tokens[0] == "[CLS]" and tokens.tokens[-1] == "[SEP]"
    assert "secret" in tokens.tokens
    assert tokens.vectors.shape == (len(tokens.tokens), model.dimension)
    assert np.allclose(np.linalg.norm(tokens.vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.model
def test_one_pass_gives_the_same_vectors_as_two(model: SentenceTransformerEmbedder) -> None:
    texts = ["A much longer passage about the secret talks between Caracas and Washington.", "Hi."]
    vectors, tokens = model.embed_many_with_tokens(texts, batch_size=1)
    assert np.allclose(vectors, model.embed_many(texts), atol=1e-5)
    assert [t.tokens for t in tokens] == [t.tokens for t in model.embed_tokens(texts)]
    assert tokens[1].tokens == ("[CLS]", "hi", ".", "[SEP]")  # rows back in input order


def test_token_vectors_are_stored_in_half_the_bytes_of_float16() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    blob = tokens_blob(vectors)
    assert len(blob) == 40 * (384 + 2)  # int8 codes and a float16 scale per token
    back = tokens_from_blob(blob, 384)
    assert back is not None
    assert np.abs(back - vectors).max() <= np.abs(vectors).max() / 127
    assert tokens_from_blob(blob, 385) is None  # another dimension is refused, not misread
    assert tokens_from_blob(tokens_blob(np.zeros((0, 384), np.float32)), 384) is not None


def _token_vectors(engine: Engine, ids: list[int]) -> dict[int, np.ndarray]:
    spans = engine.store.token_spans(ids)
    known = [i for i in ids if i in spans]
    vectors = engine.tokens.split([spans[i] for i in known], engine.embedder.dimension)
    return dict(zip(known, vectors, strict=True))


def test_token_rows_from_before_are_moved_into_segments_on_open(tmp_path: Path) -> None:
    engine = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder(), create=True)
    engine.ingest([Document(f"d{i}", d.text) for i, d in enumerate(DOCS)])
    question = "how did sanctions hit the economy?"
    before = engine.search(question, top_k=7).hits
    ids = [p.row_id for p in engine.store.all_passages()]
    stored = _token_vectors(engine, ids)
    assert len(stored) == len(ids)
    with engine.store.transaction() as db:  # as an index written before migrations 4 and 7
        db.execute("DROP TABLE token_spans")
        db.execute("CREATE TABLE passage_tokens (passage_id INTEGER PRIMARY KEY "
                   "REFERENCES passages(id) ON DELETE CASCADE, vectors BLOB NOT NULL)")  # fmt: skip
        db.executemany(
            "INSERT INTO passage_tokens (passage_id, vectors) VALUES (?, ?)",
            [(i, v.astype(np.float16).tobytes()) for i, v in stored.items()],
        )
        db.execute("DELETE FROM meta WHERE key IN ('token_codec', 'token_segments')")
        db.execute("PRAGMA user_version = 3")
    engine.close()
    shutil.rmtree(tmp_path / "tokens")
    embedder = CountingTokens()
    reopened = Engine.open(EngineConfig(data_dir=tmp_path), embedder, create=True)
    assert embedder.token_texts == []  # converted in place, not embedded again
    hits = reopened.search(question, top_k=7).hits
    assert [h.passage.passage_id for h in hits] == [h.passage.passage_id for h in before]
    assert [h.score for h in hits] == pytest.approx([h.score for h in before], abs=1e-3)
    moved = _token_vectors(reopened, ids)
    assert moved.keys() == stored.keys()
    for i, vectors in stored.items():
        assert np.abs(moved[i] - vectors).max() <= 2 / 127  # int8 of the float16 rows
    reopened.close()


class CountingPasses(HashEmbedder):
    """Records each pass over passage texts: tokens alone, or vectors and tokens together."""

    def __init__(self) -> None:
        super().__init__()
        self.passes: list[tuple[str, int]] = []

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        self.passes.append(("tokens", len(texts)))
        return super().embed_tokens(texts)

    def embed_many_with_tokens(
        self, texts: Sequence[str], batch_size: int = 64, progress: object = None
    ) -> tuple[np.ndarray, list[TokenVectors]]:
        self.passes.append(("both", len(texts)))
        return self.embed_many(texts, batch_size), HashEmbedder.embed_tokens(self, texts)


def test_ingest_and_reindex_take_one_pass_for_vectors_and_tokens(tmp_path: Path) -> None:
    embedder = CountingPasses()
    engine = Engine.open(EngineConfig(data_dir=tmp_path), embedder, create=True)
    engine.ingest([Document(f"d{i}", d.text) for i, d in enumerate(DOCS)])
    assert embedder.passes == [("both", len(DOCS))]
    embedder.passes.clear()
    assert engine.reindex() == len(DOCS)
    assert embedder.passes == [("both", len(DOCS))]
    assert engine.store.passages_without_token_vectors() == []
    engine.close()
