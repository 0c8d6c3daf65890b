"""Run an eval end to end: open or reach the searcher, score, write the reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from eval.beir import cache_dir, load_split, published_figures, score_split
from eval.questions import EvalInputError, load_questions, missing_quotes
from eval.report import COLUMNS, cell, summary_rows, write_beir_report, write_seed_report
from eval.searchers import EngineSearcher, HttpSearcher, Searcher
from eval.seed import run_seed_eval
from index import ChunkSpec, Embedder, Engine, EngineConfig, count_documents, read_path

Progress = Callable[[str, int, int], None]
WHOLE_DOCUMENT = 1_000_000
"""A passage limit no abstract reaches: one passage per document."""


@dataclass(frozen=True)
class EvalOptions:
    config: EngineConfig
    whole_docs: bool = False
    modes: tuple[str, ...] = ("hybrid", "dense", "lexical")
    cache: Path = Path("data/eval")
    reports: Path = Path("eval/reports")
    passages: int = 1000

    def engine_config(self, corpus: Path) -> EngineConfig:
        config = self.config
        if self.whole_docs:
            config = dataclasses.replace(config, chunk=ChunkSpec(WHOLE_DOCUMENT, 0))
        return dataclasses.replace(config, data_dir=cache_dir(self.cache, corpus, config))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(config: EngineConfig) -> dict[str, Any]:
    return {
        "date": _now(),
        "model": config.model,
        "chunk_chars": config.chunk.max_chars,
        "overlap": config.chunk.overlap,
        "title_in_index": config.title_in_index,
        "fusion": config.fusion,
        "dense_weight": config.dense_weight,
        "sentence_weight": config.sentence_weight,
        "late_weight": config.late_weight,
        "late_depth": config.late_depth,
        "rrf_k": config.rrf_k,
        "candidates": config.candidates,
        "answerable_threshold": config.answerable_threshold,
        "answerable_names": config.answerable_names,
        "answerable_quantities": config.answerable_quantities,
        "reranker": config.reranker,
    }


def run_seed(
    questions_path: Path,
    docs: Path,
    url: str | None,
    api_key: str | None,
    options: EvalOptions,
    name: str | None,
    progress: Progress,
) -> tuple[Table, list[Path]]:
    questions = load_questions(questions_path)
    engine: Engine | None = None
    searcher: Searcher
    if url:
        searcher = HttpSearcher(url, api_key)
        meta: dict[str, Any] = {"date": _now(), "server": url}
    else:
        config = options.engine_config(docs)
        engine = open_corpus(config, docs, progress)
        texts = {info.doc_id: engine.document(info.doc_id).text for info in engine.documents()}
        if problems := missing_quotes(questions, texts):
            engine.close()
            raise EvalInputError(
                f"{questions_path} does not match the documents in {docs}: "
                + "; ".join(problems[:5])
            )
        searcher = EngineSearcher(engine)
        meta = {**describe(config), "documents": str(docs)}
    meta["questions"] = f"{questions_path} ({len(questions)})"
    try:
        run = run_seed_eval(
            questions, searcher, options.modes, lambda d, t: progress("questions", d, t)
        )
    finally:
        if engine is not None:
            engine.close()
        if isinstance(searcher, HttpSearcher):
            searcher.close()
    name = name or "seed"
    written = write_seed_report(options.reports, name, run, meta)
    answerable = next(iter(run.by_mode.values())).answerable
    table = Table(title=f"seed eval: {name} (retrieval over {answerable} answerable)")
    for header in ["mode", "questions", *(label for _, label in COLUMNS)]:
        table.add_column(header, justify="right")
    for row in summary_rows(run.by_mode):
        table.add_row(*row)
    return table, written


def open_corpus(
    config: EngineConfig, corpus: Path, progress: Progress | None, embedder: Embedder | None = None
) -> Engine:
    """The engine over ``corpus`` in its cache dir; unchanged documents are not re-embedded.

    Ingest streams in committed batches, so an interrupted first run keeps what it has
    embedded and the next run carries on from there."""
    engine = Engine.open(config, embedder, create=True)
    try:
        engine.ingest(read_path(corpus), progress, count_documents(corpus))
    except BaseException:
        engine.close()
        raise
    return engine


def run_beir(
    folder: Path,
    split_name: str,
    options: EvalOptions,
    name: str | None,
    progress: Progress,
) -> tuple[Table, list[Path]]:
    split = load_split(folder, split_name)
    config = options.engine_config(folder)
    engine = open_corpus(config, split.corpus, progress)
    try:
        scores = score_split(engine, split, options.modes, options.passages, progress)
    finally:
        engine.close()
    published = published_figures(folder)
    name = name or f"{folder.resolve().name}-{split_name}"
    meta = {**describe(config), "split": f"{split_name} ({len(split.queries)} queries)",
            "passages_per_query": options.passages, "data_dir": str(config.data_dir)}  # fmt: skip
    written = write_beir_report(options.reports, name, scores, published, meta)
    table = Table(title=f"{name}: documents scored by their best passage")
    for header in ("system", "nDCG@10", "R@100", "MRR@10"):
        table.add_column(header, justify="right" if header != "system" else "left")
    for s in scores:
        table.add_row(f"citeqa {s.mode}", f"{s.ndcg_at_10:.3f}", f"{s.recall_at_100:.3f}",
                      f"{s.mrr_at_10:.3f}", style="bold")  # fmt: skip
    for p in published:
        table.add_row(p.system, cell(p.ndcg_at_10), cell(p.recall_at_100), "-")
    return table, written
