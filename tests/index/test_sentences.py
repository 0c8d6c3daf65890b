"""Sentence splitting in windows: linear in the text's length, and the same sentences."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import index.read.sentences as sentences
from index.documents import Span
from index.read.sentences import sentence_spans
from tests.conftest import SEEDS

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


def _line(rng: random.Random) -> str:
    sentences = [
        " ".join(rng.choices(WORDS, k=rng.randint(1, 12))).capitalize() + rng.choice(ENDS)
        for _ in range(rng.randint(1, 40))
    ]
    return " ".join(sentences)


def test_windows_change_nothing_in_real_prose_with_no_line_breaks() -> None:
    # The seed articles run together as PDF text often comes: the default window splits
    # them exactly as pysbd does the whole line.
    text = " ".join(
        " ".join(p.read_text(encoding="utf-8").split()) for p in sorted(SEEDS.iterdir())
    )
    whole = _split(text, 10**9)
    assert len(text) > 5 * sentences.WINDOW and len(whole) > 100
    assert sentence_spans(text) == whole


def test_windows_change_few_sentences_even_in_abbreviation_soup() -> None:
    # pysbd is not local: after an ellipsis, a stray closing quote or a sentence with no
    # end mark it can place a boundary by what follows further on, so a cut can change
    # that choice. On these lines, with a small window, 188 of 7,131 sentences differ
    # (2.6%); a window that lost its tail or doubled a sentence would change far more.
    rng = random.Random(7)
    window, total, changed = 400, 0, 0
    for _ in range(300):
        text = _line(rng)
        whole = _split(text, 10**9)
        if max(len(s) for s in whole) >= window // 2:
            continue
        total += len(whole)
        changed += len(set(whole) - set(_split(text, window)))
    assert total > 3000 and changed / total < 0.04, (changed, total)


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
