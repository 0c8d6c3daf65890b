"""PDF files: text page by page, each page's span kept, running heads and page numbers
marked to skip.

PDF text comes as lines broken wherever the page was full, and sentences are found one
line at a time (``sentences``), so lines are joined back into paragraphs: a line ends its
paragraph when it is clearly shorter than the page's full lines and ends like a sentence.
A hyphen that broke a lowercase word across lines is dropped ("para-" + "graph"). This
text, made once, is the document: every offset and every page span points into it.

A line is page furniture when it is a page number, or when the same line (digits aside)
heads or foots at least half the pages. Furniture stays in the text, on its own line,
and is skipped like boilerplate, so the document view still shows it.

pypdfium2 (Apache-2.0 / BSD) reads the file; it downloads nothing and needs no model.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from index.documents import Span
from index.errors import BadDocumentError

_PAGE_NUMBER = re.compile(r"(?i)^(page\s*)?[-–—(\[]?\s*\d{1,4}\s*[-–—)\]]?(\s*(of|/)\s*\d{1,4})?$")
_ENDS_SENTENCE = re.compile(r"[.!?:;\"”’)\]]$")
_BULLET = re.compile(r"^([•▪‣◦●*–-]|\d{1,3}[.)]|[a-z][.)])\s")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")
_EDGE = 2
"""Lines at the top and at the bottom of a page that may be running heads or feet."""
MAX_FURNITURE = 100
"""Longest line taken for a running head or foot (a repeated body line is longer)."""
MIN_TEXT_PER_PAGE = 16
"""Fewer characters per page than this, on average, means a scan without a text layer."""


@dataclass(frozen=True)
class PdfText:
    """A PDF as text: ``pages[i]`` is page i+1's span, ``skipped`` its furniture lines."""

    text: str
    pages: tuple[Span, ...]
    skipped: tuple[Span, ...]
    title: str | None
    author: str | None


def _pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("reading PDF needs pypdfium2: pip install pypdfium2") from exc
    return pypdfium2


def read_pdf(data: bytes, name: str) -> PdfText:
    """The text of a PDF; BadDocumentError saying whether it is encrypted, scanned or broken."""
    pdfium = _pdfium()
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise BadDocumentError(
                f"{name}: the PDF is encrypted (it needs a password to open); save a copy "
                "without the password and index that"
            ) from None
        raise BadDocumentError(
            f"{name}: not a readable PDF ({exc}); the file may be damaged or cut short"
        ) from None
    try:
        pages = [_page_lines(pdf[i]) for i in range(len(pdf))]
        meta = pdf.get_metadata_dict()
    except pdfium.PdfiumError as exc:
        raise BadDocumentError(f"{name}: a page of the PDF cannot be read ({exc})") from None
    finally:
        pdf.close()
    if not pages:
        raise BadDocumentError(f"{name}: the PDF has no pages")
    chars = sum(len(line) for lines in pages for line in lines)
    if chars < MIN_TEXT_PER_PAGE * len(pages):
        raise BadDocumentError(
            f"{name}: the PDF has no text layer ({chars} characters on {len(pages)} pages), "
            "so it is probably scanned; run OCR on it first (e.g. ocrmypdf) and index the result"
        )
    text, spans, skipped = _layout(pages, _furniture(pages))
    return PdfText(text, spans, skipped, _meta(meta, "Title"), _meta(meta, "Author"))


def _page_lines(page: Any) -> list[str]:
    textpage = page.get_textpage()
    try:
        raw: str = textpage.get_text_bounded()
    finally:
        textpage.close()
        page.close()
    # PDFium marks a hyphen that broke a word at a line's end as U+0002.
    raw = raw.replace("\x02\r\n", "-\r\n").replace("\x02", "-")
    lines = [" ".join(_CONTROL.sub(" ", line).split()) for line in re.split(r"\r\n|\r|\n", raw)]
    return [line for line in lines if line]


def _meta(meta: dict[str, str], key: str) -> str | None:
    value = " ".join((meta.get(key) or "").split())
    return value or None


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.casefold())


def _furniture(pages: list[list[str]]) -> list[set[int]]:
    """Per page, the indexes of its furniture lines."""
    counts: Counter[tuple[str, str]] = Counter()
    for lines in pages:
        seen = {("top", _shape(line)) for line in lines[:_EDGE]}
        seen |= {("bottom", _shape(line)) for line in lines[-_EDGE:]}
        counts.update(seen)
    repeated = {
        key
        for key, n in counts.items()
        if len(pages) >= 2 and n >= max(2, len(pages) / 2) and len(key[1]) <= MAX_FURNITURE
    }
    found: list[set[int]] = []
    for lines in pages:
        marks: set[int] = set()
        for i, line in enumerate(lines):
            edge = "top" if i < _EDGE else "bottom" if i >= len(lines) - _EDGE else None
            if edge and _PAGE_NUMBER.match(line):
                marks.add(i)
            elif edge and (edge, _shape(line)) in repeated and not _continues(lines, i, marks):
                marks.add(i)
        found.append(marks)
    return found


def _continues(lines: list[str], i: int, marks: set[int]) -> bool:
    """Whether line ``i`` carries on the sentence of the body line before it (a repeated
    last line of a paragraph is text, not a running foot)."""
    before = i - 1
    return before >= 0 and before not in marks and not _ENDS_SENTENCE.search(lines[before])


def _layout(
    pages: list[list[str]], furniture: list[set[int]]
) -> tuple[str, tuple[Span, ...], tuple[Span, ...]]:
    """The document text, each page's span and the furniture spans."""
    out: list[str] = []
    size = 0
    spans: list[Span] = []
    skipped: list[Span] = []

    def emit(piece: str) -> None:
        nonlocal size
        out.append(piece)
        size += len(piece)

    for number, (lines, marks) in enumerate(zip(pages, furniture, strict=True)):
        if number:
            emit("\n\n")
        start = size
        full = max((len(line) for i, line in enumerate(lines) if i not in marks), default=0)
        paragraph: list[str] = []
        blocks: list[tuple[str, bool]] = []  # (text, is furniture)
        for i, line in enumerate(lines):
            if i in marks:
                if paragraph:
                    blocks.append((_join(paragraph), False))
                    paragraph = []
                blocks.append((line, True))
                continue
            if paragraph and _BULLET.match(line):
                blocks.append((_join(paragraph), False))
                paragraph = []
            paragraph.append(line)
            if _ENDS_SENTENCE.search(line) and len(line) < 0.8 * full:
                blocks.append((_join(paragraph), False))
                paragraph = []
        if paragraph:
            blocks.append((_join(paragraph), False))
        for j, (block, is_furniture) in enumerate(blocks):
            if j:
                emit("\n" if is_furniture or blocks[j - 1][1] else "\n\n")
            if is_furniture:
                skipped.append(Span(size, size + len(block)))
            emit(block)
        spans.append(Span(start, size))
    return "".join(out), tuple(spans), tuple(skipped)


def _join(lines: list[str]) -> str:
    """One paragraph from its lines; a lowercase word hyphenated across a break is mended."""
    text = lines[0]
    for line in lines[1:]:
        if re.search(r"[a-z]-$", text) and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text
