"""The ONNX Runtime embedders against torch, and the export cache they build and reuse."""

from __future__ import annotations

import builtins
import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args, get_type_hints

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from index import BUNDLED_MODEL, ConfigError, EngineConfig, SentenceTransformerEmbedder
from index.model import embedder as embedder_module
from index.model import onnx_cache
from index.model.embedder import (
    RUNTIMES,
    OnnxEmbedder,
    SplitEmbedder,
    Vectors,
    embedder_for,
    resolve_model_path,
)
from service.cli import app
from service.settings import Settings
from tests.conftest import BOLTON, SEEDS

pytestmark = pytest.mark.model

_SEED = " ".join(" ".join(p.read_text() for p in sorted(SEEDS.glob("*.txt"))).split())
TEXTS = [
    BOLTON,
    "  Spaces, UPPER case, ünïcödé — dashes… and 3.5% numbers  ",
    "hi",
    *(_SEED[i : i + 400] for i in range(0, 4000, 1000)),
    "word " * 400,  # past the 256-token limit: truncated alike
]
FLOORS = {"onnx": (0.999, 0.999), "onnx-int8": (0.97, 0.95)}
"""Least cosine to torch: (text vectors, token vectors). int8 measured 0.976 and 0.967 at
worst: a short text batched with long ones (activations share one int8 scale per batch)."""


@pytest.fixture(scope="module")
def runtimes(model_cache: Path) -> dict[str, OnnxEmbedder]:
    """Both ONNX runtimes over the session's cache: each is exported once."""
    found = {rt: OnnxEmbedder(runtime=rt, cache_dir=model_cache) for rt in FLOORS}
    for runtime, embedder in found.items():
        assert embedder.running == runtime  # exported and loaded, not the torch fallback
    return found


def _folder(cache: Path, runtime: str) -> Path:
    model_dir = Path(resolve_model_path("bundled"))
    return onnx_cache.cache_folder(cache, BUNDLED_MODEL, runtime, model_dir)


def _cosines(a: Vectors, b: Vectors) -> Vectors:
    found: Vectors = (a * b).sum(axis=1)
    return found


@pytest.mark.parametrize("runtime", FLOORS)
def test_vectors_match_torch(
    runtime: str, runtimes: dict[str, OnnxEmbedder], model: SentenceTransformerEmbedder
) -> None:
    got, want = runtimes[runtime].embed_batch(TEXTS), model.embed_batch(TEXTS)
    assert got.shape == want.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert _cosines(got, want).min() >= FLOORS[runtime][0]
    assert runtimes[runtime].dimension == 384


@pytest.mark.parametrize("runtime", FLOORS)
def test_token_vectors_match_torch(
    runtime: str, runtimes: dict[str, OnnxEmbedder], model: SentenceTransformerEmbedder
) -> None:
    text_floor, token_floor = FLOORS[runtime]
    got_vectors, got_tokens = runtimes[runtime].embed_many_with_tokens(TEXTS, batch_size=3)
    want_vectors, want_tokens = model.embed_many_with_tokens(TEXTS, batch_size=3)
    assert _cosines(got_vectors, want_vectors).min() >= text_floor
    for got, want in zip(got_tokens, want_tokens, strict=True):
        assert got.tokens == want.tokens
        assert got.vectors.shape == want.vectors.shape
        assert _cosines(got.vectors, want.vectors).min() >= token_floor
    assert len(got_tokens[-1].tokens) == 256 and got_tokens[-1].tokens[-1] == "[SEP]"


def test_one_question_is_the_same_alone_and_in_a_batch(runtimes: dict[str, OnnxEmbedder]) -> None:
    onnx = runtimes["onnx"]
    vector, tokens = onnx.embed_with_tokens(BOLTON)
    np.testing.assert_allclose(vector, onnx.embed(BOLTON), atol=1e-5)
    np.testing.assert_allclose(vector, onnx.embed_batch(TEXTS)[0], atol=1e-5)  # padding ignored
    assert tokens.tokens[:3] == ("[CLS]", "what", "did")
    np.testing.assert_allclose(np.linalg.norm(tokens.vectors, axis=1), 1.0, atol=1e-5)


def test_a_second_embedder_reuses_the_export(
    runtimes: dict[str, OnnxEmbedder], model_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    meta = _folder(model_cache, "onnx") / onnx_cache.META_FILE
    before = meta.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, "citeqa"):
        again = OnnxEmbedder(runtime="onnx", cache_dir=model_cache)
        np.testing.assert_allclose(again.embed(BOLTON), runtimes["onnx"].embed(BOLTON), atol=1e-6)
    assert again.running == "onnx"
    assert not [r for r in caplog.records if "export" in r.getMessage()]
    assert meta.stat().st_mtime_ns == before


def _copying_export(good: Path, calls: list[str]) -> Any:
    """Stands in for the (slow, already tested) export: copies a good folder's files."""

    def export(model_dir: Path, dest: Path, runtime: str) -> None:
        calls.append(runtime)
        for file in good.iterdir():
            shutil.copy2(file, dest / file.name)

    return export


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage"])
def test_a_broken_cache_is_exported_again(
    damage: str,
    runtimes: dict[str, OnnxEmbedder],
    model_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = _folder(model_cache, "onnx-int8")
    broken = _folder(tmp_path, "onnx-int8")
    shutil.copytree(good, broken)
    model_file = broken / onnx_cache.MODEL_FILE
    if damage == "missing":
        model_file.unlink()
    elif damage == "truncated":
        model_file.write_bytes(model_file.read_bytes()[:1000])
    else:  # the size meta.json records, but not a model: only loading it tells
        model_file.write_bytes(os.urandom(model_file.stat().st_size))
    calls: list[str] = []
    monkeypatch.setattr(onnx_cache, "export", _copying_export(good, calls))

    embedder = OnnxEmbedder(runtime="onnx-int8", cache_dir=tmp_path)
    got = embedder.embed(BOLTON)
    assert embedder.running == "onnx-int8" and calls == ["onnx-int8"]
    np.testing.assert_allclose(got, runtimes["onnx-int8"].embed(BOLTON), atol=1e-6)
    assert onnx_cache.read_meta(broken) is not None
    assert [p.name for p in tmp_path.iterdir()] == [broken.name]  # no temp folders left


def test_a_failed_export_leaves_no_cache_and_torch_answers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    model: SentenceTransformerEmbedder,
) -> None:
    def killed(model_dir: Path, dest: Path, runtime: str) -> None:
        (dest / onnx_cache.MODEL_FILE).write_bytes(b"half a model")
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(onnx_cache, "export", killed)
    monkeypatch.setattr(embedder_module, "_warned", set())
    cache = tmp_path / "cache"
    with caplog.at_level(logging.WARNING, "citeqa"):
        first = OnnxEmbedder(runtime="onnx-int8", cache_dir=cache)
        np.testing.assert_allclose(first.embed_batch(TEXTS), model.embed_batch(TEXTS), atol=1e-6)
        vector, tokens = first.embed_with_tokens(BOLTON)
        assert tokens.tokens == model.embed_with_tokens(BOLTON)[1].tokens
        second = OnnxEmbedder(runtime="onnx-int8", cache_dir=cache)
        second.embed(BOLTON)
    assert first.running == second.running == "torch"
    fallbacks = [r for r in caplog.records if "using torch" in r.getMessage()]
    assert len(fallbacks) == 1 and "killed mid-export" in fallbacks[0].getMessage()
    assert list(cache.iterdir()) == []  # neither a half folder nor its temp folder


def test_without_onnxruntime_torch_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: SentenceTransformerEmbedder
) -> None:
    real = builtins.__import__

    def hidden(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", hidden)
    embedder = OnnxEmbedder(runtime="onnx", cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(embedder.embed(BOLTON), model.embed(BOLTON), atol=1e-6)
    assert embedder.running == "torch" and not (tmp_path / "cache").exists()


def test_two_exporters_at_once_keep_one_sound_folder(
    runtimes: dict[str, OnnxEmbedder], model_cache: Path, tmp_path: Path
) -> None:
    good = _folder(model_cache, "onnx-int8")
    final, late = tmp_path / "final", tmp_path / ".late.tmp"
    shutil.copytree(good, final)
    shutil.copytree(good, late)
    onnx_cache._install(late, final, replace=False)  # the other process renamed first
    assert onnx_cache.read_meta(final) is not None

    (final / onnx_cache.TOKENIZER_FILE).unlink()  # a broken folder is replaced
    onnx_cache._install(late, final, replace=False)
    assert onnx_cache.read_meta(final) is not None and not late.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["final"]


def test_a_changed_model_gets_a_new_folder_and_dead_temps_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "weights").write_bytes(b"one")
    cache = tmp_path / "cache"
    before = onnx_cache.cache_folder(cache, "my/model", "onnx", source)
    (source / "weights").write_bytes(b"other")
    after = onnx_cache.cache_folder(cache, "my/model", "onnx", source)
    assert before != after and after.name.startswith("my-model-onnx-")

    dead = cache / ".my-model-onnx-0.abc.tmp"
    dead.mkdir(parents=True)
    os.utime(dead, (0, 0))
    monkeypatch.setattr(onnx_cache, "export", _raise)
    with pytest.raises(RuntimeError):
        onnx_cache.ensure_export("my/model", source, "onnx", cache)
    assert list(cache.iterdir()) == []


def _raise(*args: Any) -> None:
    raise RuntimeError("no export here")


def test_an_unknown_runtime_names_citeqa_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="CITEQA_RUNTIME must be one of onnx-int8, onnx"):
        Settings(runtime="gpu")
    monkeypatch.setenv("CITEQA_RUNTIME", "fast")
    with pytest.raises(ValidationError, match="CITEQA_RUNTIME"):
        Settings()
    result = CliRunner().invoke(app, ["documents", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "CITEQA_RUNTIME" in result.output
    config = EngineConfig(data_dir=tmp_path, runtime="gpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="CITEQA_RUNTIME"):
        embedder_for(config)


def test_settings_pick_the_embedder(tmp_path: Path) -> None:
    assert Settings().runtime == EngineConfig(data_dir=tmp_path).runtime == "onnx"
    assert get_args(Settings.model_fields["runtime"].annotation) == RUNTIMES
    assert get_args(get_type_hints(EngineConfig)["runtime"]) == RUNTIMES
    with pytest.raises(ConfigError, match="not 'torch'"):
        OnnxEmbedder(runtime="torch")
    assert Settings(model_cache="").model_cache is None  # compose passes unset as blank
    settings = Settings(data_dir=tmp_path, runtime="onnx", model_cache=tmp_path / "shared")
    config = settings.engine_config()
    split = embedder_for(config, settings.model_cache)
    assert isinstance(split, SplitEmbedder)  # ONNX questions, torch passages (the default)
    assert isinstance(split.questions, OnnxEmbedder)
    assert (split.questions.runtime, split.questions.cache_dir) == ("onnx", tmp_path / "shared")
    assert type(split.passages) is SentenceTransformerEmbedder
    onnx_only = replace(config, passage_runtime="onnx")
    chosen = embedder_for(onnx_only, settings.model_cache)
    assert isinstance(chosen, OnnxEmbedder)
    assert (chosen.runtime, chosen.cache_dir) == ("onnx", tmp_path / "shared")
    beside = embedder_for(replace(onnx_only, model_cache=None))
    assert isinstance(beside, OnnxEmbedder) and beside.cache_dir == tmp_path / "models"
    split = embedder_for(replace(onnx_only, runtime="onnx-int8"))
    assert isinstance(split, SplitEmbedder)  # int8 questions, float32 passages
    assert isinstance(split.questions, OnnxEmbedder) and split.questions.runtime == "onnx-int8"
    assert isinstance(split.passages, OnnxEmbedder) and split.passages.runtime == "onnx"
    assert split.passages.cache_dir == tmp_path / "shared"
    torch = embedder_for(replace(config, runtime="torch"))
    assert type(torch) is SentenceTransformerEmbedder
    with pytest.raises(ConfigError, match="CITEQA_PASSAGE_RUNTIME"):
        embedder_for(replace(config, passage_runtime="gpu"))  # type: ignore[arg-type]
    assert type(embedder_for(replace(config, device="cuda"))) is SentenceTransformerEmbedder
