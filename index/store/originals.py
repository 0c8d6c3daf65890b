"""Original files (PDF, Word) kept beside the index, each under its content hash.

A citation of a PDF opens the file itself at the cited page, so the bytes are kept as
they came, in ``<data dir>/originals/<sha256>``: never under a path made from the id (an
id is whatever a client sent, ``../../etc/passwd`` included), and one copy however many
documents share it. Written (fsynced, renamed into place) before the document's row is
committed, so a committed document's original is always there. Both stores keep them in
the data dir: with Milvus, every server that serves originals needs that folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from index.documents import Document, Original
from index.errors import NotFoundError
from index.files import atomic_write

_SHA256 = re.compile(r"[0-9a-f]{64}")


class Originals:
    """The ``originals/`` folder of a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / "originals"

    def keep(self, doc: Document) -> None:
        """Store the document's original bytes, once (same hash: already there)."""
        original, data = doc.layout.original, doc.original_data
        if original is None or data is None:
            return
        path = self.path(original)
        if path.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)

    def path(self, original: Original) -> Path:
        if not _SHA256.fullmatch(original.sha256):  # only ever a hash we computed
            raise NotFoundError(f"no original file {original.sha256!r}")
        return self.folder / original.sha256

    def find(self, doc_id: str, original: Original | None) -> Path:
        """The file, or NotFoundError saying why there is none."""
        if original is None:
            raise NotFoundError(
                f"document {doc_id!r} has no original file: it was read from text, not from "
                "a PDF or Word file"
            )
        path = self.path(original)
        if not path.is_file():
            raise NotFoundError(
                f"the original file of {doc_id!r} is not in this server's data dir "
                f"({self.folder}); ingest the file again here"
            )
        return path
