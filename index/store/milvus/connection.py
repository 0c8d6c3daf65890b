"""Reaching Milvus: a server at a URI, or Milvus Lite in-process at a ``.db`` path; the
client's logging and gRPC settings; each failed call turned into ``IndexStateError``; and
the messages that say what to do when Milvus cannot be reached. Changes when pymilvus,
Milvus Lite or how citeqa connects to them does."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from index.errors import IndexStateError

log = logging.getLogger("citeqa")


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


def safe_uri(uri: str) -> str:
    """The URI without a user and password, for messages."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))


def open_client(uri: str, token: str | None) -> Any:
    """A pymilvus ``MilvusClient`` for ``uri`` (raw: see ``Guarded``)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise ImportError("CITEQA_STORE=milvus needs pymilvus: pip install pymilvus") from exc
    # pymilvus logs a traceback for every failed call, caught or not (ours say what to do),
    # and warns on each paged query against Milvus Lite: after its own logging set-up.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    if not is_server(uri):  # Milvus Lite logs a traceback when another process holds the
        # folder (we say what to do), and its gRPC server logs each call it lacks.
        logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        # pymilvus pings every 10 s even when idle; Lite's server (gRPC's defaults) takes
        # that for abuse and hangs up ("too_many_pings"), so an idle server logs an error.
        lite = {"grpc.keepalive_time_ms": 600_000, "grpc.keepalive_permit_without_calls": 0}
        return MilvusClient(uri=uri, token=token or "", grpc_options=lite)
    return MilvusClient(uri=uri, token=token or "")


class Guarded:
    """The Milvus client, with each failure turned into ``IndexStateError`` (a 503 that says
    what failed) instead of a pymilvus or grpc error surfacing as a 500."""

    def __init__(self, client: Any, uri: str) -> None:
        self._client = client
        self._uri = uri

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                log.warning("Milvus %s failed", name, exc_info=True)
                raise IndexStateError(f"Milvus at {self._uri}: {name} failed: {exc}") from exc

        return call


def unreachable(uri: str, exc: Exception) -> str:
    """What to tell a person when the client for ``uri`` could not be made."""
    if is_server(uri):
        return f"cannot reach Milvus at {safe_uri(uri)}: {exc}. Is the server up?"
    return (
        f"cannot open Milvus Lite at {uri}: {exc}. Milvus Lite lets one process at a "
        "time open it: stop the other (a running `citeqa serve`? write through its API), "
        "or run a Milvus server for several processes (`milvus-lite server --data-dir "
        f"{uri} --host 127.0.0.1 --port 19530`, then "
        "CITEQA_MILVUS_URI=http://127.0.0.1:19530)"
    )
