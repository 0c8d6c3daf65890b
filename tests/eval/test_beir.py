from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.beir import cache_dir, load_split, published_figures, score_split
from eval.questions import EvalInputError
from eval.runner import open_corpus
from index import ChunkSpec, Engine, EngineConfig, HashEmbedder, read_path
from tests.conftest import ROOT

SCIFACT = ROOT.parent / "shared" / "bench" / "scifact"

CORPUS = [
    {"_id": "1", "title": "Vitamin D", "text": "Vitamin D lowers the risk of fractures in adults."},
    {"_id": "10", "title": "Sleep", "text": "Short sleep raises blood pressure in teenagers."},
    {"_id": "11", "title": "Coffee", "text": "Coffee intake has no effect on fracture risk."},
]


def _beir(tmp_path: Path) -> Path:
    folder = tmp_path / "mini"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in CORPUS))
    queries = [{"_id": "1", "text": "fracture risk"}, {"_id": "2", "text": "sleep blood pressure"},
               {"_id": "3", "text": "unjudged"}]  # fmt: skip
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t11\t1\n2\t10\t1\n")
    return folder


def test_split_keeps_only_judged_queries_and_refuses_a_broken_folder(tmp_path: Path) -> None:
    folder = _beir(tmp_path)
    split = load_split(folder, "test")
    assert split.queries == {"1": "fracture risk", "2": "sleep blood pressure"}
    assert split.qrels == {"1": {"11": 1}, "2": {"10": 1}}
    with pytest.raises(EvalInputError, match="qrels/train.tsv is missing"):
        load_split(folder, "train")
    (tmp_path / "mini" / "qrels" / "test.tsv").write_text("1\t11\n")
    with pytest.raises(EvalInputError, match="test.tsv:1: expected"):
        load_split(tmp_path / "mini", "test")


def test_lexical_scores_match_a_hand_count_and_the_query_id_is_never_its_own_answer(
    tmp_path: Path,
) -> None:
    folder = _beir(tmp_path)
    split = load_split(folder, "test")
    config = EngineConfig(data_dir=cache_dir(tmp_path / "cache", folder, EngineConfig(tmp_path)))
    engine = open_corpus(config, split.corpus, None, HashEmbedder())
    try:
        [lexical] = score_split(engine, split, ["lexical"], passages=10)
    finally:
        engine.close()
    # query 1: doc "1" also matches "fracture risk" but shares the query's id, so it is
    # dropped (as BEIR does) and doc 11 ranks first; query 2: doc 10 first.
    assert lexical.per_query_ndcg == {"1": 1.0, "2": 1.0}
    assert (lexical.ndcg_at_10, lexical.recall_at_100, lexical.mrr_at_10) == (1.0, 1.0, 1.0)


def test_a_rerun_reuses_the_cached_embeddings(tmp_path: Path) -> None:
    folder = _beir(tmp_path)
    split = load_split(folder, "test")
    base = EngineConfig(tmp_path, chunk=ChunkSpec(200))
    config = EngineConfig(data_dir=cache_dir(tmp_path / "cache", folder, base))
    open_corpus(config, split.corpus, None, HashEmbedder()).close()
    again = Engine.open(config, HashEmbedder(), create=True)
    report = again.ingest(read_path(split.corpus))
    again.close()
    assert (report.unchanged, report.passages) == (3, 0)


def test_cache_dirs_differ_by_what_is_embedded_not_by_search_settings(tmp_path: Path) -> None:
    folder = _beir(tmp_path)
    base = EngineConfig(tmp_path)
    same = cache_dir(tmp_path, folder, EngineConfig(tmp_path, rrf_k=10, candidates=9))
    assert same == cache_dir(tmp_path, folder, base)
    assert cache_dir(tmp_path, folder, EngineConfig(tmp_path, title_in_index=False)) != same
    assert cache_dir(tmp_path, folder, EngineConfig(tmp_path, chunk=ChunkSpec(900))) != same
    assert same.name.startswith("mini-")


@pytest.mark.skipif(not SCIFACT.exists(), reason="../shared/bench/scifact is not beside the repo")
def test_published_figures_are_read_from_the_benchmark_readme() -> None:
    figures = {p.system: p for p in published_figures(SCIFACT)}
    minilm = next(p for name, p in figures.items() if name.startswith("all-MiniLM-L6-v2"))
    assert (minilm.ndcg_at_10, minilm.recall_at_100) == (0.645, 0.925)
    assert figures["bm25s"].ndcg_at_10 == 0.687
    assert any(p.recall_at_100 is None for p in figures.values())


def test_a_beir_report_is_a_table_json_and_a_chart(tmp_path: Path) -> None:
    from eval.beir import BeirScores, Published
    from eval.report import write_beir_report

    scores = [BeirScores("hybrid", 300, 0.741, 0.96, 0.705, {"1": 1.0})]
    published = [Published("bm25s", 0.687, 0.913), Published("rerank", 0.688, None)]
    md, js, png = write_beir_report(tmp_path, "scifact-test", scores, published, {"split": "test"})
    assert "| citeqa hybrid | 0.741 | 0.960 | 0.705 |" in md.read_text()
    assert "| rerank | 0.688 | - | - |" in md.read_text()
    assert json.loads(js.read_text())["scores"][0]["ndcg_at_10"] == 0.741
    assert png.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "scifact-test.json", "scifact-test.md", "scifact-test.png"
    ]  # fmt: skip
