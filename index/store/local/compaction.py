"""What ``citeqa compact`` does to a local data dir, beside retraining the dense index.

Token segments only grow: each write appends one, and a replaced or deleted passage's
rows stay in theirs until every row of it is dead. Compaction copies the live rows of
every segment into one new segment per codec (codes as they are: nothing is decoded or
re-encoded) inside the caller's transaction, so a reader sees either the old spans or the
new ones; the old files are swept after the commit.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import numpy as np

from index.store.local.dense import VectorIndex
from index.store.local.meta_rows import MetaRows
from index.store.local.token_rows import TokenSpanRows
from index.store.local.tokens import Span, TokenFiles, codec_of


def merge_tokens(db: sqlite3.Connection, files: TokenFiles) -> tuple[int, int, int]:
    """Live token rows into one segment per codec: (segments before, after, rows dropped)."""
    spans = {i: s for i, s in TokenSpanRows.token_spans_in(db).items() if s.count}
    used = sorted({s.segment for s in spans.values()})
    stored = sum(int(files.rows_in(name)) for name in used)
    live = sum(s.count for s in spans.values())
    by_codec: dict[str, list[int]] = defaultdict(list)
    for row_id, span in spans.items():
        by_codec[codec_of(span.segment)].append(row_id)
    if len(used) <= len(by_codec) and stored == live:
        return len(used), len(used), 0
    for codec, ids in by_codec.items():
        counts = [spans[i].count for i in ids]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()

        def fill(
            out: np.ndarray, name: str, ids: list[int] = ids, starts: list[int] = starts
        ) -> None:
            for row_id, at in zip(ids, starts, strict=True):
                span = spans[row_id]
                out[at : at + span.count] = files.rows(span.segment, span.start, span.count)

        width = files.row_width(spans[ids[0]].segment)
        name = files.write_rows(MetaRows.next_segment(db), codec, (sum(counts), width), fill)
        moved = [Span(name, at, n) for at, n in zip(starts, counts, strict=True)]
        TokenSpanRows.set_token_spans(db, ids, moved)
    return len(used), len(by_codec), stored - live


def describe(dense: VectorIndex) -> str:
    """ "flat (exact), 26,332 vectors" or "ivf (512 lists), 1,000,000 vectors"."""
    shape = f"ivf ({dense.nlist} lists)" if dense.kind == "ivf" else "flat (exact)"
    return f"{shape}, {len(dense):,} vectors"


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
