"""The `citeqa` command: ingest, compact, serve, mcp, ask, documents, delete, reindex,
migrate.

The commands live by group: ``indexing`` (ingest, compact, documents, delete, reindex, migrate),
``asking`` (ask, eval) and ``serving`` (serve, mcp), on what ``shared`` holds; this module
makes the one Typer ``app`` of them, in the order ``citeqa --help`` lists them.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata
from typing import Annotated

import typer

from service.cli.asking import ask, eval_command
from service.cli.indexing import compact, delete, documents, ingest, migrate, reindex
from service.cli.serving import mcp_command, serve
from service.cli.shared import fail

app = typer.Typer(
    help="citeqa: ask your documents a question, get cited passages.",
    no_args_is_help=True,
    add_completion=False,
    # Markdown, not rich markup: rich would take "[env CITEQA_..., default]" for a style tag
    # and drop it from --help.
    rich_markup_mode="markdown",
)


def _print_version(wanted: bool) -> None:
    if wanted:
        try:
            print(f"citeqa {metadata.version('citeqa')}")
        except metadata.PackageNotFoundError:  # run from a source tree that was never installed
            fail("citeqa is not installed; run `make install` (pip install -e .)")
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


app.command()(ingest)
app.command()(compact)
app.command()(ask)
app.command()(documents)
app.command()(delete)
app.command()(reindex)
app.command()(migrate)
app.command("eval")(eval_command)
app.command()(serve)
app.command("mcp")(mcp_command)


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
