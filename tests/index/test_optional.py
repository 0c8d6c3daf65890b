from __future__ import annotations

import builtins
from typing import Any

import pytest

from index.model.embedder import SentenceTransformerEmbedder
from index.store.local.dense import FaissVectors


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Any:
    def hide(*names: str) -> None:
        real = builtins.__import__

        def fake(name: str, *args: Any, **kwargs: Any) -> Any:
            if name.split(".")[0] in names:
                raise ImportError(f"No module named {name!r}")
            return real(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", fake)

    return hide


def test_missing_faiss_names_the_package(without: Any) -> None:
    without("faiss")
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        FaissVectors(8)


def test_missing_sentence_transformers_names_the_package(without: Any) -> None:
    without("sentence_transformers")
    with pytest.raises(ImportError, match="pip install sentence-transformers"):
        SentenceTransformerEmbedder().embed("x")


def test_a_bad_model_name_is_a_config_error(tmp_path: Any) -> None:
    from index import ConfigError

    with pytest.raises(ConfigError, match="CITEQA_MODEL"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model")).embed("x")
