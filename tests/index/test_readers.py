"""The format readers on real files: PDF page spans and furniture, Word paragraphs and
tables, web pages' article against their chrome, and files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import BadDocumentError, ChunkSpec, SkippedFile, read_path
from index.read.formats import read_bytes
from index.read.passages import prepare
from tests.formats import ARTICLE, CHROME, PAGE_FACTS, memo_docx, news_html, report_pdf, scanned_pdf


def _indexed(doc_text: str, skipped: tuple) -> str:  # type: ignore[type-arg]
    kept, cursor = [], 0
    for span in sorted(skipped, key=lambda s: s.start):
        kept.append(doc_text[cursor : span.start])
        cursor = span.end
    return "".join(kept) + doc_text[cursor:]


def test_a_pdf_keeps_each_page_span_and_skips_its_furniture() -> None:
    doc = read_bytes("report.pdf", report_pdf())
    assert doc.title == "Caribbean Energy Monitor" and doc.metadata["author"] == "Energy Desk"
    assert len(doc.layout.pages) == 3
    for number, fact in PAGE_FACTS.items():
        page = doc.layout.pages[number - 1]
        at = doc.text.index(fact)  # lines rejoined: the fact is one run of text
        assert page.start <= at and at + len(fact) <= page.end
        assert doc.layout.pages_of(at, at + len(fact)) == (number, number)
    furniture = {doc.text[s.start : s.end] for s in doc.layout.skipped}
    assert furniture == {
        "Caribbean Energy Monitor - Quarterly Report",
        "Page 1",
        "Page 2",
        "Page 3",
    }
    assert doc.layout.original is not None and doc.layout.original.media_type == "application/pdf"
    assert doc.original_data is not None


def test_pdf_passages_never_hold_furniture_and_slice_exactly() -> None:
    doc = read_bytes("report.pdf", report_pdf())
    prepared = prepare(doc, ChunkSpec())
    for passage in prepared.passages:
        text = doc.text[passage.span.start : passage.span.end]
        assert "Quarterly Report" not in text and "Page " not in text
        assert text == prepared.passage_text(passage)
    assert "schedule-keeper" in doc.text  # a hyphen inside a word is kept


@pytest.mark.parametrize(
    "data, says",
    [
        (report_pdf(password="secret"), "encrypted"),
        (scanned_pdf(), "no text layer"),
        (report_pdf()[:400], "not a readable PDF"),
        (b"%PDF-1.7 this is not a pdf", "not a readable PDF"),
    ],
)
def test_unreadable_pdfs_are_refused_saying_which(data: bytes, says: str) -> None:
    with pytest.raises(BadDocumentError, match=says):
        read_bytes("bad.pdf", data)


def test_a_word_file_reads_headings_paragraphs_and_table_rows() -> None:
    doc = read_bytes("memo.docx", memo_docx())
    assert doc.title == "Tanker memo"
    assert doc.text.split("\n\n") == [
        "Tanker schedule",
        "The envoy agreed a tanker schedule with the oil minister.",
        "Tankers | 4",
        "Barrels a day | 310,000",
        "The next review is due in June.",
    ]
    with pytest.raises(BadDocumentError, match="not a readable .docx"):
        read_bytes("old.docx", b"PK\x03\x04 not really")


def test_a_web_page_indexes_its_article_and_skips_its_chrome() -> None:
    doc = read_bytes("envoy.html", news_html().encode())
    assert doc.title == "Envoy meets oil minister in Caracas"
    assert (doc.source, doc.published) == ("Daily Planet", "2019-05-02")
    assert doc.url == "https://dailyplanet.example/world/envoy-meets-minister"
    assert doc.metadata["author"] == "Lois Lane"
    assert "script text" not in doc.text and "hidden cookie" not in doc.text
    indexed = _indexed(doc.text, doc.layout.skipped)
    for paragraph in ARTICLE:
        assert paragraph in indexed
    for chrome in CHROME:
        assert chrome in doc.text and chrome not in indexed  # shown, dimmed, not searched


def test_a_mixed_folder_reads_in_one_pass_and_lists_what_it_skipped(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(report_pdf())
    (tmp_path / "memo.docx").write_bytes(memo_docx())
    (tmp_path / "page.html").write_text(news_html())
    (tmp_path / "notes.md").write_text("# Notes\n\nThe envoy flew home.\n")
    (tmp_path / "plain.txt").write_text("The talks resume in June.\n")
    (tmp_path / "locked.pdf").write_bytes(report_pdf(password="x"))
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    skipped: list[SkippedFile] = []
    docs = {d.doc_id: d for d in read_path(tmp_path, on_skip=skipped.append)}
    assert sorted(docs) == ["memo.docx", "notes.md", "page.html", "plain.txt", "report.pdf"]
    reasons = {s.path: s.reason for s in skipped}
    assert "encrypted" in reasons["locked.pdf"] and "no text layer" in reasons["scan.pdf"]
    with pytest.raises(BadDocumentError, match="encrypted"):
        list(read_path(tmp_path, strict=True))
