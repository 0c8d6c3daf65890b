from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.documents import Document, Span
from index.read.chunking import ChunkSpec, chunk_block, pack, split_long
from index.read.cleaning import clean
from index.read.passages import prepare
from index.read.sentences import sentence_spans

words = st.sampled_from(["Maduro", "said", "talks.", "U.S.", "Dr.", "e.g.", "?", "“quote”", "\n",
                         "\n\n", "  ", "é", "—", "Sign up to read this article\n", "x" * 40, "3.5"])  # fmt: skip
texty = st.lists(words, max_size=120).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=400), texty), max_chars=st.integers(20, 300))
def test_passages_and_sentences_slice_the_original_text(text: str, max_chars: int) -> None:
    prepared = prepare(Document("d", text), ChunkSpec(max_chars=max_chars))
    for passage in prepared.passages:
        span = passage.span
        assert 0 <= span.start < span.end <= len(text)
        assert len(span) <= max_chars
        assert prepared.passage_text(passage) == text[span.start : span.end]
        for sentence in passage.sentences:
            assert span.start <= sentence.start < sentence.end <= span.end
            assert (
                text[sentence.start : sentence.end].strip() == text[sentence.start : sentence.end]
            )


@settings(max_examples=100, deadline=None)
@given(text=texty)
def test_no_content_is_lost_between_passages(text: str) -> None:
    """Every non-space character outside skipped boilerplate lands in some passage."""
    prepared = prepare(Document("d", text), ChunkSpec(max_chars=80))
    covered = set()
    for p in prepared.passages:
        covered.update(range(p.span.start, p.span.end))
    for block in clean(text).content_blocks(text):
        for i in range(block.start, block.end):
            assert text[i].isspace() or i in covered, (i, text[i])


@pytest.mark.parametrize(
    ("sentences", "max_chars", "expected"),
    [
        ([], 100, []),
        ([Span(0, 10)], 100, [[(0, 10)]]),
        # Three short sentences fit in one passage.
        ([Span(0, 10), Span(11, 20), Span(21, 30)], 100, [[(0, 10), (11, 20), (21, 30)]]),
        # Two per passage, the second passage repeats the last sentence of the first.
        (
            [Span(0, 10), Span(11, 20), Span(21, 30)],
            20,
            [[(0, 10), (11, 20)], [(11, 20), (21, 30)]],
        ),
        # A sentence alone per passage: no overlap is possible, but nothing is lost.
        ([Span(0, 30), Span(31, 60)], 30, [[(0, 30)], [(31, 60)]]),
    ],
)
def test_pack_table(
    sentences: list[Span], max_chars: int, expected: list[list[tuple[int, int]]]
) -> None:
    chunks = pack(sentences, ChunkSpec(max_chars=max_chars))
    assert [[(s.start, s.end) for s in c.sentences] for c in chunks] == expected


def test_overlap_zero_has_no_shared_sentences() -> None:
    spans = [Span(i * 10, i * 10 + 9) for i in range(6)]
    chunks = pack(spans, ChunkSpec(max_chars=29, overlap=0))
    seen = [s for c in chunks for s in c.sentences]
    assert seen == spans


def test_long_sentence_is_cut_at_spaces() -> None:
    text = "word " * 50
    pieces = split_long(text, Span(0, len(text.rstrip())), 42)
    assert all(len(p) <= 42 for p in pieces)
    assert all(text[p.start : p.end].strip() == text[p.start : p.end] for p in pieces)
    assert " ".join(text[p.start : p.end] for p in pieces) == text.strip()


def test_sentences_do_not_break_on_abbreviations() -> None:
    text = "The U.S. and Venezuela talked. Dr. Smith agreed."
    assert [text[s.start : s.end] for s in sentence_spans(text)] == [
        "The U.S. and Venezuela talked.",
        "Dr. Smith agreed.",
    ]


def test_chunk_spec_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        ChunkSpec(max_chars=5)
    with pytest.raises(ValueError, match="overlap"):
        ChunkSpec(overlap=-1)


def test_chunk_block_bounds_every_passage() -> None:
    text = "A fairly long sentence that goes on and on without stopping anywhere at all " * 3
    chunks = chunk_block(text, [Span(0, len(text.rstrip()))], ChunkSpec(max_chars=50))
    assert all(len(c.span) <= 50 for c in chunks)


markdowny = st.lists(
    st.sampled_from(["Maduro", "said", "talks.", "U.S.", "\r\n", "\n", "\r\n\r\n", "\r", "é",
                     "\r\n# ", "\n## ", "##", "#", "\r\n### Heading ###\r\n", "x" * 40]),
    max_size=120,
).map(" ".join)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=markdowny, max_chars=st.integers(20, 200), markdown=st.booleans())
def test_no_span_holds_a_line_break_or_a_skipped_character(
    text: str, max_chars: int, markdown: bool
) -> None:
    metadata = {"format": "markdown"} if markdown else {}
    prepared = prepare(Document("d", text, metadata=metadata), ChunkSpec(max_chars=max_chars))
    skipped = {i for b in clean(text, markdown).skip for i in range(b.span.start, b.span.end)}
    for passage in prepared.passages:
        passage_text = prepared.passage_text(passage)
        assert passage_text == passage_text.strip()
        assert skipped.isdisjoint(range(passage.span.start, passage.span.end))
        for sentence in passage.sentences:
            assert not {"\r", "\n"} & set(text[sentence.start : sentence.end])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One here.\r\nTwo there.\r\n", ["One here.", "Two there."]),
        ("Heading line\r\nBody starts. It ends.", ["Heading line", "Body starts.", "It ends."]),
        ("Old Mac.\rLine two.", ["Old Mac.", "Line two."]),
        ("\r\n\r\n  Padded.  \r\n", ["Padded."]),
    ],
)
def test_sentences_stop_at_every_line_break(text: str, expected: list[str]) -> None:
    assert [text[s.start : s.end] for s in sentence_spans(text)] == expected
