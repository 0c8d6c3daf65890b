"""What every `citeqa` command shares: the --data-dir and --model options, settings from the
environment, the error line, progress bars, and opening the index."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

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

from index import CiteqaError, Engine
from index import Progress as EngineProgress
from service.settings import Settings

err = Console(stderr=True)


DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Index folder [env CITEQA_DATA_DIR, ./data]")
]
Model = Annotated[str | None, typer.Option("--model", help="Embedding model [env CITEQA_MODEL]")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings(**overrides: Any) -> Settings:
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        bad = "; ".join(f"CITEQA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                        for e in exc.errors())  # fmt: skip
        fail(f"bad setting: {bad}", 2)
    if settings.log_level == "debug":  # CITEQA_LOG_LEVEL=debug shows each ingest stage
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.DEBUG)
        logging.getLogger("citeqa").setLevel(logging.DEBUG)
    return settings


@contextmanager
def progress_bar() -> Iterator[Progress]:
    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=False) as bar:
        yield bar


def reporter(bar: Progress) -> EngineProgress:
    """Turn the engine's (stage, done, total) calls into one rich bar per stage."""
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total or None)
        bar.update(tasks[stage], completed=done, total=total or None)

    return report


def open_engine(settings: Settings, *, create: bool = False) -> Engine:
    try:
        return Engine.open(settings.engine_config(), create=create)
    except CiteqaError as exc:
        fail(str(exc))


def text_arg(value: str, what: str) -> str:
    """A command-line argument that is not valid text (bytes the locale cannot decode)
    gets a one-line error, not a traceback."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"the {what} is not valid UTF-8 text; pass it in UTF-8", 2)
    return value
