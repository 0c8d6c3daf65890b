"""Commands that write or list the index: ingest, compact, documents, delete, reindex,
migrate."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from index import (
    CiteqaError,
    CompactReport,
    Engine,
    NotFoundError,
    SkippedFile,
    count_sources,
    is_link,
    read_sources,
)
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
from service.schemas import DocumentSummary


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
    no_compact: Annotated[
        bool,
        typer.Option(
            "--no-compact",
            help="Leave the dense index exact even past the IVF limit (`citeqa compact` "
            "trains it later)",
        ),
    ] = False,
    data_dir: DataDir = None,
    model: Model = None,
) -> None:
    """Index documents; unchanged ones are skipped, changed ones replaced.

    Each batch is committed on its own: an interrupted run keeps what it committed, and
    running it again carries on from there. A link is fetched as the server would
    (CITEQA_FETCH_* settings; private and loopback addresses refused); one that cannot
    be read is listed and the command ends with exit code 1 after the rest went in.
    No batch waits for the dense index to be trained: when the corpus has outgrown an
    exact index, it is trained once at the end, as `citeqa compact` does."""
    settings = load_settings(data_dir=data_dir, model=model, ingest_batch=batch_size)
    skipped: list[SkippedFile] = []
    engine = open_engine(settings, create=True)
    try:
        with progress_bar() as bar:
            documents = read_sources(
                sources, settings.fetch_policy(), strict=strict, on_skip=skipped.append
            )
            report = engine.ingest(documents, reporter(bar), count_sources(sources))
        if engine.wants_compact and not no_compact:
            err.print("the dense index outgrew its kind: training it (citeqa compact) ...")
            _print_compact(engine.compact())
    except CiteqaError as exc:
        fail(str(exc))
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


def compact(data_dir: DataDir = None) -> None:
    """Train the dense index its size calls for (IVF past CITEQA_DENSE_FLAT_LIMIT; writes
    never train), merge token segments, drop deleted rows and VACUUM SQLite. Safe beside
    a running server: it searches the generation it holds until the new one is out."""
    engine = open_engine(load_settings(data_dir=data_dir))
    try:
        _print_compact(engine.compact())
    except CiteqaError as exc:
        fail(str(exc))
    finally:
        engine.close()


def _print_compact(done: CompactReport) -> None:
    if done.note:
        err.print(done.note, highlight=False)
        return
    err.print(
        f"dense: {done.dense_before} -> {done.dense_after}; token segments "
        f"{done.token_segments_before} -> {done.token_segments_after} "
        f"({done.token_rows_dropped:,} dead rows dropped); on disk "
        f"{done.bytes_before / 2**20:,.1f} MB -> {done.bytes_after / 2**20:,.1f} MB "
        f"(generation {done.generation})",
        highlight=False,
    )


def documents(data_dir: DataDir = None) -> None:
    """List indexed documents as JSON lines."""
    engine = open_engine(load_settings(data_dir=data_dir))
    for info in engine.documents():
        print(DocumentSummary.from_info(info).model_dump_json())
    engine.close()


def delete(
    doc_id: Annotated[str, typer.Argument(help="The document id to remove")],
    data_dir: DataDir = None,
) -> None:
    """Remove one document and its passages."""
    doc_id = text_arg(doc_id, "document id")
    engine = open_engine(load_settings(data_dir=data_dir))
    try:
        engine.delete(doc_id)
    except NotFoundError as exc:
        fail(str(exc))
    finally:
        engine.close()
    err.print(f"deleted {doc_id}")


def reindex(data_dir: DataDir = None, model: Model = None) -> None:
    """Re-embed every passage with the configured model (after changing CITEQA_MODEL)."""
    settings = load_settings(data_dir=data_dir, model=model)
    try:
        engine = Engine(settings.engine_config(), check_model=False)
        with progress_bar() as bar:
            count = engine.reindex(reporter(bar))
        engine.close()
    except CiteqaError as exc:
        fail(str(exc))
    err.print(f"re-embedded {count} passages with {settings.model}")


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

    settings = load_settings(data_dir=data_dir, milvus_uri=milvus_uri)
    source_config = settings.engine_config()
    if source_config.store == to:
        fail(f"the index is already in {to} (CITEQA_STORE={to}); set CITEQA_STORE to the source")
    target_config = replace(source_config, store=to)
    try:
        source = open_storage(source_config)
        source.load()
        target = open_storage(target_config, create=True)
        target.load()
        with progress_bar() as bar:
            done = copy(source, target, reporter(bar))
        source.close()
        target.close()
    except CiteqaError as exc:
        fail(str(exc))
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
