"""The `citeqa` command: ingest, serve, mcp, ask, documents, delete, reindex, migrate."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from index import (
    MODES,
    CiteqaError,
    Engine,
    NotFoundError,
    SkippedFile,
    count_sources,
    is_link,
    read_sources,
)
from index import Progress as EngineProgress
from service.render import render_text
from service.schemas import DocumentSummary, QueryResponse
from service.settings import Settings

app = typer.Typer(
    help="citeqa: ask your documents a question, get cited passages.",
    no_args_is_help=True,
    add_completion=False,
    # Markdown, not rich markup: rich would take "[env CITEQA_..., default]" for a style tag
    # and drop it from --help.
    rich_markup_mode="markdown",
)
err = Console(stderr=True)


def _print_version(wanted: bool) -> None:
    if wanted:
        try:
            print(f"citeqa {metadata.version('citeqa')}")
        except metadata.PackageNotFoundError:  # run from a source tree that was never installed
            _fail("citeqa is not installed; run `make install` (pip install -e .)")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    pass


DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Index folder [env CITEQA_DATA_DIR, ./data]")
]
Model = Annotated[str | None, typer.Option("--model", help="Embedding model [env CITEQA_MODEL]")]


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        bad = "; ".join(f"CITEQA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                        for e in exc.errors())  # fmt: skip
        _fail(f"bad setting: {bad}", 2)
    if settings.log_level == "debug":  # CITEQA_LOG_LEVEL=debug shows each ingest stage
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.DEBUG)
        logging.getLogger("citeqa").setLevel(logging.DEBUG)
    return settings


@contextmanager
def _progress() -> Iterator[Progress]:
    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=False) as bar:
        yield bar


def _reporter(bar: Progress) -> EngineProgress:
    """Turn the engine's (stage, done, total) calls into one rich bar per stage."""
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total or None)
        bar.update(tasks[stage], completed=done, total=total or None)

    return report


def _open(settings: Settings, *, create: bool = False) -> Engine:
    try:
        return Engine.open(settings.engine_config(), create=create)
    except CiteqaError as exc:
        _fail(str(exc))


def _text_arg(value: str, what: str) -> str:
    """A command-line argument that is not valid text (bytes the locale cannot decode)
    gets a one-line error, not a traceback."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        _fail(f"the {what} is not valid UTF-8 text; pass it in UTF-8", 2)
    return value


@app.command()
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Folders, files (.txt .md .html .htm .pdf .docx, BEIR .jsonl) or http(s) "
            "links to fetch",
            metavar="PATH_OR_URL...",
        ),
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on a file that is not UTF-8 text (else skip)")
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="Documents per committed batch [env CITEQA_INGEST_BATCH, 64]",
        ),
    ] = None,
    data_dir: DataDir = None,
    model: Model = None,
) -> None:
    """Index documents; unchanged ones are skipped, changed ones replaced.

    Each batch is committed on its own: an interrupted run keeps what it committed, and
    running it again carries on from there. A link is fetched as the server would
    (CITEQA_FETCH_* settings; private and loopback addresses refused); one that cannot
    be read is listed and the command ends with exit code 1 after the rest went in."""
    settings = _settings(data_dir=data_dir, model=model, ingest_batch=batch_size)
    skipped: list[SkippedFile] = []
    engine = _open(settings, create=True)
    try:
        with _progress() as bar:
            documents = read_sources(
                sources, settings.fetch_policy(), strict=strict, on_skip=skipped.append
            )
            report = engine.ingest(documents, _reporter(bar), count_sources(sources))
    except CiteqaError as exc:
        _fail(str(exc))
    finally:
        engine.close()
    for item in skipped:
        err.print(f"[yellow]skipped[/yellow] {item.path}: {item.reason}", highlight=False)
    for doc_id in report.empty:
        err.print(f"[yellow]empty[/yellow] {doc_id}: no text to index, not stored", highlight=False)
    err.print(
        f"{report.added} added, {report.replaced} replaced, {report.unchanged} unchanged, "
        f"{len(skipped)} skipped, {len(report.empty)} empty; {report.passages} passages "
        f"embedded -> {settings.data_dir} (generation {report.generation})",
        highlight=False,
    )
    if any(is_link(item.path) for item in skipped):
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to ask")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50)] = 5,
    mode: Annotated[Literal["hybrid", "dense", "lexical"], typer.Option("--mode")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
    data_dir: DataDir = None,
    model: Model = None,
) -> None:
    """Ask a question in-process (no server needed)."""
    question = _text_arg(question, "question")
    settings = _settings(data_dir=data_dir, model=model)
    engine = _open(settings)
    try:
        engine.embedder.embed("warm up")  # so took_ms measures the question, not the model load
        response = QueryResponse.from_result(engine.search(question, top_k, mode))
    except CiteqaError as exc:
        _fail(str(exc))
    finally:
        engine.close()
    if as_json:
        print(response.model_dump_json(indent=2))
    else:
        sys.stdout.write(render_text(response))


@app.command()
def documents(data_dir: DataDir = None) -> None:
    """List indexed documents as JSON lines."""
    engine = _open(_settings(data_dir=data_dir))
    for info in engine.documents():
        print(DocumentSummary.from_info(info).model_dump_json())
    engine.close()


@app.command()
def delete(
    doc_id: Annotated[str, typer.Argument(help="The document id to remove")],
    data_dir: DataDir = None,
) -> None:
    """Remove one document and its passages."""
    doc_id = _text_arg(doc_id, "document id")
    engine = _open(_settings(data_dir=data_dir))
    try:
        engine.delete(doc_id)
    except NotFoundError as exc:
        _fail(str(exc))
    finally:
        engine.close()
    err.print(f"deleted {doc_id}")


@app.command()
def reindex(data_dir: DataDir = None, model: Model = None) -> None:
    """Re-embed every passage with the configured model (after changing CITEQA_MODEL)."""
    settings = _settings(data_dir=data_dir, model=model)
    try:
        engine = Engine(settings.engine_config(), check_model=False)
        with _progress() as bar:
            count = engine.reindex(_reporter(bar))
        engine.close()
    except CiteqaError as exc:
        _fail(str(exc))
    err.print(f"re-embedded {count} passages with {settings.model}")


@app.command()
def migrate(
    to: Annotated[
        Literal["milvus", "local"],
        typer.Option("--to", help="Where to copy the index: milvus, or local (back)"),
    ],
    milvus_uri: Annotated[
        str | None,
        typer.Option("--milvus-uri", help="[env CITEQA_MILVUS_URI, <data dir>/milvus.db]"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Copy the index of CITEQA_STORE (local by default) to another store, vectors and all:
    nothing is embedded again. Documents already there with the same id are replaced."""
    from dataclasses import replace

    from index.store.factory import open_storage
    from index.store.migrate import migrate as copy

    settings = _settings(data_dir=data_dir, milvus_uri=milvus_uri)
    source_config = settings.engine_config()
    if source_config.store == to:
        _fail(f"the index is already in {to} (CITEQA_STORE={to}); set CITEQA_STORE to the source")
    target_config = replace(source_config, store=to)
    try:
        source = open_storage(source_config)
        source.load()
        target = open_storage(target_config, create=True)
        target.load()
        with _progress() as bar:
            done = copy(source, target, _reporter(bar))
        source.close()
        target.close()
    except CiteqaError as exc:
        _fail(str(exc))
    where = (
        target_config.milvus_uri or target_config.data_dir / "milvus.db"
        if to == "milvus"
        else target_config.data_dir
    )
    err.print(
        f"copied {done.documents} documents, {done.passages} passages to {to} at {where} "
        f"(generation {done.generation}); serve it with CITEQA_STORE={to}",
        highlight=False,
    )


@app.command("eval")
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

    settings = _settings(
        model=model, chunk_chars=chunk_chars, title_in_index=title, fusion=fusion,
        dense_weight=dense_weight, sentence_weight=sentence_weight,
    )  # fmt: skip
    chosen = modes or list(MODES)
    if bad := [m for m in chosen if m not in MODES]:
        _fail(f"unknown mode {bad[0]!r}; use one of {', '.join(MODES)}", 2)
    options = EvalOptions(
        config=settings.engine_config(), whole_docs=whole_docs, modes=tuple(chosen),
        cache=cache, reports=reports, passages=passages,
    )  # fmt: skip
    try:
        with _progress() as bar:
            if beir is not None:
                table, written = run_beir(beir, split, options, name, _reporter(bar))
            else:
                table, written = run_seed(questions, docs, url, api_key, options, name,
                                          _reporter(bar))  # fmt: skip
    except (CiteqaError, EvalInputError, EvalServerError) as exc:
        _fail(str(exc))
    # A pipe or a file gets the whole table, not one squeezed to 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    for path in written:
        err.print(f"wrote {path}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="[env CITEQA_HOST, 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="[env CITEQA_PORT, 8000]")] = None,
    data_dir: DataDir = None,
    model: Model = None,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs) and MCP over Streamable HTTP at /mcp."""
    import uvicorn

    from service.app import create_app
    from service.observability import log_config

    settings = _settings(host=host, port=port, data_dir=data_dir, model=model)
    # JSON log lines, one access line per request from our middleware (uvicorn's is off);
    # on SIGTERM requests in flight get shutdown_seconds to finish.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, log_config=log_config(settings.log_level),
                access_log=False, timeout_graceful_shutdown=settings.shutdown_seconds)  # fmt: skip


@app.command("mcp")
def mcp_command(data_dir: DataDir = None, model: Model = None) -> None:
    """Serve the MCP tools (search, fetch, list_documents) over stdio, for Claude Desktop,
    Cursor and the like; reads the data dir and follows new ingests. Logs go to stderr."""
    from index.model.embedder import embedder_for
    from service.mcp import serve_stdio

    settings = _settings(data_dir=data_dir, model=model)
    try:
        config = settings.engine_config()
        embedder = embedder_for(config)
        serve_stdio(settings, embedder)
    except (CiteqaError, ImportError, OSError) as exc:
        _fail(str(exc))


def main() -> None:
    # Weights come from the installed package; never reach for the hub, and keep
    # third-party progress bars off our terminal.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    handler = logging.StreamHandler()
    # On the handler, not the logger: bm25s sets its own logger to DEBUG when imported.
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    app()
