"""The manifest: what built the derived index files, written atomically.

It names the model, dimension and chunking, and the SQLite generation the files were
built from: a manifest that lags SQLite means the files are stale and get rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.files import atomic_write

SCHEMA_VERSION = 2


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
    ids_sha256: str
    """Digest of the passage row ids the files hold (``ids_digest``): SQLite must hold
    the same ids, not only as many."""
    versions: dict[str, str]


def ids_digest(ids: npt.NDArray[np.int64]) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.sort(ids), dtype="<i8").tobytes()).hexdigest()


def write_manifest(path: Path, manifest: Manifest) -> None:
    atomic_write(path, json.dumps(asdict(manifest), indent=2).encode())


def read_manifest(path: Path) -> Manifest | None:
    """The manifest, or None when it is missing or unreadable (the files get rebuilt)."""
    try:
        return Manifest(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
