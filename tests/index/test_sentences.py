"""Sentence splitting in windows: linear in the text's length, and the same sentences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import index.read.sentences as sentences
from index.documents import Span
from index.read.sentences import sentence_spans

WORDS = ["the", "minister", "said", "Mr.", "U.S.", "talks", "on", "Monday", "3.5", "(oil)",
         "“sanctions”", "Dr.", "e.g.", "Caracas", "—", "No.", "5", "billion", "a.m.", "Jan."]  # fmt: skip
ENDS = [".", "?", "!", ".”", "...", ""]

sentence = st.builds(
    lambda words, end: " ".join(words).capitalize() + end,
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=12),
    st.sampled_from(ENDS),
)
line = st.builds(" ".join, st.lists(sentence, min_size=1, max_size=40))


def _split(text: str, window: int) -> list[Span]:
    saved = sentences.WINDOW
    sentences.WINDOW = window
    try:
        return sentence_spans(text)
    finally:
        sentences.WINDOW = saved


@settings(max_examples=150, deadline=None)
@given(line)
def test_windows_change_no_sentence_that_fits_in_half_a_window(text: str) -> None:
    whole = _split(text, 10**9)
    window = 400  # every generated sentence is under 200 characters
    assert max(len(s) for s in whole) < window // 2
    assert _split(text, window) == whole


@pytest.mark.parametrize("window", [80, 400])
@given(text=st.text(st.sampled_from("ab .?!\n\t“”"), max_size=2000))
@settings(max_examples=100, deadline=None)
def test_any_text_splits_into_trimmed_ordered_spans_inside_it(window: int, text: str) -> None:
    spans = _split(text, window)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))
    for span in spans:
        piece = text[span.start : span.end]
        assert piece and piece == piece.strip() and "\n" not in piece


def test_a_sentence_longer_than_the_window_is_cut_at_whitespace() -> None:
    text = " ".join(["word"] * 200) + "."
    spans = _split(text, 100)
    assert len(spans) > 1
    assert all(text[s.start - 1] == " " for s in spans[1:])  # never inside a word
