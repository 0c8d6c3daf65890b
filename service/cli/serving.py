"""Commands that serve the index: serve (REST API and MCP over HTTP), mcp (MCP over stdio)."""

from __future__ import annotations

from typing import Annotated

import typer

from index import CiteqaError
from service.cli.shared import DataDir, Model, fail, load_settings


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

    settings = load_settings(host=host, port=port, data_dir=data_dir, model=model)
    # JSON log lines, one access line per request from our middleware (uvicorn's is off);
    # on SIGTERM requests in flight get shutdown_seconds to finish.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, log_config=log_config(settings.log_level),
                access_log=False, timeout_graceful_shutdown=settings.shutdown_seconds)  # fmt: skip


def mcp_command(data_dir: DataDir = None, model: Model = None) -> None:
    """Serve the MCP tools (search, fetch, list_documents) over stdio, for Claude Desktop,
    Cursor and the like; reads the data dir and follows new ingests. Logs go to stderr."""
    from index.model.embedder import embedder_for
    from service.mcp import serve_stdio

    settings = load_settings(data_dir=data_dir, model=model)
    try:
        config = settings.engine_config()
        embedder = embedder_for(config)
        serve_stdio(settings, embedder)
    except (CiteqaError, ImportError, OSError) as exc:
        fail(str(exc))
