"""All settings in one place, each also read from a ``CITEQA_`` environment variable."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index import BUNDLED_MODEL, ChunkSpec, EngineConfig
from index.config import FLAT_LIMIT, RUNTIMES
from index.read.web import FetchPolicy

# What a browser sends in its Origin header: scheme://host[:port], nothing after.
_ORIGIN = re.compile(r"https?://(\[[0-9a-fA-F:.]+\]|[^/\s:\[\]]+)(:\d{1,5})?")


class Settings(BaseSettings):
    """Built once at start-up (never at import); a bad value stops start-up and names its key."""

    model_config = SettingsConfigDict(env_prefix="CITEQA_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the index lives.")
    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the server listens on.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins allowed to call the API from a browser (CORS), comma-separated "
        "or a JSON list, like http://localhost:3000; * allows any; empty: CORS off.",
    )
    model: str = Field(
        BUNDLED_MODEL,
        description="sentence-transformers model name or folder; default: bundled MiniLM.",
    )
    api_key: SecretStr | None = Field(None, description="When set, /v1 needs this bearer key.")
    admin_key: SecretStr | None = Field(
        None, description="When set, document writes need this key; the API key then only reads."
    )
    max_body_bytes: int = Field(
        10_000_000, ge=1_000, description="Largest request body the API accepts, in bytes."
    )
    max_document_chars: int = Field(
        5_000_000, ge=100, description="Longest document text the API accepts, in characters."
    )
    max_upload_files: int = Field(100, ge=1, description="Most files in one multipart upload.")
    write_wait_seconds: float = Field(
        60.0, gt=0, description="How long an API write waits for another writer to finish."
    )
    backend: Literal["faiss", "numpy"] = Field("faiss", description="Vector search backend.")
    chunk_chars: int = Field(500, ge=100, le=5000, description="Largest passage, in characters.")
    answerable_threshold: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Closeness of the best top result below which answerable=false "
        "(MaxSim with pooled sentence vectors, else the best sentence's cosine).",
    )
    title_in_index: bool = Field(
        True, description="Embed and BM25-index each passage with its document title in front."
    )
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted", description="How hybrid mode merges dense and BM25 rankings."
    )
    dense_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Weighted fusion: the dense share (BM25 gets the rest)."
    )
    sentence_weight: float = Field(
        0.4, ge=0.0, le=5.0, description="Hybrid: weight of ranking candidates by best sentence."
    )
    late_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Hybrid: share of token-level late interaction; 0 = off."
    )
    late_depth: int = Field(50, ge=2, le=200, description="Candidates late interaction reorders.")
    reranker: str | None = Field(
        None, description="A sentence-transformers CrossEncoder (folder or name); off when unset."
    )
    rerank_depth: int = Field(20, ge=1, le=200, description="Candidates the reranker reorders.")
    answerable_names: bool = Field(
        True, description="answerable=false when a name in the question is in no one result."
    )
    answerable_quantities: bool = Field(
        True,
        description="answerable=false when a 'how many/much' question finds no sentence "
        "giving that number.",
    )
    ingest_batch: int = Field(
        64,
        ge=1,
        le=100_000,
        description="Documents per ingest batch: each is one transaction and one index "
        "generation, and memory holds one batch.",
    )
    ingest_passages: int = Field(
        1024,
        ge=1,
        le=1_000_000,
        description="A batch also ends once its documents have this many passages (long "
        "pages and PDFs), so memory stays bounded.",
    )
    refresh_seconds: float = Field(
        0.5,
        gt=0,
        le=60,
        description="How often a server checks the data dir for a newer index generation.",
    )
    public_url: str | None = Field(
        None,
        description="This server's address as clients reach it (behind a proxy, its public "
        "URL): document links in MCP results point here; default http://{host}:{port}.",
    )
    mcp_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*", "[::1]:*"],
        description="Host headers /mcp accepts (DNS-rebinding protection), comma-separated or "
        "a JSON list; host:* allows any port; * turns the check off.",
    )
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description='Hosts that `citeqa ingest URL` and POST /v1/documents {"url"} may '
        "fetch although they resolve to loopback, private or link-local addresses (an "
        "intranet wiki), comma-separated; by default none are.",
    )
    fetch_max_bytes: int = Field(
        20_000_000, ge=1_000, le=1_000_000_000, description="Largest file a link may fetch."
    )
    fetch_timeout: float = Field(15.0, gt=0, le=300, description="Seconds a link fetch may take.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_seconds: int = Field(
        30,
        ge=1,
        le=3600,
        description="On SIGTERM, how long `citeqa serve` waits for requests in flight before "
        "cancelling them (a write in progress still completes before the process exits).",
    )
    runtime: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx",
        description="What embeds questions: onnx (ONNX Runtime, float32: the vectors torch "
        "gives, 2x faster than torch for one question), onnx-int8 (int8 weights, ~2 ms "
        "faster, flags one more seed question not answerable) or torch. The ONNX copy is "
        "exported once into model_cache; if that fails the model runs on torch (with a "
        "warning).",
    )
    passage_runtime: Literal["torch", "onnx"] = Field(
        "torch",
        description="What embeds passages at ingest: torch (1.4x faster than ONNX Runtime "
        "on batches on an AVX-512 CPU) or onnx (ONNX Runtime, float32: the same vectors).",
    )
    sentence_vectors: Literal["pooled", "separate"] = Field(
        "pooled",
        description="How sentences get their vectors at ingest: pooled from the passage's own "
        "pass (one model pass; answerable then reads MaxSim) or separate (each sentence "
        "embedded again: 1.4x slower ingest; answerable reads the best sentence's cosine).",
    )
    model_cache: Path | None = Field(
        None,
        description="Where the ONNX exports of the model are kept, one folder per model and "
        "runtime; default <data_dir>/models. Point several data dirs at one to export once.",
    )
    dense_index: Literal["auto", "flat", "ivf"] = Field(
        "auto",
        description="FAISS index type: auto is exact (flat) below dense_flat_limit passages and "
        "IVF (approximate, a few ms at a million passages) from there on; flat or ivf forces one.",
    )
    dense_flat_limit: int = Field(
        FLAT_LIMIT,
        ge=1,
        description="Passages from which dense_index=auto switches to IVF (and back below half).",
    )
    store: Literal["local", "milvus"] = Field(
        "local",
        description="Where the index lives: local (SQLite + FAISS + BM25 files in data_dir) or "
        "milvus (a Milvus server, or Milvus Lite in a folder), for several servers sharing one.",
    )
    milvus_uri: str | None = Field(
        None,
        description="For store=milvus: http://host:19530 for a Milvus server, or a path ending "
        "in .db for Milvus Lite (one process at a time); default <data_dir>/milvus.db.",
    )
    milvus_token: SecretStr | None = Field(
        None, description="For a Milvus server that asks for one: user:password or an API key."
    )
    milvus_prefix: str = Field(
        "citeqa",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="Collection names start with this, so several indexes can share a Milvus.",
    )

    @field_validator(
        "api_key", "admin_key", "public_url", "milvus_uri", "milvus_token", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # docker compose passes CITEQA_API_KEY= when it is not set on the host.
        return None if value == "" else value

    @field_validator("runtime", mode="before")
    @classmethod
    def _known_runtime(cls, value: object) -> object:
        if value not in RUNTIMES:
            raise ValueError(f"CITEQA_RUNTIME must be one of {', '.join(RUNTIMES)}, not {value!r}")
        return value

    @field_validator("model_cache", mode="before")
    @classmethod
    def _blank_cache_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("cors_origins", "mcp_allowed_hosts", "fetch_allow_hosts", mode="before")
    @classmethod
    def _origin_list(cls, value: object) -> object:
        if isinstance(value, str):  # the environment: a JSON list, or comma-separated
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list of origins ({exc})") from None
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_only(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme://host[:port] with no path or "
                    "trailing slash, like http://localhost:3000 (or * for any)"
                )
        return origins

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError(f"{value!r} is not an http(s) URL, like https://citeqa.example.org")
        return value.rstrip("/") if value else None

    def fetch_policy(self) -> FetchPolicy:
        """How far link fetches may go (``index.read.web``)."""
        return FetchPolicy(frozenset(h.casefold() for h in self.fetch_allow_hosts),
                           self.fetch_max_bytes, self.fetch_timeout)  # fmt: skip

    @property
    def base_url(self) -> str:
        """``public_url``, else the address this server listens on."""
        if self.public_url:
            return self.public_url
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{self.port}"

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            data_dir=self.data_dir,
            model=self.model,
            backend=self.backend,
            chunk=ChunkSpec(max_chars=self.chunk_chars),
            answerable_threshold=self.answerable_threshold,
            title_in_index=self.title_in_index,
            fusion=self.fusion,
            dense_weight=self.dense_weight,
            sentence_weight=self.sentence_weight,
            late_weight=self.late_weight,
            late_depth=self.late_depth,
            answerable_names=self.answerable_names,
            answerable_quantities=self.answerable_quantities,
            reranker=self.reranker or None,
            rerank_depth=self.rerank_depth,
            ingest_batch=self.ingest_batch,
            ingest_passages=self.ingest_passages,
            runtime=self.runtime,
            passage_runtime=self.passage_runtime,
            sentence_vectors=self.sentence_vectors,
            model_cache=self.model_cache,
            dense_index=self.dense_index,
            dense_flat_limit=self.dense_flat_limit,
            store=self.store,
            milvus_uri=self.milvus_uri,
            milvus_token=self.milvus_token.get_secret_value() if self.milvus_token else None,
            milvus_prefix=self.milvus_prefix,
        )
