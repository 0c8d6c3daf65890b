from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index import Document, Engine, EngineConfig, HashEmbedder, SentenceTransformerEmbedder
from index.embedder import TokenVectors
from index.late import content_vectors, maxsim


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
    engine = Engine.open(EngineConfig(data_dir=tmp_path), embedder)
    engine.ingest([Document("a", "Oil sanctions hit hard."), Document("b", "Rain fell.")])
    assert len(embedder.token_texts) == 2  # one text per passage
    embedder.token_texts.clear()
    engine.search("how did sanctions hit?")
    assert embedder.token_texts == ["how did sanctions hit?"]  # the question only
    engine.close()


def test_an_index_without_token_vectors_gets_them_on_open(tmp_path: Path) -> None:
    engine = Engine.open(EngineConfig(data_dir=tmp_path, late_weight=0.0), HashEmbedder())
    engine.ingest([Document("a", "Oil sanctions hit hard.")])
    assert len(engine.store.passages_without_token_vectors()) == 1  # late off: none stored
    engine.close()
    embedder = CountingTokens()
    reopened = Engine.open(EngineConfig(data_dir=tmp_path), embedder)
    assert len(embedder.token_texts) == 1
    assert reopened.store.passages_without_token_vectors() == []
    reopened.close()


DOCS = [
    Document("a", f"Report {i}. The ministry released figures on trade. Exports grew slowly.")
    for i in range(6)
] + [Document("z", "Oil sanctions hit the economy hard. Talks stalled in the capital.")]


def test_late_interaction_keeps_scores_falling_and_dense_mode_pure(tmp_path: Path) -> None:
    docs = [Document(f"d{i}", d.text) for i, d in enumerate(DOCS)]
    on = Engine.open(EngineConfig(data_dir=tmp_path, late_weight=0.5), HashEmbedder())
    on.ingest(docs)
    hits = on.search("how did sanctions hit the economy?", top_k=7).hits
    assert hits[0].passage.doc_id == "d6"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    off = Engine.open(EngineConfig(data_dir=tmp_path, late_weight=0.0), HashEmbedder())
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
