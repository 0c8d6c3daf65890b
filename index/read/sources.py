"""Read documents from disk: a folder of .txt/.md files, one such file, or BEIR JSONL.

Text is decoded from the file's bytes exactly (UTF-8, a leading BOM dropped, no
newline translation), so passage offsets index the file as a reader opens it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.documents import Document
from index.errors import BadDocumentError

log = logging.getLogger("citeqa")

TEXT_SUFFIXES = (".txt", ".md")
_FORMATS = {".md": "markdown"}


@dataclass(frozen=True)
class SkippedFile:
    """A file of a folder that was left out, and why (so the caller can report it)."""

    path: str
    reason: str


class _NotText(Exception):
    """A file's bytes are not UTF-8 text; the message says why."""


def read_path(
    path: Path, *, strict: bool = False, on_skip: Callable[[SkippedFile], None] | None = None
) -> Iterator[Document]:
    """Documents from ``path``, read lazily one at a time.

    A text file's id is its path relative to the folder (POSIX, with extension), or
    its file name when given directly. In a folder, a file that is not UTF-8 text is
    skipped with a warning and passed to ``on_skip``; ``strict`` raises instead.
    """
    if not path.exists():
        raise BadDocumentError(f"{path} does not exist; give a folder, a .txt/.md or a .jsonl file")
    suffix = path.suffix.lower()
    if path.is_dir():
        yield from _read_folder(path, strict, on_skip)
    elif suffix == ".jsonl":
        yield from read_beir_jsonl(path)
    elif suffix in TEXT_SUFFIXES:
        yield read_text_file(path)
    else:
        raise BadDocumentError(
            f"cannot read {path}: give a folder of .txt/.md files, one such file, or a BEIR "
            'corpus .jsonl (one {"_id", "title", "text"} object a line)'
        )


def _read_folder(
    folder: Path, strict: bool, on_skip: Callable[[SkippedFile], None] | None
) -> Iterator[Document]:
    files = sorted(
        (p.relative_to(folder).as_posix(), p)
        for p in folder.rglob("*")
        if p.suffix.lower() in TEXT_SUFFIXES and p.is_file()
    )
    if not files:
        raise BadDocumentError(f"{folder} holds no .txt or .md files; nothing to index")
    for doc_id, file in files:
        try:
            _check_name(doc_id)
            text = _decode(file)
        except _NotText as exc:
            if strict:
                raise BadDocumentError(
                    f"{file}: {exc}; without --strict such a file is skipped with a warning"
                ) from exc
            shown = doc_id.encode("utf-8", "backslashreplace").decode()
            log.warning("skipped %s: %s", shown, exc)
            if on_skip is not None:
                on_skip(SkippedFile(shown, str(exc)))
            continue
        yield _text_document(text, doc_id)


def read_text_file(path: Path, doc_id: str | None = None) -> Document:
    """One text file as a document; its id defaults to the file name."""
    try:
        text = _decode(path)
    except _NotText as exc:
        raise BadDocumentError(f"{path}: {exc}") from exc
    return _text_document(text, doc_id or path.name)


def _text_document(text: str, doc_id: str) -> Document:
    metadata = {"path": doc_id}
    text_format = _FORMATS.get(Path(doc_id).suffix.lower())
    if text_format:
        metadata["format"] = text_format
    return Document(doc_id=doc_id, text=text, metadata=metadata)


def _check_name(doc_id: str) -> None:
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        raise _NotText("its name is not valid UTF-8, so it cannot be an id; rename it") from None


def document_from_bytes(name: str, data: bytes) -> Document:
    """An uploaded .txt/.md file as a document with id ``name``, decoded as files are."""
    if Path(name).suffix.lower() not in TEXT_SUFFIXES:
        raise BadDocumentError(f"{name}: only .txt and .md files can be uploaded")
    try:
        return _text_document(_decode_bytes(data), name)
    except _NotText as exc:
        raise BadDocumentError(f"{name}: {exc}") from exc


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _NotText(f"cannot be read ({exc.strerror})") from exc
    return _decode_bytes(data)


def _decode_bytes(data: bytes) -> str:
    try:
        # Bytes, not read_text: newline translation would shift every offset on CRLF files.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _NotText(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); convert it to UTF-8"
        ) from exc
    if "\x00" in text:
        raise _NotText("holds NUL bytes, so it is binary (or UTF-16), not UTF-8 text")
    return text


def read_beir_jsonl(path: Path) -> Iterator[Document]:
    """Documents of a BEIR corpus: one ``{"_id", "title", "text"}`` object a line."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise BadDocumentError(f"{where}: not UTF-8 text ({exc}); convert it") from exc
            if line.strip():
                yield _beir_document(line, where)


def _beir_document(line: str, where: str) -> Document:
    try:
        row: Any = json.loads(line)
        raw_id, text = row["_id"], row["text"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BadDocumentError(
            f'{where}: each line must be a JSON object with "_id" and "text" ({exc})'
        ) from exc
    if raw_id is None or not str(raw_id).strip():
        raise BadDocumentError(f'{where}: "_id" is empty; give every document an id')
    if not isinstance(text, str):
        raise BadDocumentError(f'{where}: "text" must be a string')
    metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    return Document(
        doc_id=str(raw_id), text=text, title=row.get("title") or None, metadata=metadata
    )


def count_documents(path: Path) -> int:
    """How many documents ``read_path`` will yield at most (for progress; 0 if unknown)."""
    try:
        if path.is_dir():
            return sum(1 for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
        if path.suffix.lower() == ".jsonl":
            with path.open("rb") as fh:
                return sum(1 for line in fh if line.strip())
        return 1 if path.is_file() else 0
    except OSError:
        return 0
