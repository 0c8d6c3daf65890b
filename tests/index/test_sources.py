from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from index.errors import BadDocumentError
from index.read.chunking import ChunkSpec
from index.read.passages import PreparedDocument, prepare
from index.read.sources import SkippedFile, read_path, read_text_file
from tests.conftest import SEEDS

SEED_FILES = sorted(SEEDS.glob("*.txt"))
BOM = b"\xef\xbb\xbf"

# How a seed's bytes are rewritten before reading: the same article, saved differently.
VARIANTS = {
    "crlf": lambda data: data.replace(b"\n", b"\r\n"),
    "bom": lambda data: BOM + data,
    "bom+crlf": lambda data: BOM + data.replace(b"\n", b"\r\n"),
}


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _prepared(folder: Path) -> list[PreparedDocument]:
    return [prepare(doc, ChunkSpec()) for doc in read_path(folder)]


def _assert_spans_slice_the_file(prepared: PreparedDocument, file: Path) -> None:
    raw = file.read_bytes().decode("utf-8-sig")
    assert prepared.document.text == raw
    assert prepared.passages, "every seed has content"
    for passage in prepared.passages:
        text = raw[passage.span.start : passage.span.end]
        assert prepared.passage_text(passage) == text
        assert text == text.strip(), "a passage never starts or ends with a line break"
        for sentence in passage.sentences:
            assert "\r" not in raw[sentence.start : sentence.end]
            assert raw[sentence.start : sentence.end].strip()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("seed", SEED_FILES, ids=lambda p: p.stem)
def test_crlf_and_bom_files_keep_offsets_and_title(
    tmp_path: Path, seed: Path, variant: str
) -> None:
    file = _write(tmp_path / seed.name, VARIANTS[variant](seed.read_bytes()))
    [prepared] = _prepared(tmp_path)
    plain = prepare(read_text_file(seed), ChunkSpec()).document
    assert prepared.document.doc_id == seed.name
    assert (prepared.document.title, prepared.document.source) == (plain.title, plain.source)
    _assert_spans_slice_the_file(prepared, file)


def test_the_bom_is_dropped_and_crlf_kept(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", BOM + b"First line here.\r\nSecond line here.\r\n")
    [doc] = read_path(tmp_path)
    assert doc.text == "First line here.\r\nSecond line here.\r\n"


BAD_FILES = {
    "latin1.txt": "café au lait, señor".encode("latin-1"),
    "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "utf16.md": "Hello there, this is text.".encode("utf-16-le"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_file_that_is_not_utf8_text_is_skipped_and_reported(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path / "good.txt", "Good text here.")
    _write(tmp_path / "sub" / name, BAD_FILES[name])
    _write(tmp_path / "zlast.md", "Also good.")
    skipped: list[SkippedFile] = []
    with caplog.at_level(logging.WARNING, logger="citeqa"):
        docs = list(read_path(tmp_path, on_skip=skipped.append))
    assert [d.doc_id for d in docs] == ["good.txt", "zlast.md"]
    assert [s.path for s in skipped] == [f"sub/{name}"]
    assert "UTF-8" in skipped[0].reason
    assert f"sub/{name}" in caplog.text and "skipped" in caplog.text


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_strict_raises_on_a_file_that_is_not_text(tmp_path: Path, name: str) -> None:
    _write(tmp_path / "a.txt", "Read first.")
    _write(tmp_path / f"b_{name}", BAD_FILES[name])
    documents = read_path(tmp_path, strict=True)
    assert next(documents).doc_id == "a.txt", "documents are read one at a time"
    with pytest.raises(BadDocumentError, match=rf"b_{name}: .*UTF-8.*without --strict"):
        next(documents)


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_given_directly_is_an_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(BadDocumentError, match="not UTF-8 text"):
        list(read_path(_write(tmp_path / name, BAD_FILES[name])))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # Same stem in two folders, and the same stem with two extensions.
        (["a/report.txt", "b/report.txt"], ["a/report.txt", "b/report.txt"]),
        (["notes.md", "notes.txt"], ["notes.md", "notes.txt"]),
        # Extensions match in any case; other files are ignored.
        (["UPPER.TXT", "Mixed.Md", "image.png", "data.json"], ["Mixed.Md", "UPPER.TXT"]),
        (["deep/er/x.txt", "top.txt"], ["deep/er/x.txt", "top.txt"]),
    ],
)
def test_document_ids_are_relative_paths(
    tmp_path: Path, files: list[str], expected: list[str]
) -> None:
    for name in files:
        _write(tmp_path / name, f"Text of {name}.")
    docs = list(read_path(tmp_path))
    assert [d.doc_id for d in docs] == expected
    assert [d.metadata["path"] for d in docs] == expected
    assert [d.metadata.get("format") for d in docs] == [
        "markdown" if name.lower().endswith(".md") else None for name in expected
    ]


@pytest.mark.parametrize("name", ["report.txt", "REPORT.TXT", "notes.Md"])
def test_a_file_given_directly_is_named_by_its_file_name(tmp_path: Path, name: str) -> None:
    file = _write(tmp_path / "sub" / name, "Some text.")
    [doc] = read_path(file)
    assert (doc.doc_id, doc.metadata["path"], doc.text) == (name, name, "Some text.")


@pytest.mark.parametrize("text", ["", "   \n\r\n\t"])
def test_empty_documents_are_still_yielded(tmp_path: Path, text: str) -> None:
    _write(tmp_path / "empty.txt", text)
    [doc] = read_path(tmp_path)
    assert doc.text == text
    assert prepare(doc, ChunkSpec()).passages == ()


MARKDOWN = [
    # (file text, expected title, texts that must be content)
    ("# Field Notes\n\nThe talks began in May.\n", "Field Notes", ["The talks began in May."]),
    (
        "Intro before any heading.\n## Secret Talks ##\nThey met twice.\n### Outcome\nNo deal.\n",
        "Secret Talks",
        ["Intro before any heading.", "They met twice.", "Outcome", "No deal."],
    ),
    (
        "# Report\r\n\r\n## Why it matters\r\nBecause nobody knew. Not even aides.\r\n",
        "Report",
        ["Why it matters", "Because nobody knew.", "Not even aides."],
    ),
    # A document that is only a heading keeps its text as content, without the '#'.
    ("# Rubio met Cabello\n", "Rubio met Cabello", ["Rubio met Cabello"]),
]


@pytest.mark.parametrize(("text", "title", "content"), MARKDOWN)
def test_markdown_title_from_first_heading_and_no_span_starts_with_hash(
    tmp_path: Path, text: str, title: str, content: list[str]
) -> None:
    file = _write(tmp_path / "doc.md", text)
    [prepared] = _prepared(tmp_path)
    assert prepared.document.title == title
    raw = file.read_bytes().decode("utf-8-sig")
    passages = [prepared.passage_text(p) for p in prepared.passages]
    sentences = [raw[s.start : s.end] for p in prepared.passages for s in p.sentences]
    assert sentences == content
    for piece in passages + sentences:
        assert not piece.startswith("#") and piece == piece.strip()


def test_a_title_given_by_the_caller_wins_over_the_heading(tmp_path: Path) -> None:
    _write(tmp_path / "doc.md", "# Heading Title\n\nBody text here.\n")
    [doc] = read_path(tmp_path)
    assert prepare(replace(doc, title="Given"), ChunkSpec()).document.title == "Given"


@pytest.mark.parametrize(
    "line",
    [
        '{"_id": "", "text": "No id."}',
        '{"_id": "  ", "text": "Blank id."}',
        '{"_id": null, "text": "Null id."}',
    ],
)
def test_a_beir_line_with_an_empty_id_is_refused(tmp_path: Path, line: str) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", '{"_id": "1", "text": "Fine."}\n' + line + "\n")
    with pytest.raises(BadDocumentError, match=r"corpus\.jsonl:2: \"_id\" is empty"):
        list(read_path(corpus))


def test_beir_keeps_ids_and_reads_a_bom_and_crlf(tmp_path: Path) -> None:
    rows = (
        b'{"_id": "a/b.txt", "title": "T", "text": "One\\r\\nTwo"}\r\n{"_id": 7, "text": "X"}\r\n'
    )
    corpus = _write(tmp_path / "Corpus.JSONL", BOM + rows)
    docs = list(read_path(corpus))
    assert [(d.doc_id, d.title, d.text) for d in docs] == [
        ("a/b.txt", "T", "One\r\nTwo"),
        ("7", None, "X"),
    ]


def test_a_beir_line_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    corpus = _write(
        tmp_path / "c.jsonl", b'{"_id": "1", "text": "ok"}\n{"_id": "2", "text": "\xe9"}\n'
    )
    with pytest.raises(BadDocumentError, match=r"c\.jsonl:2: not UTF-8"):
        list(read_path(corpus))
