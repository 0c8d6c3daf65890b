"""Read documents from disk: a folder of .txt/.md files, one such file, or BEIR JSONL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from index.documents import Document
from index.errors import BadDocumentError

TEXT_SUFFIXES = (".txt", ".md")


def read_path(path: Path) -> Iterator[Document]:
    """Documents from ``path``; the document id of a text file is its file stem."""
    if not path.exists():
        raise BadDocumentError(f"{path} does not exist; give a folder, a .txt/.md or a .jsonl file")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
        if not files:
            raise BadDocumentError(f"{path} holds no .txt or .md files; nothing to index")
        for file in files:
            yield read_text_file(file)
    elif path.suffix == ".jsonl":
        yield from read_beir_jsonl(path)
    elif path.suffix in TEXT_SUFFIXES:
        yield read_text_file(path)
    else:
        raise BadDocumentError(
            f"cannot read {path}: give a folder of .txt/.md files, one such file, or a BEIR "
            'corpus .jsonl (one {"_id", "title", "text"} object a line)'
        )


def read_text_file(path: Path) -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadDocumentError(f"{path} is not UTF-8 text ({exc}); convert it to UTF-8") from exc
    return Document(doc_id=path.stem, text=text, metadata={"path": path.name})


def read_beir_jsonl(path: Path) -> Iterator[Document]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                doc_id, text = str(row["_id"]), row["text"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise BadDocumentError(
                    f'{path}:{number}: each line must be a JSON object with "_id" and "text" '
                    f"({exc})"
                ) from exc
            if not isinstance(text, str):
                raise BadDocumentError(f'{path}:{number}: "text" must be a string')
            metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
            yield Document(
                doc_id=doc_id, text=text, title=row.get("title") or None, metadata=metadata
            )
