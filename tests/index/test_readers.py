"""The format readers on real files: PDF page spans and furniture, Word paragraphs and
tables, web pages' article against their chrome, and files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import BadDocumentError, ChunkSpec, SkippedFile, read_path
from index.read import html
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


def test_a_long_page_is_aligned_by_anchors_and_skips_the_same_chrome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past ``EXACT_LIMIT`` (a manual page of 150,000 words took two minutes) the
    article is aligned between words that occur once in each text: same result here."""
    exact = read_bytes("envoy.html", news_html().encode())
    monkeypatch.setattr(html, "EXACT_LIMIT", 0)
    anchored = read_bytes("envoy.html", news_html().encode())
    assert anchored.text == exact.text and anchored.layout.skipped == exact.layout.skipped
    indexed = _indexed(anchored.text, anchored.layout.skipped)
    assert all(p in indexed for p in ARTICLE) and not any(c in indexed for c in CHROME)


def test_the_anchors_are_a_longest_increasing_run() -> None:
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9]
    run = html._increasing(values)
    picked = [values[k] for k in run]
    assert run == sorted(run) and picked == sorted(set(picked)) and len(run) == 6
    assert html._increasing([]) == [] and html._increasing([5, 4, 3]) in ([0], [1], [2])


def _page(body: str, head: str = "") -> bytes:
    return (f"<!doctype html><html><head><title>Envoy</title>{head}</head>"
            f"<body>{body}</body></html>").encode()  # fmt: skip


def _article(text: str = "") -> str:
    return "<article>" + "".join(f"<p>{p}</p>" for p in ARTICLE) + text + "</article>"


def test_an_xhtml_page_with_an_xml_declaration_reads() -> None:
    page = b'<?xml version="1.0" encoding="utf-8"?>\n' + _page(_article())
    indexed = _indexed(*_parts(read_bytes("envoy.xhtml.html", page)))
    assert all(paragraph in indexed for paragraph in ARTICLE)


def test_invisible_characters_are_dropped_and_text_composed_so_quotes_match() -> None:
    # A soft hyphen and a zero-width space are invisible; "u" + combining diaeresis is "ü".
    odd = "The tan\u00adker sche\u200bdule was agreed in Zu\u0308rich on Monday, officials said."
    doc = read_bytes("envoy.html", _page(_article(f"<p>{odd}</p>")))
    assert "The tanker schedule was agreed in Zürich on Monday, officials said." in doc.text
    assert "\u00ad" not in doc.text and "\u200b" not in doc.text


def test_ruby_readings_are_left_out_and_noscript_text_is_read() -> None:
    body = (
        "<noscript>"
        + _article("<p><ruby>災害<rt>さいがい</rt></ruby>に気をつけて</p>")
        + "</noscript>"
    )
    doc = read_bytes("envoy.html", _page(body))
    assert "災害に気をつけて" in doc.text and "さいがい" not in doc.text
    assert ARTICLE[0] in _indexed(*_parts(doc))  # a page whose whole body is in <noscript>


def test_a_post_rendered_from_a_template_script_is_read() -> None:
    template = "<script type='text/template'>" + _article() + "</script>"
    doc = read_bytes("blog.html", _page(f"<div class='post-body'>{template}</div>"))
    assert all(paragraph in doc.text for paragraph in ARTICLE)


def test_a_page_with_no_article_found_is_indexed_whole_rather_than_not_at_all() -> None:
    links = "".join(
        f"<li><a href='/{i}'>Oil minister meets envoy, part {i}</a></li>" for i in range(3)
    )
    doc = read_bytes("links.html", _page(f"<ul>{links}</ul>"))
    assert doc.layout.skipped == ()
    assert prepare(doc, ChunkSpec()).passages


def test_a_line_equal_to_a_skipped_one_is_still_indexed() -> None:
    # The deck is in a teaser (chrome) and again in the article, right after it.
    deck = "Envoy: the talks with the oil minister will go on next month"
    body = f"<div class='teaser'><a href='/x'>{deck}</a></div>" + _article().replace(
        "<article>", f"<article><p>{deck}</p>"
    )
    doc = read_bytes("envoy.html", _page(body))
    spans = [(s.start, s.end) for s in doc.layout.skipped]
    assert doc.text.count(deck) == 2 and doc.text.index(deck) in [a for a, _ in spans]
    passages = prepare(doc, ChunkSpec()).passages
    assert any(deck in doc.text[p.span.start : p.span.end] for p in passages)


def _parts(doc: object) -> tuple[str, tuple]:  # type: ignore[type-arg]
    return doc.text, doc.layout.skipped  # type: ignore[attr-defined]


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
