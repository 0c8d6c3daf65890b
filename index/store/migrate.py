"""Copy an index from one storage to another without running the model again.

Everything a search needs is read through the storage seam (documents, passages with
their sentence vectors, passage vectors, token vectors) and written as the same
``Staged`` documents an ingest writes, batch by batch, with the source's model metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.documents import Span
from index.errors import IndexStateError
from index.model.embedder import Vectors
from index.read.passages import NewPassage
from index.store.protocol import TITLE_META, Staged, Storage, StoredPassage
from index.timing import Progress

BATCH = 64
"""Documents per write to the target."""


@dataclass(frozen=True)
class Migrated:
    documents: int
    passages: int
    generation: int


def migrate(source: Storage, target: Storage, progress: Progress | None = None) -> Migrated:
    """Copy every document of ``source`` into ``target`` (same ids; a document already
    there is replaced)."""
    dimension = int(source.get_meta("dimension") or 0)
    meta = {key: value for key in ("model", "dimension", TITLE_META)
            if (value := source.get_meta(key)) is not None}  # fmt: skip
    if not dimension:
        raise IndexStateError("the source index holds no passages yet; nothing to copy")
    built = target.get_meta("model")
    if built is not None and built != meta.get("model"):
        raise IndexStateError(
            f"the target already holds an index built with model {built!r}, not "
            f"{meta.get('model')!r}; use an empty target (another CITEQA_MILVUS_PREFIX)"
        )
    by_doc: dict[str, list[StoredPassage]] = {}
    for stored in source.all_passages():
        by_doc.setdefault(stored.passage.doc_id, []).append(stored)
    infos = source.documents()
    generation = target.generation
    passages = 0
    for start in range(0, len(infos), BATCH):
        batch = infos[start : start + BATCH]
        staged = [_staged(source, info.doc_id, by_doc.get(info.doc_id, []), dimension)
                  for info in batch]  # fmt: skip
        staged = [s for s in staged if s.passages]
        with target.write_lock():
            generation = target.commit(staged, (), meta)
        passages += sum(len(s.passages) for s in staged)
        if progress:
            progress("documents", start + len(batch), len(infos))
    return Migrated(len(infos), passages, generation)


def _staged(
    source: Storage, doc_id: str, stored: Sequence[StoredPassage], dimension: int
) -> Staged:
    stored = sorted(stored, key=lambda s: s.passage.seq)
    ids = [s.row_id for s in stored]
    tokens = source.token_rows(ids, dimension)
    by_id = dict(zip(tokens.ids, np.split(tokens.vectors, np.cumsum(tokens.counts)[:-1]),
                     strict=True)) if tokens.ids else {}  # fmt: skip
    token_vectors: list[Vectors] | None = (
        [by_id[i] for i in ids] if len(by_id) == len(ids) else None
    )
    return Staged(
        document=source.document(doc_id),
        digest=source.content_hash(doc_id) or "",
        passages=tuple(
            NewPassage(
                s.passage.seq, Span(s.passage.char_start, s.passage.char_end), s.passage.sentences
            )
            for s in stored
        ),
        vectors=source.passage_vectors(ids, dimension),
        sentence_vectors=[s.sentence_vectors for s in stored],
        token_vectors=token_vectors,
    )
