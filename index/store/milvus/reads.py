"""The read side of ``MilvusStorage``: documents, passages, token vectors and the two
searches, each read so that only a document's current version is ever cited (see
``storage``). Changes when what a search or a citation reads does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from index.config import EngineConfig
from index.documents import Document, DocumentInfo, Passage, Span
from index.errors import IndexStateError, NotFoundError
from index.model.embedder import Vectors
from index.read.passages import indexed_text
from index.read.terms import stemmed_terms
from index.store.codecs import Int8Codec
from index.store.layouts import layout_from_json
from index.store.milvus.connection import Guarded
from index.store.milvus.schema import BLOB_CHARS, PASSAGES_META, SCAN
from index.store.milvus.values import content_id, decode, doc_key, quote, strings
from index.store.protocol import Filters, Ranked, StoredPassage, TokenRows
from index.timing import Laps


class MilvusReads:
    """Reading the collections; ``MilvusStorage`` opens the client and names them."""

    config: EngineConfig
    client: Guarded
    names: dict[str, str]
    _size: int
    _generation: int
    _stamp: str | None

    # -- collections and meta -------------------------------------------------------------

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

    def get_meta(self, key: str) -> str | None:
        rows = self.client.query(
            self.names["meta"], filter=f"key == {quote(key)}", output_fields=["value"]
        )
        return str(rows[0]["value"]) if rows else None

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
                self.names["documents"], ids=[doc_key(d) for d in doc_ids], output_fields=fields
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
            keys = [content_id("text", doc_id, info["digest"], n) for n in range(1, info["parts"])]
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
        rows = self._query(self.names["passages"], f"doc_id == {quote(doc_id)}",
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
            clauses.append(f"doc_id in {strings(sorted(filters.doc_ids))}")
        if filters and filters.sources:
            clauses.append(f"source in {strings(sorted(filters.sources))}")
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
            vectors = decode(str(row["sentences"]), np.float16, info["dimension"]).astype(
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
            keys = {content_id(self._tokens_kind(), pid, part): pid for pid in wanted}
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
        blocks = [codec.decode(decode(texts[i], np.uint8, dimension + 2)) for i in known]
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

    def all_passages(self) -> list[StoredPassage]:
        if not self._has_passages():
            return []
        rows = self._query(self.names["passages"], "", self._PASSAGE_FIELDS)
        return sorted((self._passage(r) for r in self._current(rows)), key=lambda p: p.row_id)

    def _tokens_kind(self) -> str:
        """Token vector parts are tied to the passages collection they were made for."""
        name = self.names["passages"]
        default = f"{self.config.milvus_prefix}_passages"
        return "tokens" if name == default else f"tokens:{name[-8:]}"
