"""Word files (.docx): paragraphs and headings, one to a line, tables row by row.

The text is made once from the file (python-docx, MIT) and is the document from then on.
Paragraphs are separated by a blank line as in the seed articles; a table row is one
line with its cells separated by " | ", so a passage never runs one cell into the next.
The title is the file's core-properties title, else its first heading.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from index.errors import BadDocumentError


@dataclass(frozen=True)
class DocxText:
    text: str
    title: str | None
    author: str | None


def _docx() -> Any:
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("reading .docx needs python-docx: pip install python-docx") from exc
    return docx


def read_docx(data: bytes, name: str) -> DocxText:
    """The text of a Word file; BadDocumentError when it is not one."""
    docx = _docx()
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BadDocumentError(
            f"{name}: not a readable .docx file ({exc}); a .doc from before Word 2007 must be "
            "saved as .docx first"
        ) from None
    except Exception as exc:  # python-docx raises its own PackageNotFoundError and lxml's
        raise BadDocumentError(f"{name}: not a readable .docx file ({exc})") from None
    blocks = list(_blocks(document))
    heading = next((text for text, is_heading in blocks if is_heading), None)
    props = document.core_properties
    title = " ".join((props.title or "").split()) or heading
    # Not core_properties.created: it is when the file was made (python-docx's own
    # template says 2013), not when the text was published.
    return DocxText("\n\n".join(text for text, _ in blocks), title, props.author or None)


def _blocks(document: Any) -> Iterator[tuple[str, bool]]:
    """(text, is a heading) for each non-empty paragraph and table row, in body order."""
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = _paragraph(document, child)
            text = " ".join(paragraph.text.split())
            if text:
                style = (paragraph.style.name or "") if paragraph.style is not None else ""
                yield text, style.startswith(("Heading", "Title"))
        elif tag == "tbl":
            for row in _table(document, child).rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                distinct = [c for i, c in enumerate(cells) if c and c not in cells[:i]]
                if distinct:  # merged cells repeat their text in each grid cell
                    yield " | ".join(distinct), False


def _paragraph(document: Any, element: Any) -> Any:
    from docx.text.paragraph import Paragraph

    return Paragraph(element, document)


def _table(document: Any, element: Any) -> Any:
    from docx.table import Table

    return Table(element, document)
