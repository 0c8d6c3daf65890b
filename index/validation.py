"""What a document may hold, checked on every way in (the API, the CLI, the library).

A value stored once is read back by every client for as long as it is kept: a URL a
chat UI renders as a link, metadata a JSON reader must parse, an id shown in a list.
So what cannot safely travel is refused at the door with a message naming the limit,
and ``safe_url`` also filters what older indexes already hold on the way out.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

from index.documents import Document, DocumentInfo
from index.errors import BadDocumentError

MAX_METADATA_DEPTH = 16
"""Nesting levels of objects and arrays in ``metadata`` (a flat object is 1)."""
MAX_METADATA_BYTES = 65_536
"""``metadata`` as compact JSON, in bytes."""
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader reads back exactly (JavaScript's Number)."""
MAX_URL_CHARS = 2_048

_INVISIBLE = {
    # Bidirectional controls: they reorder how an id is shown ("txt.exe" shown as "exe.txt").
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\u200e",
    "\u200f",
    "\u061c",
    # Zero-width characters: two ids that look the same would be different ids.
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
}


def invisible_character(value: str) -> str | None:
    """A message naming the first bidi control or zero-width character in ``value``."""
    for i, char in enumerate(value):
        if char in _INVISIBLE:
            name = unicodedata.name(char, "a format character")
            return (
                f"holds U+{ord(char):04X} ({name}) at character {i}, which changes how it is "
                "shown without being seen; remove it"
            )
    return None


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be a citation link, or None: only absolute http(s) URLs with a
    host, with no spaces or control characters (``java\\tscript:`` is read as
    ``javascript:`` by browsers)."""
    if len(url) > MAX_URL_CHARS:
        return f"is {len(url):,} characters long; use {MAX_URL_CHARS:,} or fewer"
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in url):
        return "holds a space or control character; percent-encode it (%20)"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an absolute http:// or https:// URL, like https://example.org/page"
    if not parts.hostname:
        return "has no host; give the whole URL, like https://example.org/page"
    return None


def safe_url(url: str | None) -> str | None:
    """``url`` when it may be given to a client as a link, else None."""
    return url if url is not None and url_problem(url) is None else None


Linked = TypeVar("Linked", Document, DocumentInfo)


def linkable(item: Linked) -> Linked:
    """``item`` with a url no client should follow (stored before urls were checked)
    taken out, so no caller hands one on."""
    if item.url is None or safe_url(item.url) is not None:
        return item
    return replace(item, url=None)


def metadata_problem(metadata: Mapping[str, Any]) -> str | None:
    """Why ``metadata`` cannot be stored and read back as JSON, or None."""
    try:
        _check_value(metadata, 1)
    except ValueError as exc:
        return str(exc)
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        return f"is {size:,} bytes as JSON, more than {MAX_METADATA_BYTES:,}; keep it smaller"
    return None


def _check_value(value: object, depth: int) -> None:
    """ValueError naming the first JSON limit ``value`` breaks (depth checked before
    descending, so this recursion is bounded)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(
                f"holds an integer beyond ±{MAX_SAFE_INTEGER:,} (2^53 - 1), which JSON readers "
                "do not all read back exactly; send it as a string"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"holds {value}, which JSON cannot hold; send null or a string")
        return
    if not isinstance(value, list | tuple | Mapping):
        raise ValueError(
            f"holds a {type(value).__name__}, which is not JSON; use strings, numbers, "
            "true/false, null, arrays and objects"
        )
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(
            f"is nested deeper than {MAX_METADATA_DEPTH} levels of objects and arrays; flatten it"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"has the key {key!r}, which is not a string as JSON keys are")
            _check_value(item, depth + 1)
    else:
        for item in value:
            _check_value(item, depth + 1)


def check_document_fields(doc_id: str, url: str | None, metadata: Mapping[str, Any]) -> None:
    """BadDocumentError naming what to change when the url or metadata cannot be stored."""
    if url is not None and (problem := url_problem(url)):
        raise BadDocumentError(f"document {doc_id!r}: its url {url!r} {problem}")
    if problem := metadata_problem(metadata):
        raise BadDocumentError(f"document {doc_id!r}: its metadata {problem}")
