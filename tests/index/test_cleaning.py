from __future__ import annotations

import pytest

from index.read.chunking import ChunkSpec
from index.read.cleaning import clean
from index.read.passages import prepare
from index.read.sources import read_text_file
from tests.conftest import SEEDS

BOILERPLATE = [
    "Get all your news in one place",
    "100's of premium titles",
    "Start reading",
    "Sign up to read this article",
    "Already a member? Sign in here",
    "Top stories on inkl right now",
    "Download the app",
    "trusted global sources",
    "Join the conversation as a VIP Member",
    "reader-supported",
    "Your collaboration goes a long way",
    "Donate",
    "All rights reserved",
    "Via Getty Images",
    "(AP Photo/",
    "Photograph: Manaure Quintero",
    "News & Politics",
    "Tom Phillips Latin America correspondent",
]

EXPECTED = {
    "000_c7d63baffa73aa96": (None, "Latin Times"),
    "001_a139d9df4a5e8a0a": ("Enemy Mine: The Common Ground Between Trump and Maduro",
                             "Caracas Chronicles"),
    "002_97bb957da4f5db3c": ("U.S. and Venezuela in Secret Talks to 'Normalize Relations,' Says Maduro",
                             None),
    "003_1ef814ca7a936dba": ("Venezuelan leader Nicolás Maduro confirms months of secret US talks",
                             "The Guardian"),
    "004_2bd6fe60b3f5829b": ("potential Trump–Maduro Talks Amidst Escalating Venezuela Tensions", None),
}  # fmt: skip


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_seed_title_and_source(doc_id: str) -> None:
    cleaned = clean((SEEDS / f"{doc_id}.txt").read_text())
    assert (cleaned.title, cleaned.source) == EXPECTED[doc_id]


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_no_boilerplate_in_any_passage(doc_id: str) -> None:
    prepared = prepare(read_text_file(SEEDS / f"{doc_id}.txt"), ChunkSpec())
    texts = [prepared.passage_text(p) for p in prepared.passages]
    assert texts, "every seed has content"
    for text in texts:
        for phrase in BOILERPLATE:
            assert phrase.lower() not in text.lower(), (phrase, text)


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_headline_and_caption_never_repeat_in_passages(doc_id: str) -> None:
    doc = read_text_file(SEEDS / f"{doc_id}.txt")
    prepared = prepare(doc, ChunkSpec())
    title = prepared.document.title
    joined = "\n".join(prepared.passage_text(p) for p in prepared.passages)
    if title:
        assert title not in joined


def test_cleaning_keeps_the_text_and_marks_whole_lines() -> None:
    text = "Get all your news in one place.\nHeadline Of The Day Here\nBody text is here. It goes on.\n"
    cleaned = clean(text)
    assert cleaned.title == "Headline Of The Day Here"
    kinds = {text[b.span.start : b.span.end]: b.kind for b in cleaned.skip}
    assert kinds == {
        "Get all your news in one place.": "chrome",
        "Headline Of The Day Here": "title",
    }
    blocks = cleaned.content_blocks(text)
    assert [text[b.start : b.end].strip() for b in blocks] == ["Body text is here. It goes on."]


def test_the_answer_sentence_survives_cleaning() -> None:
    prepared = prepare(read_text_file(SEEDS / "002_97bb957da4f5db3c.txt"), ChunkSpec())
    assert any(
        "sole aim of the secret talks" in prepared.passage_text(p) for p in prepared.passages
    )


def test_a_document_that_is_only_a_headline_keeps_it_as_content() -> None:
    from index.read.cleaning import clean

    cleaned = clean("Rubio met Cabello in Caracas.")
    assert cleaned.title == "Rubio met Cabello in Caracas."
    assert cleaned.skip == ()


@pytest.mark.parametrize(
    ("text", "title", "skipped"),
    [
        # The first heading is the title and is skipped whole; later ones lose their '#'s.
        (
            "# Secret Talks\n\nThey met.\n\n## Outcome ##\nNo deal.\n",
            "Secret Talks",
            {"# Secret Talks": "title", "## ": "heading", " ##": "heading"},
        ),
        # The first heading need not be level one, nor the first line.
        ("Lead line.\n### Deep Title\nBody.\n", "Deep Title", {"### Deep Title": "title"}),
        # An empty heading is all marker.
        ("# Title\n##\nBody.\n", "Title", {"# Title": "title", "##": "heading"}),
        # '#' with no space after is text (a hashtag), not a heading.
        ("#hashtag and more words here\nBody text.\n", "#hashtag and more words here",
         {"#hashtag and more words here": "title"}),
        # Only a heading: its text is the content, its marker is still skipped.
        ("# Just a heading\n", "Just a heading", {"# ": "heading"}),
    ],
)  # fmt: skip
def test_markdown_headings(text: str, title: str, skipped: dict[str, str]) -> None:
    cleaned = clean(text, markdown=True)
    assert cleaned.title == title
    assert {text[b.span.start : b.span.end]: b.kind for b in cleaned.skip} == skipped


def test_markdown_off_leaves_hashes_alone() -> None:
    cleaned = clean(
        "# Field Notes From Caracas Today\nThe story goes on for a while, as stories do.\n"
    )
    assert cleaned.title == "# Field Notes From Caracas Today"


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_other_line_breaks_give_the_same_title_source_and_skips(doc_id: str, newline: str) -> None:
    text = (SEEDS / f"{doc_id}.txt").read_text()
    other = text.replace("\n", newline)
    plain, cleaned = clean(text), clean(other)
    assert (cleaned.title, cleaned.source) == (plain.title, plain.source)
    assert [other[b.span.start : b.span.end] for b in cleaned.skip] == [
        text[b.span.start : b.span.end] for b in plain.skip
    ]
