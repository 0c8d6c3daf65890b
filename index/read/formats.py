"""One document from one file's bytes, whatever its format: the reader its name picks.

Plain text and Markdown are their own text; HTML, PDF and Word files are made into text
once by their readers (``html``, ``pdf``, ``docx``), which also say what to skip and
where pages are. A binary file's bytes go along (``Document.original_data``) so the
writer can keep the original for "open at the page".
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from index.documents import Document, Layout, Original
from index.errors import BadDocumentError
from index.read.docx import read_docx
from index.read.html import decode_html, read_html
from index.read.pdf import read_pdf

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES, ".pdf", ".docx")
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_TEXT_FORMATS = {".md": "markdown"}


class NotText(BadDocumentError):
    """A .txt or .md file whose bytes are not UTF-8 text; the message says why."""


def suffix_of(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def read_bytes(name: str, data: bytes, url: str | None = None) -> Document:
    """The document in the file ``name`` (its id), read by its suffix; BadDocumentError
    naming what is wrong for a file that cannot be read (encrypted, scanned, broken)."""
    suffix = suffix_of(name)
    if suffix in TEXT_SUFFIXES:
        return text_document(decode_text(data), name)
    if suffix in HTML_SUFFIXES:
        return html_document(decode_html(data), name, url)
    if suffix == ".pdf":
        return pdf_document(data, name)
    if suffix == ".docx":
        return docx_document(data, name)
    raise BadDocumentError(
        f"{name}: cannot read {suffix or 'a file without an extension'}; citeqa reads "
        + ", ".join(SUFFIXES)
    )


def text_document(text: str, doc_id: str) -> Document:
    metadata = {"path": doc_id}
    if text_format := _TEXT_FORMATS.get(suffix_of(doc_id)):
        metadata["format"] = text_format
    return Document(doc_id=doc_id, text=text, metadata=metadata)


def html_document(markup: str, doc_id: str, url: str | None = None) -> Document:
    page = read_html(markup, doc_id, url)
    metadata: dict[str, object] = {"format": "html"} if url else {"path": doc_id, "format": "html"}
    if page.author:
        metadata["author"] = page.author
    if url and page.url and page.url != url:  # fetched: the URL asked for is the one kept
        metadata["canonical_url"] = page.url
    return Document(doc_id=doc_id, text=page.text, title=page.title, source=page.source,
                    url=url or page.url, published=page.published, metadata=metadata,
                    layout=Layout(skipped=page.skipped))  # fmt: skip


def pdf_document(data: bytes, doc_id: str) -> Document:
    pdf = read_pdf(data, doc_id)
    metadata: dict[str, object] = {"path": doc_id, "format": "pdf", "pages": len(pdf.pages)}
    if pdf.author:
        metadata["author"] = pdf.author
    layout = Layout(pdf.pages, pdf.skipped, _original(data, PDF_TYPE, doc_id))
    return Document(doc_id=doc_id, text=pdf.text, title=pdf.title, metadata=metadata,
                    layout=layout, original_data=data)  # fmt: skip


def docx_document(data: bytes, doc_id: str) -> Document:
    word = read_docx(data, doc_id)
    if not word.text.strip():
        raise BadDocumentError(f"{doc_id}: the Word file holds no text")
    metadata: dict[str, object] = {"path": doc_id, "format": "docx"}
    if word.author:
        metadata["author"] = word.author
    layout = Layout(original=_original(data, DOCX_TYPE, doc_id))
    return Document(doc_id=doc_id, text=word.text, title=word.title, metadata=metadata,
                    layout=layout, original_data=data)  # fmt: skip


def _original(data: bytes, media_type: str, name: str) -> Original:
    return Original(hashlib.sha256(data).hexdigest(), media_type, PurePosixPath(name).name)


def decode_text(data: bytes) -> str:
    """UTF-8, a leading BOM dropped, no newline translation (offsets index the file)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotText(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); convert it to UTF-8"
        ) from exc
    if "\x00" in text:
        raise NotText("holds NUL bytes, so it is binary (or UTF-16), not UTF-8 text")
    return text
