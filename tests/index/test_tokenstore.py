"""Token vectors in memory-mapped segments: compressed once there are enough, never
lost or orphaned, and scored in one matrix product."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import index.store.local.storage
from index import Document, Engine, EngineConfig, HashEmbedder
from index.search.late import maxsim, maxsim_many
from index.store.codecs import Int8Codec, PQCodec
from index.store.local.db import TOKEN_CODEC_META
from index.store.local.tokens import TokenFiles

TEXTS = [
    "Sanctions cut Venezuela's oil exports and the bolivar lost half its value.",
    "Bolton said the secret talks with Cabello were meant to remove Maduro.",
    "Machado dedicated her Nobel prize to the people of Venezuela and to Trump.",
    "The navy moved ships into the Caribbean under Operation Southern Spear.",
    "Grenell flew to Caracas and came back with six detained Americans.",
    "Chevron got a licence to pump oil again, with the money kept from Maduro.",
]


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_one_product_scores_each_passage_as_maxsim_does() -> None:
    rng = np.random.default_rng(1)
    question = _unit(rng.normal(size=(5, 32)))
    passages = [_unit(rng.normal(size=(n, 32))) for n in (7, 1, 12)]
    passages.insert(1, np.zeros((0, 32), np.float32))  # a passage with no content tokens
    scores = maxsim_many(question, np.concatenate(passages), [len(p) for p in passages])
    assert scores == pytest.approx([maxsim(question, p) for p in passages], abs=1e-6)
    assert scores[1] == 0.0


def test_int8_rows_keep_each_vector_within_one_step() -> None:
    vectors = _unit(np.random.default_rng(2).normal(size=(50, 384)))
    codec = Int8Codec(384)
    codes = codec.encode(vectors)
    assert codes.shape == (50, 386) and codes.dtype == np.uint8
    assert np.abs(codec.decode(codes) - vectors).max() <= np.abs(vectors).max() / 127


def test_product_quantizer_is_an_eighth_of_int8_and_keeps_the_ranking(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    centres = _unit(rng.normal(size=(60, 64)))

    def near(which: np.ndarray) -> np.ndarray:
        return _unit(centres[which] + 0.05 * rng.normal(size=(len(which), 64)))

    codec = PQCodec.train(near(rng.integers(0, 60, 10_000)), "t1")
    assert codec.encode(centres[:10]).shape == (10, 64 // 8)
    files = TokenFiles(tmp_path)
    files.save_codec(codec)
    loaded = files.codec(codec.name, 64)  # as another process reads it
    mixes = [rng.choice(60, 3, replace=False) for _ in range(20)]
    passages = [near(rng.choice(mix, 20)) for mix in mixes]
    question = near(mixes[6])
    exact = maxsim_many(question, np.concatenate(passages), [20] * 20)
    spans = files.write(1, loaded, passages)
    approx = maxsim_many(question, files.gather(spans, 64), [20] * 20)
    assert int(np.argmax(approx)) == int(np.argmax(exact)) == 6
    assert np.corrcoef(exact, approx)[0, 1] > 0.99


def _engine(path: Path) -> Engine:
    return Engine.open(EngineConfig(data_dir=path), HashEmbedder(), create=True)


def _segments(path: Path) -> list[str]:
    return sorted(p.name for p in (path / "tokens").glob("seg-*.npy"))


def test_tokens_are_compressed_once_enough_are_stored_and_search_still_finds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        index.store.local.storage, "TRAIN_TOKENS", 300
    )  # at least 256 (one per centroid)
    engine = _engine(tmp_path)
    engine.ingest([Document("a.txt", TEXTS[0])])  # too few tokens to train on: int8
    assert engine.store.get_meta(TOKEN_CODEC_META) in (None, "int8")
    assert [name.split(".")[1] for name in _segments(tmp_path)] == ["int8"]
    engine.ingest([Document(f"{i}.txt", t) for i, t in enumerate(TEXTS[1:] * 12, start=1)])
    codec = engine.store.get_meta(TOKEN_CODEC_META)
    assert codec is not None and codec.startswith("pq")
    # Every stored token, old ones included, is now in segments of the trained codec.
    assert {name.split(".")[1] for name in _segments(tmp_path)} == {codec}
    for i, text in enumerate(TEXTS[1:], start=1):
        assert engine.search(text, top_k=1).hits[0].passage.doc_id in {
            f"{j}.txt" for j in range(i, 61, 5)
        }
    engine.close()
    reopened = _engine(tmp_path)  # another process decodes with the saved codec
    assert reopened.search(TEXTS[0], top_k=1).hits[0].passage.doc_id == "a.txt"
    reopened.close()


def test_segments_nobody_refers_to_are_removed(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    engine.ingest([Document("a.txt", TEXTS[0])])
    engine.ingest([Document("b.txt", TEXTS[1])])
    assert len(_segments(tmp_path)) == 2
    engine.delete("a.txt")  # its only segment is now unreferenced
    assert len(_segments(tmp_path)) == 1
    # A writer killed after writing its segment but before committing leaves a stray file.
    (tmp_path / "tokens" / "seg-00000099.int8.npy").write_bytes(b"partial")
    (tmp_path / "tokens" / ".seg-00000100.int8.npy.123.tmp").write_bytes(b"partial")
    engine.ingest([Document("c.txt", TEXTS[2])])
    assert "seg-00000099.int8.npy" not in _segments(tmp_path)
    assert not list((tmp_path / "tokens").glob("*.tmp"))
    assert engine.search(TEXTS[1], top_k=1).hits[0].passage.doc_id == "b.txt"
    engine.close()
