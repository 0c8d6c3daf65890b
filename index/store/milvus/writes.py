"""The write side of ``MilvusStorage``: a batch of documents committed in the order that
keeps every read right (see ``storage``), deletes, and a reindex into a new passages
collection. Changes when what is written, or in which order, does."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from index.documents import Document
from index.model.embedder import Vectors
from index.read.passages import indexed_text
from index.read.terms import stemmed_terms
from index.store.codecs import Int8Codec
from index.store.layouts import layout_to_json
from index.store.lock import write_lock
from index.store.milvus.reads import MilvusReads
from index.store.milvus.schema import (
    BLOB_CHARS,
    ONE,
    PART_CHARS,
    PASSAGES_META,
    SCAN,
    VARCHAR,
    create_passages,
)
from index.store.milvus.values import content_id, doc_key, encode, quote, strings
from index.store.protocol import Staged, StoredPassage


def sentences_field(vectors: Vectors | None) -> str:
    """Sentence vectors as float16 base64, or "" when absent or too long for a VARCHAR
    (a search then embeds that passage's sentences when it reads them)."""
    encoded = encode(vectors.astype(np.float16)) if vectors is not None else ""
    return encoded if len(encoded) <= VARCHAR else ""


class MilvusWrites(MilvusReads):
    """Writing the collections; a write reads first (the current digest, the generation)."""

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
        documents deleted, then the document rows (see ``storage``'s docstring)."""
        dimension = meta.get("dimension") or self.get_meta("dimension")
        if staged and not self._has_passages():
            create_passages(
                self.client, self.names["passages"], int(dimension or staged[0].vectors.shape[1])
            )
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
            ids = strings(item.document.doc_id for item in staged)
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

    def _set_meta(self, values: Mapping[str, str]) -> None:
        rows = [{"key": k, "value": v, "one": ONE} for k, v in values.items()]
        if rows:
            self.client.upsert(self.names["meta"], rows)

    def _rows(
        self, item: Staged
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """One document's passage rows, parts (text beyond the first part, token vectors)
        and document row."""
        doc = item.document
        texts = [doc.text[p.span.start : p.span.end] for p in item.passages]
        indexed = [indexed_text(t, doc.title, self.config.title_in_index) for t in texts]
        terms = stemmed_terms(indexed)
        ids = [content_id(doc.doc_id, item.digest, p.seq) for p in item.passages]
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
                "sentences": sentences_field(item.sentence_vectors[i]),
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
        document = {"id": doc_key(doc.doc_id), "doc_id": doc.doc_id, "info": info,
                    "text": doc.text[:PART_CHARS], "one": ONE}  # fmt: skip
        return rows, parts, document

    def _text_parts(self, doc: Document, digest: str) -> list[dict[str, Any]]:
        return [
            {"id": content_id("text", doc.doc_id, digest, n), "doc_id": doc.doc_id,
             "kind": "text", "owner": 0, "part": n, "data": doc.text[start : start + PART_CHARS], "one": ONE}
            for n, start in enumerate(range(PART_CHARS, len(doc.text), PART_CHARS), start=1)
        ]  # fmt: skip

    def _token_parts(
        self, doc_id: str, ids: Sequence[int], vectors: Sequence[Vectors]
    ) -> list[dict[str, Any]]:
        parts = []
        for pid, tokens in zip(ids, vectors, strict=True):
            text = encode(Int8Codec(int(tokens.shape[1])).encode(tokens))
            for n, start in enumerate(range(0, len(text), BLOB_CHARS)):
                parts.append({
                    "id": content_id(self._tokens_kind(), pid, n), "doc_id": doc_id,
                    "kind": self._tokens_kind(),
                    "owner": pid, "part": n, "data": text[start : start + BLOB_CHARS],
                    "one": ONE,
                })  # fmt: skip
        return parts

    def _delete_document(self, doc_id: str) -> bool:
        """The document row first: from then on its passages are never cited."""
        if not self._document_rows([doc_id], text=False):
            return False
        self.client.delete(self.names["documents"], ids=[doc_key(doc_id)])
        if self._has_passages():
            self.client.delete(self.names["passages"], filter=f"doc_id == {quote(doc_id)}")
        self.client.delete(self.names["parts"], filter=f"doc_id == {quote(doc_id)}")
        return True

    def delete(self, doc_id: str) -> bool:
        if not self._delete_document(doc_id):
            return False
        self._finish({})
        return True

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
            row["sentences"] = sentences_field(sentence_vectors[i])
            row["info"] = {**row["info"], "dimension": dimension}
            new.append(row)
        self.names["passages"] = new_name
        try:
            create_passages(self.client, new_name, dimension)
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
        self.client.delete(self.names["parts"], filter=f"kind == {quote(old_kind)}")
        return generation

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
