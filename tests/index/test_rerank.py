"""The reranker stage, wired with a tiny cross-encoder built here (no weights to download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Engine, EngineConfig, HashEmbedder
from index.errors import ConfigError
from index.model.embedder import resolve_model_path
from index.search.rerank import CrossEncoderReranker
from tests.index.test_engine import DOCS


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer BERT with a one-logit head, random weights, the bundled model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("bundled"))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32, num_labels=1,
    )  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.model
def test_the_reranker_decides_the_order_of_the_top_candidates(
    tmp_path: Path, tiny_cross_encoder: Path
) -> None:
    config = EngineConfig(data_dir=tmp_path, reranker=str(tiny_cross_encoder), rerank_depth=3)
    engine = Engine.open(config, HashEmbedder(), create=True)
    engine.ingest(DOCS)
    question = "Which animal fetch sticks?"
    ranked = engine.retrieve(question, 3, "hybrid")
    assert engine.reranker is not None
    expected = engine.reranker.score(question, [p.text for p, _ in ranked])
    assert [score for _, score in ranked] == sorted(expected, reverse=True)
    result = engine.search(question, top_k=3)
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    engine.close()


def test_no_reranker_is_loaded_unless_configured(tmp_path: Path) -> None:
    engine = Engine.open(EngineConfig(data_dir=tmp_path), HashEmbedder(), create=True)
    assert engine.reranker is None
    engine.close()


@pytest.mark.model
def test_a_missing_reranker_is_a_clear_config_error(tmp_path: Path) -> None:
    reranker = CrossEncoderReranker(str(tmp_path / "no-such-model"))
    with pytest.raises(ConfigError, match="cannot load reranker .*no such folder"):
        reranker.score("q", ["text"])
    assert reranker.score("q", []) == []
