from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import Engine, EngineConfig, HashEmbedder, SentenceTransformerEmbedder, read_path
from index.store.factory import open_storage
from index.store.migrate import migrate
from tests.live import MODEL_CACHE

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
BOLTON = "What did Bolton say about the talks?"
BOLTON_ANSWER = "The sole aim of the secret talks was to discuss Maduro’s exit from power"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings must come from the test, never from the shell that runs it."""
    for key in list(os.environ):
        if key.startswith("CITEQA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CITEQA_MODEL_CACHE", str(MODEL_CACHE))  # one export per session


@pytest.fixture
def hash_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine.open(EngineConfig(data_dir=tmp_path / "data"), HashEmbedder(), create=True)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seeded_dir(
    tmp_path_factory: pytest.TempPathFactory, model: SentenceTransformerEmbedder
) -> Path:
    """A data dir with the seeds indexed by the real model (built once per session)."""
    data = tmp_path_factory.mktemp("seeded")
    engine = Engine.open(EngineConfig(data_dir=data), model, create=True)
    engine.ingest(read_path(SEEDS))
    engine.close()
    return data


@pytest.fixture(scope="session")
def seeded_milvus_dir(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded index copied into Milvus Lite (``<dir>/milvus.db``) by ``index.store.migrate``,
    so the same tests run against CITEQA_STORE=milvus without embedding the seeds again."""
    data = tmp_path_factory.mktemp("seeded-milvus") / "data"
    shutil.copytree(seeded_dir, data)
    source = open_storage(EngineConfig(data_dir=data))
    source.load()
    target = open_storage(EngineConfig(data_dir=data, store="milvus"), create=True)
    migrate(source, target)
    source.close()
    target.close()
    return data


def seeded_data(store: str, seeded_dir: Path, seeded_milvus_dir: Path) -> Path:
    return seeded_milvus_dir if store == "milvus" else seeded_dir


@pytest.fixture
def seeded(seeded_dir: Path, model: SentenceTransformerEmbedder) -> Iterator[Engine]:
    engine = Engine.open(EngineConfig(data_dir=seeded_dir), model, create=True)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the ONNX exports of the model (CITEQA_MODEL_CACHE), so a test
    session exports each runtime once, not once per data dir."""
    return tmp_path_factory.mktemp("model-cache")
