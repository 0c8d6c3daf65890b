"""Milvus as the storage: everything a server needs to answer lives in four collections,
so any number of stateless ``citeqa serve`` processes over one Milvus give the same answers
and see each other's writes. Milvus Lite (a ``.db`` folder) runs it in-process.

- ``<prefix>_passages``: a passage's span, text, sentence spans and title; its vector
  (``dense``, inner product on unit vectors: the cosine); ``terms``, the passage's
  stemmed words (our own Snowball stemmer, as the local BM25 uses), which Milvus's BM25
  function turns into the ``sparse`` field it ranks; its sentence vectors (float16, base64).
- ``<prefix>_documents``: one row per document: its fields as JSON and the first part of
  its text.
- ``<prefix>_parts``: what does not fit one VARCHAR (65,535 bytes on a Milvus server):
  the rest of a document's text, and each passage's token vectors for late interaction
  (int8, base64), in parts.
- ``<prefix>_meta``: the model, dimension and generation.

Milvus has no transaction across collections, so a write cut short must not give a wrong
answer: each passage row carries its document's content hash, and only rows whose hash is
the document row's are ever read. A write puts the new passages and parts in, then the
document row (from then on the new version is the one cited), then deletes the old rows.
The next ingest of a document whose write was cut short writes it again (ids derive from
the content, so rewriting replaces rather than duplicates). A reindex writes a new
passages collection and switches to it only once it is whole.

This module opens the client and names the collections; ``connection`` (reaching Milvus),
``schema`` (the collections' shape), ``values`` (literals, ids, base64), ``reads`` and
``writes`` hold the rest.
"""

from __future__ import annotations

from pathlib import Path

from index.config import EngineConfig
from index.errors import ConfigError, IndexStateError
from index.store.milvus.connection import Guarded, is_server, open_client, safe_uri, unreachable
from index.store.milvus.schema import PART_CHARS, create_fixed
from index.store.milvus.writes import MilvusWrites
from index.store.protocol import CompactReport


class MilvusStorage(MilvusWrites):
    """The index in Milvus (a server, or Milvus Lite at a ``.db`` path); reading is
    ``MilvusReads``, writing ``MilvusWrites``."""

    kind = "milvus"

    def __init__(self, config: EngineConfig, *, create: bool = False) -> None:
        if config.chunk.max_chars > PART_CHARS:
            raise ConfigError(
                f"chunk size {config.chunk.max_chars} is too large for Milvus (a passage "
                f"must fit one VARCHAR); use {PART_CHARS} characters or fewer"
            )
        self.config = config
        self.uri = config.milvus_uri or str(config.data_dir / "milvus.db")
        prefix = config.milvus_prefix
        self.names = {k: f"{prefix}_{k}" for k in ("passages", "documents", "parts", "meta")}
        if not is_server(self.uri):
            if not self.uri.endswith(".db"):
                raise ConfigError(
                    f"CITEQA_MILVUS_URI={self.uri!r}: give a Milvus Lite path ending in .db, "
                    "or a server address like http://localhost:19530"
                )
            if not create and not Path(self.uri).exists():
                raise IndexStateError(
                    f"no Milvus Lite index at {self.uri}: run `citeqa ingest PATH` with "
                    "CITEQA_STORE=milvus first"
                )
            if create:
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        if create:  # the write lock and the model cache live there
            config.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.client = Guarded(open_client(self.uri, config.milvus_token), safe_uri(self.uri))
        except Exception as exc:  # pymilvus raises its own types, and grpc's
            raise IndexStateError(unreachable(self.uri, exc)) from exc
        self._size = 0
        self._generation = 0
        self._stamp = None
        if create:
            create_fixed(self.client, self.names)
        elif not self.client.has_collection(self.names["documents"]):
            raise IndexStateError(
                f"no citeqa index in Milvus at {safe_uri(self.uri)} (no collection "
                f"{self.names['documents']}): run `citeqa ingest PATH` with CITEQA_STORE=milvus"
            )
        for name in self.names.values():  # Milvus serves a collection once it is loaded
            if self.client.has_collection(name):
                self.client.load_collection(name)
        if self.client.has_collection(self.names["meta"]):
            self._follow_passages()

    # -- lifecycle ------------------------------------------------------------------------

    def load(self) -> None:
        self._read_state()

    def refresh(self) -> bool:
        """Every write leaves a new stamp (one key lookup, every CITEQA_REFRESH_SECONDS);
        the generation and passage count are read again only then. What is searched is
        always live."""
        if self.get_meta("stamp") == self._stamp:
            return False
        self._read_state()
        return True

    def close(self) -> None:
        self.client.close()

    @property
    def size(self) -> int:
        return self._size

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def wants_compact(self) -> bool:
        return False

    def compact(self) -> CompactReport:
        """Milvus merges its segments and drops deleted rows itself (its compaction runs
        in the server); nothing here to do."""
        dense = f"Milvus, {self.size:,} vectors"
        note = "Milvus compacts its own segments; nothing to do"
        return CompactReport(self.generation, dense, dense, note=note)
