"""Token vectors for late interaction: compressed, in memory-mapped segment files.

They are by far the biggest thing an index holds (about 75 vectors per passage), so
they live outside SQLite, where a question read ~50 blobs per search: each write batch
appends one segment file, ``tokens/seg-<generation>.<codec>.npy``, an array of one code
row per token that any number of processes map read-only. SQLite's ``token_spans`` maps
each passage to (segment, first row, row count), committed in the same transaction as
the passage. The file is written and fsynced before that commit, so a crash leaves at
most an unreferenced file, which the next writer removes.

Codes: ``int8`` (one float16 scale and one int8 per dimension) until the index holds
``TRAIN_TOKENS`` token vectors, then a product quantizer trained on them (8 dimensions
per byte: 48 bytes for a 384-dimensional token instead of 386), and every segment is
rewritten once with it. Measured in ``bench/results`` and the README.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.files import fsync_dir
from index.store.codecs import Codec, Codes, Int8Codec, PQCodec

log = logging.getLogger("citeqa")

Vectors = npt.NDArray[np.float32]

TRAIN_TOKENS = 20_000
"""Token vectors needed to train the product quantizer (256 centroids per sub-space want
a few thousand points each; fewer gives a codebook fitted to too little text)."""
DECODED_ROWS = 2 * TRAIN_TOKENS
"""Largest int8 segment kept decoded in memory (about 60 MB at 384 dimensions)."""
_SEGMENT_RE = re.compile(r"seg-(\d+)\.([a-z0-9]+)\.npy")


@dataclass(frozen=True)
class Span:
    """Where one passage's token codes are: a segment file and a row range in it."""

    segment: str
    start: int
    count: int


class TokenFiles:
    """The ``tokens/`` folder of a data dir: segment files and the trained codec.

    Readers map segments lazily and keep them mapped; a segment is never changed once
    written (a writer replaces whole segments and deletes files no row refers to)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._maps: dict[str, Codes] = {}
        self._whole: dict[str, Vectors] = {}
        self._codecs: dict[str, Codec] = {}
        self._lock = threading.Lock()

    # -- reading ----------------------------------------------------------------------

    def codec(self, name: str, dimension: int) -> Codec:
        with self._lock:
            found = self._codecs.get(name)
            if found is None or found.dimension != dimension:
                found = (
                    Int8Codec(dimension)
                    if name == "int8"
                    else PQCodec.load(self.folder / f"codec.{name}.faiss", name)
                )
                self._codecs[name] = found
            return found

    def _segment(self, name: str) -> Codes:
        with self._lock:
            codes = self._maps.get(name)
            if codes is None:
                codes = np.load(self.folder / name, mmap_mode="r")
                self._maps[name] = codes
            return codes

    def rows_in(self, name: str) -> int:
        """Code rows the segment file holds, live or not."""
        return int(self._segment(name).shape[0])

    def row_width(self, name: str) -> int:
        """Bytes of one token's code in the segment."""
        return int(self._segment(name).shape[1])

    def rows(self, name: str, start: int, count: int) -> Codes:
        """Raw code rows, as stored (for copying into another segment)."""
        return self._segment(name)[start : start + count]

    def split(self, spans: Sequence[Span], dimension: int) -> list[Vectors]:
        """The token vectors of each span, as one array per span."""
        flat = self.gather(spans, dimension)
        bounds = np.cumsum([s.count for s in spans])[:-1]
        return list(np.split(flat, bounds)) if spans else []

    def forget_deleted(self) -> None:
        """Unmap segments a writer deleted, so their disk space is freed."""
        with self._lock:
            for name in [n for n in self._maps if not (self.folder / n).exists()]:
                del self._maps[name]
                self._whole.pop(name, None)

    def gather(self, spans: Sequence[Span], dimension: int) -> Vectors:
        """The token vectors of ``spans``, one after the other (one decode per codec)."""
        parts: list[Vectors] = [np.zeros((0, dimension), dtype=np.float32)] * len(spans)
        pending: dict[str, list[tuple[int, Codes]]] = {}
        for i, span in enumerate(spans):
            if not span.count:
                continue
            whole = self._decoded(span.segment, dimension)
            if whole is not None:
                parts[i] = whole[span.start : span.start + span.count]
            else:
                codes = self._segment(span.segment)[span.start : span.start + span.count]
                pending.setdefault(codec_of(span.segment), []).append((i, codes))
        for name, items in pending.items():
            block = self.codec(name, dimension).decode(np.concatenate([c for _, c in items]))
            offset = 0
            for i, codes in items:
                parts[i] = block[offset : offset + len(codes)]
                offset += len(codes)
        if not parts:
            return np.zeros((0, dimension), dtype=np.float32)
        return np.concatenate(parts)

    def _decoded(self, name: str, dimension: int) -> Vectors | None:
        """A small int8 segment decoded whole, once: int8 segments only exist until the
        index holds ``TRAIN_TOKENS`` tokens, and decoding them per question costs more than
        the rest of late interaction."""
        if codec_of(name) != "int8":
            return None
        with self._lock:
            found = self._whole.get(name)
        if found is None:
            codes = self._segment(name)
            if len(codes) > DECODED_ROWS:
                return None
            found = self.codec("int8", dimension).decode(np.asarray(codes))
            with self._lock:
                self._whole[name] = found
        return found

    # -- writing (the caller holds the write lock) -------------------------------------

    def write(self, number: int, codec: Codec, vectors: Sequence[Vectors]) -> list[Span]:
        """One new segment holding ``vectors`` (one array per passage), on disk and
        fsynced before the caller commits the spans that point into it."""
        counts = [len(v) for v in vectors]
        if not sum(counts):
            return [Span("", 0, 0) for _ in counts]
        dimension = codec.dimension
        flat = (
            np.concatenate([np.asarray(v, np.float32).reshape(-1, dimension) for v in vectors])
            if vectors
            else np.zeros((0, dimension), np.float32)
        )
        codes = codec.encode(flat)

        def fill(out: Codes, name: str) -> None:
            out[:] = codes

        name = self.write_rows(number, codec.name, codes.shape, fill)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return [Span(name, int(s), c) for s, c in zip(starts, counts, strict=True)]

    def write_rows(
        self, number: int, codec: str, shape: tuple[int, ...], fill: Callable[[Codes, str], None]
    ) -> str:
        """A segment of ``shape`` code rows that ``fill(array, name)`` writes in place;
        renamed into place only once complete and fsynced. Returns its name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"seg-{number:08d}.{codec}.npy"
        tmp = self.folder / f".{name}.{os.getpid()}.tmp"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        fill(out, name)
        out.flush()
        del out
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(self.folder / name)
        fsync_dir(self.folder)
        return name

    def save_codec(self, codec: PQCodec) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        codec.save(self.folder / f"codec.{codec.name}.faiss")

    def sweep(self, in_use: set[str]) -> None:
        """Delete segment files no committed row refers to (left by a crash, or emptied
        by deletes) and temp files of dead writers."""
        if not self.folder.exists():
            return
        for path in self.folder.iterdir():
            name = path.name
            if (_SEGMENT_RE.fullmatch(name) and name not in in_use) or name.endswith(".tmp"):
                path.unlink(missing_ok=True)
                with self._lock:
                    self._maps.pop(name, None)
                    self._whole.pop(name, None)


def codec_of(segment: str) -> str:
    match = _SEGMENT_RE.fullmatch(segment)
    if match is None:
        raise ValueError(f"not a token segment name: {segment!r}")
    return match.group(2)
