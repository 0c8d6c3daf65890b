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
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from index.config import EngineConfig
from index.documents import Document, DocumentInfo, Passage, Span
from index.errors import ConfigError, IndexStateError, NotFoundError
from index.model.embedder import Vectors
from index.read.passages import indexed_text
from index.read.terms import stemmed_terms
from index.store.codecs import Int8Codec
from index.store.layouts import layout_from_json, layout_to_json
from index.store.lock import write_lock
from index.store.protocol import Filters, Ranked, Staged, StoredPassage, TokenRows
from index.timing import Laps

log = logging.getLogger("citeqa")

VARCHAR = 65_535
"""The longest VARCHAR a Milvus server takes, in bytes."""
PART_CHARS = 16_000
"""Characters of text per part: at most 4 bytes each in UTF-8, so a part always fits."""
BLOB_CHARS = 60_000
"""Base64 characters (one byte each) per part of token vectors."""
ID_CHARS = 2_048
"""Room for a 512-character document id in bytes."""
PASSAGES_META = "passages_collection"
"""Which collection holds the passages (a reindex writes a new one, then switches)."""
CONSISTENCY = "Strong"
"""A read sees every write acknowledged before it (a server's default, Bounded, may not)."""
SCAN = 1_000
"""Rows per page when a whole collection is read."""
_ONE = [1.0, 0.0]
"""Milvus wants a vector field in every collection; the collections that need none hold this."""


def _client(uri: str, token: str | None) -> Any:
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


class _Guarded:
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


def _quote(value: str) -> str:
    """A string literal for a Milvus filter expression (ids and sources come from users)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    for char, code in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        escaped = escaped.replace(char, code)
    return f'"{escaped}"'


def _doc_key(doc_id: str) -> int:
    return _id("document", doc_id)


def _safe(uri: str) -> str:
    """The URI without a user and password, for messages."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))


def _strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def _id(*parts: object) -> int:
    """A 63-bit id derived from content: rewriting the same thing replaces it."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _encode(array: np.ndarray[Any, Any]) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _decode(text: str, dtype: type, columns: int) -> np.ndarray[Any, Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(-1, columns)


def _sentences_field(vectors: Vectors | None) -> str:
    """Sentence vectors as float16 base64, or "" when absent or too long for a VARCHAR
    (a search then embeds that passage's sentences when it reads them)."""
    encoded = _encode(vectors.astype(np.float16)) if vectors is not None else ""
    return encoded if len(encoded) <= VARCHAR else ""


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


class MilvusStorage:
    """The index in Milvus (a server, or Milvus Lite at a ``.db`` path)."""

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
            self.client = _Guarded(_client(self.uri, config.milvus_token), _safe(self.uri))
        except Exception as exc:  # pymilvus raises its own types, and grpc's
            raise IndexStateError(self._unreachable(exc)) from exc
        self._size = 0
        self._generation = 0
        self._stamp: str | None = None
        if create:
            self._create_fixed()
        elif not self.client.has_collection(self.names["documents"]):
            raise IndexStateError(
                f"no citeqa index in Milvus at {_safe(self.uri)} (no collection "
                f"{self.names['documents']}): run `citeqa ingest PATH` with CITEQA_STORE=milvus"
            )
        for name in self.names.values():  # Milvus serves a collection once it is loaded
            if self.client.has_collection(name):
                self.client.load_collection(name)
        if self.client.has_collection(self.names["meta"]):
            self._follow_passages()

    def _unreachable(self, exc: Exception) -> str:
        if is_server(self.uri):
            return f"cannot reach Milvus at {_safe(self.uri)}: {exc}. Is the server up?"
        return (
            f"cannot open Milvus Lite at {self.uri}: {exc}. Milvus Lite lets one process at a "
            "time open it: stop the other (a running `citeqa serve`? write through its API), "
            "or run a Milvus server for several processes (`milvus-lite server --data-dir "
            f"{self.uri} --host 127.0.0.1 --port 19530`, then "
            "CITEQA_MILVUS_URI=http://127.0.0.1:19530)"
        )

    # -- collections ----------------------------------------------------------------------

    def _schema(self) -> Any:
        from pymilvus import MilvusClient

        return MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)

    def _create_fixed(self) -> None:
        """The collections whose shape does not depend on the model."""
        from pymilvus import DataType

        if not self.client.has_collection(self.names["meta"]):
            schema = self._schema()
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
            schema.add_field("value", DataType.VARCHAR, max_length=VARCHAR)
            self._create(self.names["meta"], schema)
        if not self.client.has_collection(self.names["parts"]):
            schema = self._schema()
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
            schema.add_field("kind", DataType.VARCHAR, max_length=16)
            schema.add_field("owner", DataType.INT64)
            schema.add_field("part", DataType.INT64)
            schema.add_field("data", DataType.VARCHAR, max_length=VARCHAR)
            self._create(self.names["parts"], schema)
        if not self.client.has_collection(self.names["documents"]):
            schema = self._schema()
            # Keyed by a number derived from the id: pymilvus writes string keys into its
            # own filter expressions unescaped, which an id holding a quote breaks.
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
            schema.add_field("info", DataType.JSON)
            schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
            self._create(self.names["documents"], schema)

    def _create(self, name: str, schema: Any) -> None:
        from pymilvus import DataType

        schema.add_field("one", DataType.FLOAT_VECTOR, dim=len(_ONE))
        index = self.client.prepare_index_params()
        index.add_index(field_name="one", index_type="FLAT", metric_type="IP")
        self.client.create_collection(
            name, schema=schema, index_params=index, consistency_level=CONSISTENCY
        )

    def _create_passages(self, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self._schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
        schema.add_field("source", DataType.VARCHAR, max_length=ID_CHARS)
        schema.add_field("seq", DataType.INT64)
        schema.add_field("char_start", DataType.INT64)
        schema.add_field("char_end", DataType.INT64)
        schema.add_field("info", DataType.JSON)  # sentence spans, title, vector dimension
        schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
        schema.add_field(
            "terms", DataType.VARCHAR, max_length=VARCHAR, enable_analyzer=True,
            analyzer_params={"type": "standard"},
        )  # fmt: skip
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sentences", DataType.VARCHAR, max_length=VARCHAR)
        schema.add_function(
            Function(name="terms_bm25", function_type=FunctionType.BM25,
                     input_field_names=["terms"], output_field_names=["sparse"])
        )  # fmt: skip
        index = self.client.prepare_index_params()
        index.add_index(field_name="dense", index_type="AUTOINDEX", metric_type="IP")
        # k1 and b as bm25s's Lucene variant, which the local store uses.
        index.add_index(
            field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
            params={"bm25_k1": 1.5, "bm25_b": 0.75},
        )  # fmt: skip
        self.client.create_collection(
            self.names["passages"], schema=schema, index_params=index,
            consistency_level=CONSISTENCY,
        )  # fmt: skip

    def _has_passages(self) -> bool:
        return bool(self.client.has_collection(self.names["passages"]))

    def _query(self, name: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row matching ``expr``, page by page (a server caps one query's rows)."""
        rows: list[dict[str, Any]] = []
        iterator = self.client.query_iterator(
            name, batch_size=SCAN, filter=expr, output_fields=fields
        )
        try:
            while page := iterator.next():
                rows += page
        except Exception as exc:  # the iterator's own calls are not guarded
            raise IndexStateError(f"Milvus: reading {name} failed: {exc}") from exc
        finally:
            iterator.close()
        return rows

    def _count(self, name: str) -> int:
        found = self.client.query(name, filter="", output_fields=["count(*)"])
        return int(found[0]["count(*)"])

    # -- lifecycle ------------------------------------------------------------------------

    def load(self) -> None:
        self._read_state()

    def _read_state(self) -> None:
        self._follow_passages()
        self._stamp = self.get_meta("stamp")
        self._generation = int(self.get_meta("generation") or 0)
        self._size = self._count(self.names["passages"]) if self._has_passages() else 0

    def _follow_passages(self) -> None:
        name = self.get_meta(PASSAGES_META)
        if name and name != self.names["passages"]:
            self.names["passages"] = name
            self.client.load_collection(name)

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

    def get_meta(self, key: str) -> str | None:
        rows = self.client.query(
            self.names["meta"], filter=f"key == {_quote(key)}", output_fields=["value"]
        )
        return str(rows[0]["value"]) if rows else None

    def _set_meta(self, values: Mapping[str, str]) -> None:
        rows = [{"key": k, "value": v, "one": _ONE} for k, v in values.items()]
        if rows:
            self.client.upsert(self.names["meta"], rows)

    def counts(self) -> tuple[int, int]:
        passages = self._count(self.names["passages"]) if self._has_passages() else 0
        return self._count(self.names["documents"]), passages

    # -- documents ------------------------------------------------------------------------

    def _document_rows(self, doc_ids: Sequence[str], text: bool) -> list[dict[str, Any]]:
        if not doc_ids:
            return []
        fields = ["doc_id", "info", "text"] if text else ["doc_id", "info"]
        return list(
            self.client.get(
                self.names["documents"], ids=[_doc_key(d) for d in doc_ids], output_fields=fields
            )  # fmt: skip
        )

    def document(self, doc_id: str) -> Document:
        rows = self._document_rows([doc_id], text=True)
        if not rows:
            raise NotFoundError(
                f"no document with id {doc_id!r}; GET /v1/documents (or `citeqa documents`) "
                "lists the ids"
            )
        info, text = rows[0]["info"], str(rows[0]["text"])
        if info["parts"] > 1:  # by primary key: part ids derive from the content hash
            keys = [_id("text", doc_id, info["digest"], n) for n in range(1, info["parts"])]
            parts = self.client.get(self.names["parts"], ids=keys, output_fields=["data"])
            found = {int(p["id"]): str(p["data"]) for p in parts}
            if len(found) != len(keys):
                raise IndexStateError(
                    f"document {doc_id!r} is missing parts of its text in Milvus (a write was "
                    "cut short?); ingest it again"
                )
            text += "".join(found[key] for key in keys)
        return Document(doc_id, text, info["title"], info["source"], info["url"],
                        info["published"], info["metadata"],
                        layout=layout_from_json(info.get("layout")))  # fmt: skip

    @staticmethod
    def _info(row: Mapping[str, Any]) -> DocumentInfo:
        info = row["info"]
        return DocumentInfo(str(row["doc_id"]), info["title"], info["source"], info["url"],
                            info["published"], int(info["passages"]), int(info["chars"]),
                            layout_from_json(info.get("layout")))  # fmt: skip

    def documents(self) -> list[DocumentInfo]:
        rows = self._query(self.names["documents"], "", ["doc_id", "info"])
        return sorted((self._info(r) for r in rows), key=lambda d: d.doc_id)

    def infos(self, doc_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        rows = self._document_rows(sorted(set(doc_ids)), text=False)
        return {str(r["doc_id"]): self._info(r) for r in rows}

    def sources(self) -> set[str]:
        return {d.source for d in self.documents() if d.source is not None}

    def passage_spans(self, doc_id: str) -> list[Span]:
        if not self._has_passages():
            return []
        rows = self._query(self.names["passages"], f"doc_id == {_quote(doc_id)}",
                           ["doc_id", "info", "seq", "char_start", "char_end"])  # fmt: skip
        current = sorted(self._current(rows), key=lambda r: int(r["seq"]))
        return [Span(int(r["char_start"]), int(r["char_end"])) for r in current]

    def content_hash(self, doc_id: str) -> str | None:
        rows = self._document_rows([doc_id], text=False)
        return str(rows[0]["info"]["digest"]) if rows else None

    # -- search ---------------------------------------------------------------------------

    @staticmethod
    def _filter(filters: Filters | None) -> str:
        clauses = []
        if filters and filters.doc_ids:
            clauses.append(f"doc_id in {_strings(sorted(filters.doc_ids))}")
        if filters and filters.sources:
            clauses.append(f"source in {_strings(sorted(filters.sources))}")
        return " and ".join(clauses)

    def retrieve(
        self,
        question: str,
        query: Vectors,
        depth: int,
        mode: str,
        filters: Filters | None,
        laps: Laps,
    ) -> tuple[Ranked, Ranked]:
        if not self._has_passages() or depth <= 0:
            return [], []
        expr = self._filter(filters)
        name = self.names["passages"]
        dense: Ranked = []
        if mode != "lexical":
            found = self.client.search(
                name, data=[np.asarray(query, dtype=np.float32).tolist()], anns_field="dense",
                limit=depth, filter=expr, search_params={"metric_type": "IP"},
                output_fields=["seq"],
            )  # fmt: skip
            dense = [(int(h["id"]), float(h["distance"])) for h in found[0]]
        laps.lap("dense", mode != "lexical")
        lexical: Ranked = []
        terms = stemmed_terms([question])[0]
        if mode != "dense" and terms:
            found = self.client.search(
                name, data=[terms], anns_field="sparse", limit=depth, filter=expr,
                output_fields=["seq"],
            )  # fmt: skip
            # BM25 scores are positive; Milvus Lite reports them negated as distances.
            lexical = [(int(h["id"]), abs(float(h["distance"]))) for h in found[0]]
            lexical = [pair for pair in lexical if pair[1] > 0]
        laps.lap("lexical", mode != "dense")
        return dense, lexical

    _PASSAGE_FIELDS = ["id", "doc_id", "seq", "char_start", "char_end", "info", "text", "sentences"]

    @staticmethod
    def _passage(row: Mapping[str, Any]) -> StoredPassage:
        info = row["info"]
        spans = tuple(Span(int(s), int(e)) for s, e in info["spans"])
        passage = Passage(
            f"{row['doc_id']}#{row['seq']}", str(row["doc_id"]), int(row["seq"]),
            int(row["char_start"]), int(row["char_end"]), str(row["text"]), spans,
        )  # fmt: skip
        vectors = None
        if row["sentences"] and spans:
            vectors = _decode(str(row["sentences"]), np.float16, info["dimension"]).astype(
                np.float32
            )
        return StoredPassage(int(row["id"]), passage, info["title"], vectors)

    def passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        if not ids or not self._has_passages():
            return {}
        rows = self.client.get(
            self.names["passages"], ids=[int(i) for i in ids], output_fields=self._PASSAGE_FIELDS
        )
        return {int(r["id"]): self._passage(r) for r in self._current(rows)}

    def _current(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The passage rows of their document's current version (same digest): a write
        cut short, or one in progress, never has a passage cited against other text."""
        docs = self._document_rows(sorted({str(r["doc_id"]) for r in rows}), text=False)
        digests = {str(d["doc_id"]): d["info"]["digest"] for d in docs}
        return [r for r in rows if r["info"].get("digest") == digests.get(str(r["doc_id"]))]

    def token_rows(self, ids: Sequence[int], dimension: int) -> TokenRows:
        """Fetched by primary key (part ids derive from the passage id): part 0 of each,
        then part 1 of those whose part 0 was full, and so on; usually one call."""
        texts: dict[int, str] = {}
        wanted, part = [int(i) for i in ids], 0
        while wanted:
            keys = {_id(self._tokens_kind(), pid, part): pid for pid in wanted}
            rows = self.client.get(self.names["parts"], ids=list(keys), output_fields=["data"])
            wanted = []
            for row in rows:
                pid, data = keys[int(row["id"])], str(row["data"])
                texts[pid] = texts.get(pid, "") + data
                if len(data) == BLOB_CHARS:
                    wanted.append(pid)
            part += 1
        codec = Int8Codec(dimension)
        known = [int(i) for i in ids if int(i) in texts]
        blocks = [codec.decode(_decode(texts[i], np.uint8, dimension + 2)) for i in known]
        if not blocks:
            return TokenRows([], np.zeros((0, dimension), dtype=np.float32), [])
        return TokenRows(known, np.concatenate(blocks), [len(b) for b in blocks])

    def passage_vectors(self, ids: Sequence[int], dimension: int) -> Vectors:
        if not ids:
            return np.zeros((0, dimension), dtype=np.float32)
        rows = self.client.get(self.names["passages"], ids=[int(i) for i in ids],
                               output_fields=["dense"])  # fmt: skip
        found = {int(r["id"]): r["dense"] for r in rows}
        return np.asarray([found[int(i)] for i in ids], dtype=np.float32)

    def text_of(self, stored: StoredPassage) -> str:
        return indexed_text(stored.passage.text, stored.title, self.config.title_in_index)

    # -- writing --------------------------------------------------------------------------

    def write_lock(self) -> AbstractContextManager[None]:
        """Writers on this machine take turns on the data dir's lock; writers on other
        machines must not write the same document at the same moment."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)  # a server may run before it exists
        return write_lock(self.config.data_dir, self.config.lock_timeout)

    def repair(self) -> None:
        """Nothing to finish: a document whose write was cut short is written again when
        it is next ingested (its content hash does not match)."""

    def commit(
        self, staged: Sequence[Staged], empty: Sequence[str], meta: Mapping[str, str]
    ) -> int:
        """The batch in a few calls: new passages and parts, then every old one of these
        documents deleted, then the document rows (see the module docstring)."""
        dimension = meta.get("dimension") or self.get_meta("dimension")
        if staged and not self._has_passages():
            self._create_passages(int(dimension or staged[0].vectors.shape[1]))
        passages: list[dict[str, Any]] = []
        parts: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        for item in staged:
            rows, extra, document = self._rows(item)
            passages += rows
            parts += extra
            documents.append(document)
        for name, rows in (("passages", passages), ("parts", parts)):
            for start in range(0, len(rows), SCAN):
                self.client.upsert(self.names[name], rows[start : start + SCAN])
        if staged:
            # The document rows say which passages are current (their digest): from here
            # on the old passages are never cited, and then they go.
            self.client.upsert(self.names["documents"], documents)
            ids = _strings(item.document.doc_id for item in staged)
            for name, rows in (("passages", passages), ("parts", parts)):
                keep = ", ".join(str(row["id"]) for row in rows) or "-1"
                self.client.delete(
                    self.names[name], filter=f"doc_id in {ids} and id not in [{keep}]"
                )
        for doc_id in empty:
            self._delete_document(doc_id)
        return self._finish(meta)

    def _finish(self, meta: Mapping[str, str]) -> int:
        generation = int(self.get_meta("generation") or 0) + 1
        # Two servers writing at once may both count to the same generation; the stamp
        # still differs, so each sees the other's write.
        self._set_meta({**meta, "generation": str(generation), "stamp": uuid.uuid4().hex})
        for name in self.names.values():  # searching unflushed rows is a slow scan
            if self.client.has_collection(name):
                self.client.flush(name)
        self._read_state()
        return generation

    def _rows(
        self, item: Staged
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """One document's passage rows, parts (text beyond the first part, token vectors)
        and document row."""
        doc = item.document
        texts = [doc.text[p.span.start : p.span.end] for p in item.passages]
        indexed = [indexed_text(t, doc.title, self.config.title_in_index) for t in texts]
        terms = stemmed_terms(indexed)
        ids = [_id(doc.doc_id, item.digest, p.seq) for p in item.passages]
        rows = []
        for i, passage in enumerate(item.passages):
            rows.append({
                "id": ids[i], "doc_id": doc.doc_id, "source": doc.source or "",
                "seq": passage.seq, "char_start": passage.span.start,
                "char_end": passage.span.end, "text": texts[i], "terms": terms[i],
                "info": {"spans": [[s.start, s.end] for s in passage.sentences],
                         "title": doc.title, "dimension": int(item.vectors.shape[1]),
                         "digest": item.digest},
                "dense": np.asarray(item.vectors[i], dtype=np.float32).tolist(),
                "sentences": _sentences_field(item.sentence_vectors[i]),
            })  # fmt: skip
        parts = self._text_parts(doc, item.digest)
        if item.token_vectors is not None:
            parts += self._token_parts(doc.doc_id, ids, item.token_vectors)
        info = {
            "title": doc.title, "source": doc.source, "url": doc.url,
            "published": doc.published, "metadata": dict(doc.metadata),
            "digest": item.digest, "chars": len(doc.text), "passages": len(rows),
            "parts": max(1, -(-len(doc.text) // PART_CHARS)),
            "layout": layout_to_json(doc.layout),
        }  # fmt: skip
        document = {"id": _doc_key(doc.doc_id), "doc_id": doc.doc_id, "info": info,
                    "text": doc.text[:PART_CHARS], "one": _ONE}  # fmt: skip
        return rows, parts, document

    def _text_parts(self, doc: Document, digest: str) -> list[dict[str, Any]]:
        return [
            {"id": _id("text", doc.doc_id, digest, n), "doc_id": doc.doc_id, "kind": "text",
             "owner": 0, "part": n, "data": doc.text[start : start + PART_CHARS], "one": _ONE}
            for n, start in enumerate(range(PART_CHARS, len(doc.text), PART_CHARS), start=1)
        ]  # fmt: skip

    def _token_parts(
        self, doc_id: str, ids: Sequence[int], vectors: Sequence[Vectors]
    ) -> list[dict[str, Any]]:
        parts = []
        for pid, tokens in zip(ids, vectors, strict=True):
            text = _encode(Int8Codec(int(tokens.shape[1])).encode(tokens))
            for n, start in enumerate(range(0, len(text), BLOB_CHARS)):
                parts.append({
                    "id": _id(self._tokens_kind(), pid, n), "doc_id": doc_id,
                    "kind": self._tokens_kind(),
                    "owner": pid, "part": n, "data": text[start : start + BLOB_CHARS],
                    "one": _ONE,
                })  # fmt: skip
        return parts

    def _delete_document(self, doc_id: str) -> bool:
        """The document row first: from then on its passages are never cited."""
        if not self._document_rows([doc_id], text=False):
            return False
        self.client.delete(self.names["documents"], ids=[_doc_key(doc_id)])
        if self._has_passages():
            self.client.delete(self.names["passages"], filter=f"doc_id == {_quote(doc_id)}")
        self.client.delete(self.names["parts"], filter=f"doc_id == {_quote(doc_id)}")
        return True

    def delete(self, doc_id: str) -> bool:
        if not self._delete_document(doc_id):
            return False
        self._finish({})
        return True

    def all_passages(self) -> list[StoredPassage]:
        if not self._has_passages():
            return []
        rows = self._query(self.names["passages"], "", self._PASSAGE_FIELDS)
        return sorted((self._passage(r) for r in self._current(rows)), key=lambda p: p.row_id)

    def replace_vectors(
        self,
        ids: Sequence[int],
        vectors: Vectors,
        sentence_vectors: Sequence[Vectors | None],
        token_vectors: Sequence[Vectors] | None,
        meta: Mapping[str, str],
    ) -> int:
        """Re-embedded passages, written into a new collection (of the new dimension) that
        replaces the old one only once it is whole: a failure leaves the old one serving."""
        old, old_kind = self.names["passages"], self._tokens_kind()
        rows = {
            int(r["id"]): r
            for r in self._query(old, "", [*self._PASSAGE_FIELDS, "source", "terms"])
        }
        dimension = int(vectors.shape[1]) if len(vectors) else int(meta.get("dimension", 0))
        new_name = f"{self.config.milvus_prefix}_passages_{uuid.uuid4().hex[:8]}"
        new = []
        for i, pid in enumerate(ids):
            row = dict(rows[pid])
            row["dense"] = np.asarray(vectors[i], dtype=np.float32).tolist()
            row["sentences"] = _sentences_field(sentence_vectors[i])
            row["info"] = {**row["info"], "dimension": dimension}
            new.append(row)
        self.names["passages"] = new_name
        try:
            self._create_passages(dimension)
            for start in range(0, len(new), SCAN):
                self.client.insert(new_name, new[start : start + SCAN])
            if token_vectors is not None:
                self.add_token_vectors(ids, token_vectors)
        except Exception:
            self.names["passages"] = old
            if self.client.has_collection(new_name):
                self.client.drop_collection(new_name)
            raise
        generation = self._finish({**meta, PASSAGES_META: new_name})
        self.client.drop_collection(old)
        self.client.delete(self.names["parts"], filter=f"kind == {_quote(old_kind)}")
        return generation

    def _tokens_kind(self) -> str:
        """Token vector parts are tied to the passages collection they were made for."""
        name = self.names["passages"]
        default = f"{self.config.milvus_prefix}_passages"
        return "tokens" if name == default else f"tokens:{name[-8:]}"

    def needs_backfill(self, tokens: bool) -> bool:
        return False  # every passage is written with its sentence vectors

    def missing_sentence_vectors(self) -> list[StoredPassage]:
        return []

    def set_sentence_vectors(self, ids: Sequence[int], vectors: Sequence[Vectors]) -> None:
        raise NotImplementedError("Milvus passages are always written with sentence vectors")

    def missing_token_vectors(self) -> list[StoredPassage]:
        """None tracked: a passage written with late interaction off gets its token
        vectors computed when a search needs them."""
        return []

    def add_token_vectors(self, ids: Sequence[int], vectors: Sequence[Vectors]) -> None:
        doc_of = {p.row_id: p.passage.doc_id for p in self.passages(ids).values()}
        parts = []
        for pid, tokens in zip(ids, vectors, strict=True):
            parts += self._token_parts(doc_of[pid], [pid], [tokens])
        for start in range(0, len(parts), SCAN):
            self.client.upsert(self.names["parts"], parts[start : start + SCAN])
