"""Commands that ask the index: ask (one question), eval (score answer quality)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from index import MODES, CiteqaError
from service.cli.shared import (
    DataDir,
    Model,
    err,
    fail,
    load_settings,
    open_engine,
    progress_bar,
    reporter,
    text_arg,
)
from service.render import render_text
from service.schemas import QueryResponse


def ask(
    question: Annotated[str, typer.Argument(help="The question to ask")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50)] = 5,
    mode: Annotated[Literal["hybrid", "dense", "lexical"], typer.Option("--mode")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
    data_dir: DataDir = None,
    model: Model = None,
) -> None:
    """Ask a question in-process (no server needed)."""
    question = text_arg(question, "question")
    settings = load_settings(data_dir=data_dir, model=model)
    engine = open_engine(settings)
    try:
        engine.embedder.embed("warm up")  # so took_ms measures the question, not the model load
        response = QueryResponse.from_result(engine.search(question, top_k, mode))
    except CiteqaError as exc:
        fail(str(exc))
    finally:
        engine.close()
    if as_json:
        print(response.model_dump_json(indent=2))
    else:
        sys.stdout.write(render_text(response))


def eval_command(
    questions: Annotated[
        Path, typer.Option("--questions", help="Question file (JSON lines) to score")
    ] = Path("eval/questions.jsonl"),
    docs: Annotated[
        Path, typer.Option("--docs", help="Documents the questions are about (in-process runs)")
    ] = Path("seeds"),
    url: Annotated[
        str | None, typer.Option("--url", help="Score a running server through its public API")
    ] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="Bearer key for --url")] = None,
    beir: Annotated[
        Path | None, typer.Option("--beir", help="Run a BEIR benchmark folder instead")
    ] = None,
    split: Annotated[Literal["test", "train"], typer.Option("--split")] = "test",
    modes: Annotated[
        list[str] | None, typer.Option("--mode", help="Mode(s) to score [all three]")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Report name [seed; for --beir, NAME-SPLIT]")
    ] = None,
    reports: Annotated[Path, typer.Option("--reports", help="Report folder")] = Path(
        "eval/reports"
    ),
    chunk_chars: Annotated[
        int | None,
        typer.Option("--chunk-chars", min=100, help="Largest passage [CITEQA_CHUNK_CHARS]"),
    ] = None,
    whole_docs: Annotated[
        bool, typer.Option("--whole-docs", help="One passage per document (as published BEIR runs)")
    ] = False,
    title: Annotated[
        bool | None,
        typer.Option(
            "--title/--no-title", help="Title in front of passages [CITEQA_TITLE_IN_INDEX]"
        ),
    ] = None,
    fusion: Annotated[
        Literal["rrf", "weighted"] | None,
        typer.Option("--fusion", help="Hybrid fusion [CITEQA_FUSION]"),
    ] = None,
    dense_weight: Annotated[
        float | None, typer.Option("--dense-weight", help="Weighted fusion: dense share")
    ] = None,
    sentence_weight: Annotated[
        float | None, typer.Option("--sentence-weight", help="Hybrid: best-sentence weight")
    ] = None,
    passages: Annotated[
        int, typer.Option("--passages", min=10, help="BEIR: passages retrieved per query")
    ] = 1000,
    cache: Annotated[
        Path, typer.Option("--cache", help="Where eval indexes are kept between runs")
    ] = Path("data/eval"),
    model: Model = None,
) -> None:
    """Score answer quality: the seed questions (in-process or --url), or a BEIR benchmark."""
    from eval.questions import EvalInputError
    from eval.runner import EvalOptions, run_beir, run_seed
    from eval.searchers import EvalServerError

    settings = load_settings(
        model=model, chunk_chars=chunk_chars, title_in_index=title, fusion=fusion,
        dense_weight=dense_weight, sentence_weight=sentence_weight,
    )  # fmt: skip
    chosen = modes or list(MODES)
    if bad := [m for m in chosen if m not in MODES]:
        fail(f"unknown mode {bad[0]!r}; use one of {', '.join(MODES)}", 2)
    options = EvalOptions(
        config=settings.engine_config(), whole_docs=whole_docs, modes=tuple(chosen),
        cache=cache, reports=reports, passages=passages,
    )  # fmt: skip
    try:
        with progress_bar() as bar:
            if beir is not None:
                table, written = run_beir(beir, split, options, name, reporter(bar))
            else:
                table, written = run_seed(questions, docs, url, api_key, options, name,
                                          reporter(bar))  # fmt: skip
    except (CiteqaError, EvalInputError, EvalServerError) as exc:
        fail(str(exc))
    # A pipe or a file gets the whole table, not one squeezed to 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    for path in written:
        err.print(f"wrote {path}")
