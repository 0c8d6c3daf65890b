"""How values are written for Milvus: string literals in filter expressions, ids derived
from content, and arrays as base64 text in VARCHAR fields. Changes when Milvus's
expression syntax or an encoding does; no collection's layout lives here."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression (ids and sources come from users)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    for char, code in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        escaped = escaped.replace(char, code)
    return f'"{escaped}"'


def strings(values: Iterable[str]) -> str:
    """A list of string literals, for ``field in [...]``."""
    return "[" + ", ".join(quote(v) for v in values) + "]"


def content_id(*parts: object) -> int:
    """A 63-bit id derived from content: rewriting the same thing replaces it."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def doc_key(doc_id: str) -> int:
    """A document row's primary key (see ``schema.create_fixed``)."""
    return content_id("document", doc_id)


def encode(array: np.ndarray[Any, Any]) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def decode(text: str, dtype: type, columns: int) -> np.ndarray[Any, Any]:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(-1, columns)
