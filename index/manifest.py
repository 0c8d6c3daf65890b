"""The manifest: what built the derived index files, written atomically.

It names the model, dimension and chunking, and the SQLite generation the files were
built from: a manifest that lags SQLite means the files are stale and get rebuilt.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    schema_version: int
    model: str
    dimension: int
    max_chars: int
    overlap: int
    generation: int
    folder: str
    documents: int
    passages: int
    versions: dict[str, str]


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(path: Path, manifest: Manifest) -> None:
    atomic_write(path, json.dumps(asdict(manifest), indent=2).encode())


def read_manifest(path: Path) -> Manifest | None:
    """The manifest, or None when it is missing or unreadable (the files get rebuilt)."""
    try:
        return Manifest(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
