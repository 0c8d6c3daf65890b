"""Writing: a streaming pipeline of read -> prepare -> embed -> commit, one batch at a time.

Each batch is one all-or-nothing write to the storage (``index.store.protocol``; locally one SQLite
transaction and one index generation, ``indexfiles``), taken
under the data dir's write lock; embedding, the slow part, runs outside it. Memory holds
one batch. A run killed at any moment keeps every committed batch, and the next run
skips those documents by content hash, so nothing is embedded twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from index.config import EngineConfig
from index.documents import Document, Span
from index.errors import BadDocumentError, ModelMismatchError
from index.memory import release_freed_memory
from index.model.embedder import Embedder, Vectors
from index.model.tokens import content_vectors, passage_tokens
from index.read.passages import PreparedDocument, content_hash, indexed_text, prepare
from index.store.originals import Originals
from index.store.protocol import TITLE_META, CompactReport, Staged, Storage
from index.timing import Progress
from index.validation import check_document_fields

log = logging.getLogger("citeqa")


@dataclass(frozen=True)
class DocumentChange:
    """What happened to one document: added, replaced, unchanged or empty (not stored)."""

    doc_id: str
    status: str
    passages: int


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did; ``empty`` lists documents with no text to index (not stored)."""

    added: int
    replaced: int
    unchanged: int
    passages: int
    empty: tuple[str, ...] = ()
    generation: int = 0
    changes: tuple[DocumentChange, ...] = ()
    """One entry per document read, in order (for API callers; the CLI prints counts)."""


@dataclass(frozen=True)
class _Change:
    prepared: PreparedDocument
    digest: str
    replaces: bool


@dataclass(frozen=True)
class _Embedded:
    """One batch, ready to commit: every array is aligned with the batch's passages."""

    changes: tuple[_Change, ...]
    vectors: Vectors
    sentence_vectors: list[Vectors]
    token_vectors: list[Vectors] | None


@dataclass(frozen=True)
class _ToEmbed:
    """One passage as the model reads it (``indexed``: its text, maybe after its title)
    and its sentences; ``text`` starts at document offset ``offset``, the passage spans
    ``start:end`` of the document."""

    doc_id: str
    text: str
    offset: int
    sentences: tuple[Span, ...]
    indexed: str
    start: int
    end: int

    def spans_in_indexed(self) -> list[tuple[int, int]]:
        """The sentences' spans in ``indexed``, which ends with the passage's text."""
        prefix = len(self.indexed) - (self.end - self.start)
        return [(prefix + s.start - self.start, prefix + s.end - self.start)
                for s in self.sentences]  # fmt: skip

    def sentence_text(self, j: int) -> str:
        span = self.sentences[j]
        return self.text[span.start - self.offset : span.end - self.offset]


PASS_SLICE = 256
"""Passages the model reads before their token states are pooled and let go."""


def _report_from(progress: Progress, start: int, total: int, done: int, _: int) -> None:
    progress("embedding", start + done, total)


class Writer:
    """The write side of the engine: ingest, delete and reindex, each under the storage's
    write lock; embedding, the slow part, runs outside it."""

    def __init__(self, config: EngineConfig, storage: Storage, embedder: Embedder) -> None:
        self.config = config
        self.storage = storage
        self.embedder = embedder
        self.originals = Originals(config.data_dir)

    # -- ingest ---------------------------------------------------------------------------

    def ingest(
        self, documents: Iterable[Document], progress: Progress | None = None, total: int = 0
    ) -> IngestReport:
        """Add new documents, replace changed ones, skip unchanged ones, batch by batch."""
        with self.storage.write_lock():  # repair what a crashed writer left
            self.storage.repair()
        generation = self.storage.generation
        report: list[DocumentChange] = []
        passages = done = 0
        for number, (batch, changes, blank) in enumerate(self._batches(documents), start=1):
            report += _changes(batch, changes, blank)
            log.debug("batch %d: embedding %d documents", number, len(changes))
            embedded = self._embed(changes, progress)
            if changes or blank:
                log.debug("batch %d: committing", number)
                generation = self._commit(embedded, blank)
                log.debug("batch %d: committed generation %d", number, generation)
            passages += len(embedded.vectors)
            del embedded
            release_freed_memory()  # memory holds one batch, not the heap's high-water mark
            done += len(batch)
            if progress:
                progress("documents", done, max(total, done))
        counts = Counter(change.status for change in report)
        empty = tuple(change.doc_id for change in report if change.status == "empty")
        for doc_id in empty:
            log.warning("%s has no text to index; not stored", doc_id)
        return IngestReport(counts["added"], counts["replaced"], counts["unchanged"], passages,
                            empty, generation, tuple(report))  # fmt: skip

    def _batches(
        self, documents: Iterable[Document]
    ) -> Iterator[tuple[list[Document], list[_Change], list[str]]]:
        """Batches of documents, each with its changed documents, prepared, and its empty
        ones; a later copy of an id in a batch wins. A batch ends at ``ingest_batch``
        documents or once its changes reach ``ingest_passages`` passages."""
        batch: list[Document] = []
        changes: dict[str, _Change] = {}
        empty: dict[str, None] = {}
        for doc in documents:
            _check_document(doc)
            batch.append(doc)
            changes.pop(doc.doc_id, None)
            empty.pop(doc.doc_id, None)
            digest = content_hash(doc, self.config.chunk)
            stored = self.storage.content_hash(doc.doc_id)
            if stored != digest:
                prepared = prepare(doc, self.config.chunk)
                if prepared.passages:
                    changes[doc.doc_id] = _Change(prepared, digest, stored is not None)
                else:
                    empty[doc.doc_id] = None
            passages = sum(len(change.prepared.passages) for change in changes.values())
            if len(batch) >= self.config.ingest_batch or passages >= self.config.ingest_passages:
                yield batch, list(changes.values()), list(empty)
                batch, changes, empty = [], {}, {}
        if batch:
            yield batch, list(changes.values()), list(empty)

    def _embed(self, changes: Sequence[_Change], progress: Progress | None) -> _Embedded:
        title = self.config.title_in_index
        passages = [
            _ToEmbed(c.prepared.document.doc_id, c.prepared.document.text, 0, p.sentences,
                     indexed_text(c.prepared.passage_text(p), c.prepared.document.title, title),
                     p.span.start, p.span.end)
            for c in changes for p in c.prepared.passages
        ]  # fmt: skip
        vectors, sentences, tokens = self._vectors(passages, progress)
        return _Embedded(tuple(changes), vectors, sentences, tokens)

    def _vectors(
        self, passages: Sequence[_ToEmbed], progress: Progress | None
    ) -> tuple[Vectors, list[Vectors], list[Vectors] | None]:
        """Passage vectors, each passage's sentence vectors and, with late interaction
        on, its content-token vectors: one pass of the model with pooled sentences, else
        a second pass over the sentences."""
        texts = [p.indexed for p in passages]
        if self.config.sentence_vectors != "pooled" or not texts:
            vectors, tokens = self._passage_vectors(texts, progress)
            items = [(p.doc_id, p.text, p.offset, p.sentences) for p in passages]
            return vectors, embed_sentences(self.embedder, items, self.config.batch_size,
                                            progress), tokens  # fmt: skip
        parts: list[Vectors] = []
        pooled: list[Vectors] = []
        kept: list[Vectors] | None = [] if self.config.keeps_tokens else None
        for start in range(0, len(texts), PASS_SLICE):
            # Every token's state of a slice is held until its passages are pooled: a
            # slice at a time, one long document (3,600 passages) does not hold them all.
            report = None
            if progress:
                report = partial(_report_from, progress, start, len(texts))
            cut = passages[start : start + PASS_SLICE]
            found = self.embedder.embed_passages(
                texts[start : start + PASS_SLICE], [p.spans_in_indexed() for p in cut],
                self.config.batch_size, report,
            )  # fmt: skip
            parts.append(found.vectors)
            if kept is not None:
                kept += [content_vectors(t) for t in found.tokens]
            if found.spans is not None:
                pooled += found.spans
            del found
        vectors = np.vstack(parts)
        if len(pooled) < len(passages):  # this embedder cannot pool
            items = [(p.doc_id, p.text, p.offset, p.sentences) for p in passages]
            sentences = embed_sentences(self.embedder, items, self.config.batch_size, progress)
        else:
            sentences = self._fill_cut_off(passages, pooled)
        return vectors, sentences, kept

    def _fill_cut_off(self, passages: Sequence[_ToEmbed], pooled: list[Vectors]) -> list[Vectors]:
        """Sentences past the model's length limit have no token states to pool: embed
        those on their own."""
        missing = [(i, j) for i, rows in enumerate(pooled) for j in np.flatnonzero(
            ~rows.any(axis=1)).tolist()]  # fmt: skip
        if missing:
            texts = [passages[i].sentence_text(j) for i, j in missing]
            for (i, j), vector in zip(missing, self.embedder.embed_many(texts), strict=True):
                pooled[i][j] = vector
        return pooled

    def _passage_vectors(
        self, texts: Sequence[str], progress: Progress | None
    ) -> tuple[Vectors, list[Vectors] | None]:
        """Passage vectors and, with late interaction on, each passage's content-token
        vectors, from one pass of the model."""
        report = (lambda d, t: progress("embedding", d, t)) if progress else None
        if not texts:
            return np.zeros((0, 0), dtype=np.float32), None
        if not self.config.keeps_tokens:
            return self.embedder.embed_many(texts, self.config.batch_size, report), None
        vectors, raw = self.embedder.embed_many_with_tokens(texts, self.config.batch_size, report)
        return vectors, [content_vectors(t) for t in raw]

    def _commit(self, batch: _Embedded, empty: Sequence[str] = ()) -> int:
        """One all-or-nothing write and one generation, under the lock."""
        staged: list[Staged] = []
        start = 0
        for change in batch.changes:
            end = start + len(change.prepared.passages)
            tokens = batch.token_vectors
            staged.append(Staged(
                change.prepared.document, change.digest, change.prepared.passages,
                batch.vectors[start:end], batch.sentence_vectors[start:end],
                None if tokens is None else tokens[start:end],
            ))  # fmt: skip
            start = end
        with self.storage.write_lock():
            dimension = self._check_dimension(batch.vectors)
            meta = self._meta(dimension)
            for item in staged:  # before the rows: a committed document has its original
                self.originals.keep(item.document)
            return self.storage.commit(staged, empty, meta)

    def _meta(self, dimension: int) -> dict[str, str]:
        """What the index records about how it was built (checked when it is opened)."""
        meta = {"model": self.embedder.name, TITLE_META: str(self.config.title_in_index)}
        if dimension:
            meta["dimension"] = str(dimension)
        return meta

    def _check_dimension(self, vectors: Vectors) -> int:
        if not len(vectors):
            return 0
        dimension = int(vectors.shape[1])
        stored = self.storage.get_meta("dimension")
        if stored is not None and int(stored) != dimension:
            raise ModelMismatchError(
                f"model {self.embedder.name!r} gives {dimension}-dimensional vectors, but the "
                f"index holds {stored}-dimensional ones; run `citeqa reindex` or use another "
                "data dir"
            )
        return dimension

    # -- delete and reindex ---------------------------------------------------------------

    def delete(self, doc_id: str) -> bool:
        """Remove one document and its passages; False if it was not there."""
        with self.storage.write_lock():
            return self.storage.delete(doc_id)

    def compact(self) -> CompactReport:
        """Retrain and merge what writes left as they were (see ``Storage.compact``)."""
        with self.storage.write_lock():
            self.storage.repair()
            return self.storage.compact()

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every passage with the configured model (after a model change)."""
        with self.storage.write_lock():
            passages = self.storage.all_passages()
            vectors, sentences, tokens = self._vectors(
                [_ToEmbed(p.passage.doc_id, p.passage.text, p.passage.char_start,
                          p.passage.sentences, self.storage.text_of(p), p.passage.char_start,
                          p.passage.char_end)
                 for p in passages], progress)  # fmt: skip
            dimension = int(vectors.shape[1]) if len(vectors) else self.embedder.dimension
            self.storage.replace_vectors(
                [p.row_id for p in passages], vectors, sentences, tokens, self._meta(dimension)
            )
        return len(passages)

    def backfill(self, progress: Progress | None = None) -> None:
        """Sentence and token vectors for passages stored by a citeqa from before they were
        (a one-time upgrade, under the lock)."""
        with self.storage.write_lock():
            missing = self.storage.missing_sentence_vectors()
            if missing:
                log.warning("embedding the sentences of %d passages (stored once)", len(missing))
                items = [(p.passage.doc_id, p.passage.text, p.passage.char_start,
                          p.passage.sentences) for p in missing]  # fmt: skip
                vectors = embed_sentences(self.embedder, items, self.config.batch_size, progress)
                self.storage.set_sentence_vectors([p.row_id for p in missing], vectors)
            if not self.config.keeps_tokens:
                return
            missing = self.storage.missing_token_vectors()
            tokens = self._tokens([self.storage.text_of(p) for p in missing], progress)
            if missing and tokens is not None:
                self.storage.add_token_vectors([p.row_id for p in missing], tokens)

    def _tokens(self, texts: Sequence[str], progress: Progress | None) -> list[Vectors] | None:
        if not self.config.keeps_tokens:
            return None
        report = (lambda d, t: progress("tokens", d, t)) if progress else None
        return passage_tokens(self.embedder, texts, progress=report)


def _changes(
    batch: Sequence[Document], changes: Sequence[_Change], empty: Sequence[str]
) -> list[DocumentChange]:
    by_id = {c.prepared.document.doc_id: c for c in changes}
    found: dict[str, DocumentChange] = {}
    for doc in batch:  # a later copy of an id in one batch is the one that counts
        change = by_id.get(doc.doc_id)
        if change is not None:
            status = "replaced" if change.replaces else "added"
            found[doc.doc_id] = DocumentChange(doc.doc_id, status, len(change.prepared.passages))
        elif doc.doc_id in empty:
            found[doc.doc_id] = DocumentChange(doc.doc_id, "empty", 0)
        else:
            found[doc.doc_id] = DocumentChange(doc.doc_id, "unchanged", 0)
    return list(found.values())


def _check_document(doc: Document) -> None:
    if not doc.doc_id.strip():
        raise BadDocumentError("a document has an empty id; give every document an id")
    for what, value in (("id", doc.doc_id), ("text", doc.text)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadDocumentError(
                f"document {doc.doc_id!r}: its {what} is not valid Unicode ({exc.reason} at "
                f"{exc.start}); send UTF-8 text"
            ) from exc
    check_document_fields(doc.doc_id, doc.url, doc.metadata)


def embed_sentences(
    embedder: Embedder,
    items: Sequence[tuple[str, str, int, Sequence[Span]]],
    batch_size: int,
    progress: Progress | None = None,
) -> list[Vectors]:
    """One (sentences x dimension) array per ``(doc_id, text, offset, spans)`` passage,
    where ``text`` starts at document offset ``offset``; a sentence that overlapping
    passages share is embedded once."""
    index: dict[tuple[str, Span], int] = {}
    texts: list[str] = []
    for key, text, offset, spans in items:
        for span in spans:
            if (key, span) not in index:
                index[(key, span)] = len(texts)
                texts.append(text[span.start - offset : span.end - offset])
    vectors = embedder.embed_many(
        texts,
        batch_size,
        (lambda done, total: progress("sentences", done, total)) if progress else None,
    )
    return [vectors[[index[(key, span)] for span in spans]] for key, _, _, spans in items]
