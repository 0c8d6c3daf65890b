"""Read documents from disk (a folder of files, one file, or BEIR JSONL) and from links.

Each file is read by its format (``formats``): text is decoded from the file's bytes
exactly (UTF-8, a leading BOM dropped, no newline translation), so passage offsets index
the file as a reader opens it; HTML, PDF and Word files are made into text once. A file
that cannot be read is skipped with its reason and the rest of the folder goes in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.documents import Document
from index.errors import BadDocumentError
from index.read.formats import SUFFIXES, NotText, decode_text, read_bytes, text_document
from index.read.web import FetchPolicy, fetch

log = logging.getLogger("citeqa")
_GIVE = "give a folder, a .txt/.md/.html/.pdf/.docx file or a BEIR .jsonl file"


@dataclass(frozen=True)
class SkippedFile:
    """A file of a folder that was left out, and why (so the caller can report it)."""

    path: str
    reason: str


def read_path(
    path: Path, *, strict: bool = False, on_skip: Callable[[SkippedFile], None] | None = None
) -> Iterator[Document]:
    """Documents from ``path``, read lazily one at a time.

    A file's id is its path relative to the folder (POSIX, with extension), or its file
    name when given directly. In a folder, a file that cannot be read (not UTF-8 text; an
    encrypted, scanned or broken PDF) is skipped with a warning and passed to
    ``on_skip``; ``strict`` raises instead.
    """
    if not path.exists():
        raise BadDocumentError(f"{path} does not exist; {_GIVE}")
    suffix = path.suffix.lower()
    if path.is_dir():
        yield from _read_folder(path, strict, on_skip)
    elif suffix == ".jsonl":
        yield from read_beir_jsonl(path)
    elif suffix in SUFFIXES:
        yield read_file(path)
    else:
        raise BadDocumentError(
            f'cannot read {path}: {_GIVE} (a corpus .jsonl holds one {{"_id", "title", '
            '"text"}} object a line)'
        )


def _read_folder(
    folder: Path, strict: bool, on_skip: Callable[[SkippedFile], None] | None
) -> Iterator[Document]:
    files = sorted(
        (p.relative_to(folder).as_posix(), p)
        for p in folder.rglob("*")
        if p.suffix.lower() in SUFFIXES and p.is_file()
    )
    if not files:
        raise BadDocumentError(f"{folder} holds no {', '.join(SUFFIXES)} files; nothing to index")
    for doc_id, file in files:
        try:
            _check_name(doc_id)
            yield _read(file, doc_id)
        except BadDocumentError as exc:
            reason = str(exc).removeprefix(f"{doc_id}: ")
            if strict:
                raise BadDocumentError(
                    f"{file}: {reason}; without --strict such a file is skipped with a warning"
                ) from exc
            shown = doc_id.encode("utf-8", "backslashreplace").decode()
            log.warning("skipped %s: %s", shown, reason)
            if on_skip is not None:
                on_skip(SkippedFile(shown, reason))


def read_file(path: Path, doc_id: str | None = None) -> Document:
    """One file as a document, read by its format; its id defaults to the file name."""
    doc_id = doc_id or path.name
    try:
        return _read(path, doc_id)
    except BadDocumentError as exc:
        raise BadDocumentError(f"{path}: {str(exc).removeprefix(f'{doc_id}: ')}") from exc


def read_text_file(path: Path, doc_id: str | None = None) -> Document:
    """One text file as a document, whatever its name; its id defaults to the file name."""
    try:
        return text_document(decode_text(_bytes(path)), doc_id or path.name)
    except NotText as exc:
        raise BadDocumentError(f"{path}: {exc}") from exc


def _read(path: Path, doc_id: str) -> Document:
    try:
        return read_bytes(doc_id, _bytes(path))
    except NotText as exc:
        raise BadDocumentError(f"{doc_id}: {exc}") from exc


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NotText(f"cannot be read ({exc.strerror})") from exc


def _check_name(doc_id: str) -> None:
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        raise NotText("its name is not valid UTF-8, so it cannot be an id; rename it") from None


def document_from_bytes(name: str, data: bytes) -> Document:
    """An uploaded file as a document with id ``name``, read as files on disk are."""
    try:
        return read_bytes(name, data)
    except NotText as exc:
        raise BadDocumentError(f"{name}: {exc}") from exc


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
            return sum(1 for p in path.rglob("*") if p.suffix.lower() in SUFFIXES)
        if path.suffix.lower() == ".jsonl":
            with path.open("rb") as fh:
                return sum(1 for line in fh if line.strip())
        return 1 if path.is_file() else 0
    except OSError:
        return 0


def is_link(source: str) -> bool:
    """Whether a command-line source is a URL to fetch rather than a path."""
    return source.lower().startswith(("http://", "https://"))


def read_sources(
    sources: Sequence[str],
    policy: FetchPolicy,
    *,
    strict: bool = False,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> Iterator[Document]:
    """Documents from paths and links, in the order given. A link that cannot be fetched
    or read is passed to ``on_skip`` with its reason (``strict`` raises), so one dead link
    does not stop the rest."""
    for source in sources:
        if not is_link(source):
            yield from read_path(Path(source), strict=strict, on_skip=on_skip)
            continue
        try:
            doc = fetch(source, policy)
        except BadDocumentError as exc:
            if strict or on_skip is None:
                raise
            log.warning("skipped %s: %s", source, exc)
            on_skip(SkippedFile(source, str(exc)))
            continue
        yield doc


def count_sources(sources: Sequence[str]) -> int:
    return sum(1 if is_link(s) else count_documents(Path(s)) for s in sources)
