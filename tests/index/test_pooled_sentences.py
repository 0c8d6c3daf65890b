"""Sentence vectors pooled from the passage's own pass (``sentence_vectors="pooled"``):
the same sentences as embedding them alone, read in context, from one model pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import Engine, EngineConfig, SentenceTransformerEmbedder
from index.documents import Document, SearchResult
from index.model.embedder import OnnxEmbedder
from index.read.passages import indexed_text, prepare
from index.write import ingest
from index.write.ingest import _ToEmbed

pytestmark = pytest.mark.model

TITLE = "Bolton on the Venezuela talks"
TEXT = (
    "John Bolton said the talks with Caracas had failed and that sanctions would stay. "
    "The talks were held in Oslo. Officials met twice in March, once at the "
    "embassy and once at a hotel near the harbour. Neither side gave ground on elections, "
    "and the opposition said it had not been consulted. Oil exports were the second topic: "
    "the government wants the licences renewed before the summer. A third round is planned "
    "for the autumn, if both delegations agree on an agenda. Observers from Norway and "
    "Mexico attended every session and kept the minutes. The next meeting may move to "
    "Barbados, where earlier rounds took place in 2019."
)


def _passages(title_in_index: bool) -> list[_ToEmbed]:
    prepared = prepare(Document(doc_id="d", text=TEXT, title=TITLE), EngineConfig(Path("x")).chunk)
    return [
        _ToEmbed("d", TEXT, 0, p.sentences,
                 indexed_text(prepared.passage_text(p), TITLE, title_in_index),
                 p.span.start, p.span.end)
        for p in prepared.passages
    ]  # fmt: skip


@pytest.mark.parametrize("title_in_index", [True, False])
def test_spans_in_the_indexed_text_are_the_sentences(title_in_index: bool) -> None:
    passages = _passages(title_in_index)
    assert len(passages) > 1
    for passage in passages:
        for j, (start, end) in enumerate(passage.spans_in_indexed()):
            assert passage.indexed[start:end] == passage.sentence_text(j)


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_pooled_vectors_are_the_sentences_read_in_context(
    runtime: str, model: SentenceTransformerEmbedder, model_cache: Path
) -> None:
    embedder = model if runtime == "torch" else OnnxEmbedder(runtime="onnx", cache_dir=model_cache)
    passages = _passages(True)
    found = embedder.embed_passages(
        [p.indexed for p in passages], [p.spans_in_indexed() for p in passages], batch_size=2
    )
    assert found.spans is not None
    # The passage vectors are those of the usual pass, in the passages' order.
    alone = embedder.embed_many([p.indexed for p in passages])
    assert np.allclose(found.vectors, alone, atol=1e-4)
    for passage, pooled in zip(passages, found.spans, strict=True):
        separate = embedder.embed_many(
            [passage.sentence_text(j) for j in range(len(passage.sentences))]
        )
        assert pooled.shape == separate.shape
        assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-4)
        # In context, not identical (cosine 0.82 on average over SciFact), but each row is
        # its own sentence: pooling the wrong tokens would lose that.
        similarity = pooled @ separate.T
        own = np.diag(similarity)
        others = similarity[~np.eye(len(own), dtype=bool)]
        assert own.mean() > 0.6
        assert own.mean() > others.mean() + 0.15


def test_a_pooled_index_cites_and_highlights(
    tmp_path: Path, model: SentenceTransformerEmbedder
) -> None:
    config = EngineConfig(data_dir=tmp_path / "data", sentence_vectors="pooled")
    long_sentence = "Delegates " + "discussed sanctions and oil exports at length " * 40 + "."
    doc = Document(doc_id="talks", text=TEXT + " " + long_sentence, title=TITLE)
    engine = Engine.open(config, model, create=True)
    try:
        engine.ingest([doc])
        result = engine.search("Where were the talks held?", 3)
    finally:
        engine.close()
    assert result.hits
    top = result.hits[0]
    assert doc.text[top.passage.char_start : top.passage.char_end] == top.passage.text
    assert "Oslo" in top.highlight.text


def test_a_long_document_is_embedded_a_slice_at_a_time_with_the_same_vectors(
    tmp_path: Path, model: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One page can have thousands of passages, all in one batch: the model reads them
    ``PASS_SLICE`` at a time, so only a slice's token states are held, and what the
    index keeps does not change."""
    doc = Document(doc_id="talks", text=" ".join([TEXT] * 3), title=TITLE)
    seen: list[int] = []
    original = type(model).embed_passages

    def counting(self, texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(len(texts))
        return original(self, texts, *args, **kwargs)

    monkeypatch.setattr(type(model), "embed_passages", counting)
    stored: dict[int, tuple[SearchResult, list[int]]] = {}
    for cut in (10_000, 2):
        monkeypatch.setattr(ingest, "PASS_SLICE", cut)
        seen.clear()
        engine = Engine.open(EngineConfig(data_dir=tmp_path / str(cut)), model, create=True)
        try:
            engine.ingest([doc])
            stored[cut] = (engine.search("Where were the talks held?", 3), list(seen))
        finally:
            engine.close()
    (whole, calls), (sliced, slices) = stored[10_000], stored[2]
    assert len(calls) == 1 and calls[0] > 2 and len(slices) > 1 and max(slices) <= 2
    assert len(whole.hits) == 3
    assert [(h.passage.passage_id, h.highlight.text) for h in whole.hits] == [
        (h.passage.passage_id, h.highlight.text) for h in sliced.hits
    ]
    for field in ("similarity", "late"):
        assert np.allclose([getattr(h, field) for h in whole.hits],
                           [getattr(h, field) for h in sliced.hits], atol=1e-4)  # fmt: skip
