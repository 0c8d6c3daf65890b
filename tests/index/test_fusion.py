from __future__ import annotations

import pytest

from index.documents import Span
from index.search.fusion import collapse, is_near_duplicate, rrf, weighted
from index.search.highlight import best_sentence, word_overlap


def test_rrf_matches_a_hand_computed_oracle() -> None:
    # k=60: a=1/61+1/63, b=1/62+1/61, c=1/63, d=1/62
    fused = dict(rrf([["a", "b", "c"], ["b", "d", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)
    assert [key for key, _ in rrf([["a", "b", "c"], ["b", "d", "a"]], k=60)] == ["b", "a", "d", "c"]


def test_rrf_k_changes_the_weight_of_top_ranks() -> None:
    # With k=0, first place in one list beats second place in both.
    assert rrf([["x", "y"], ["z", "y"]], k=0)[0][0] == "x"
    assert rrf([["x", "y"], ["z", "y"]], k=60)[0][0] == "y"


def test_rrf_rejects_negative_k() -> None:
    with pytest.raises(ValueError):
        rrf([["a"]], k=-1)


def test_near_duplicates_collapse_but_neighbours_do_not() -> None:
    same = "While much of the world struggles, Maduro is eager to play ball."
    assert is_near_duplicate(
        same, "  while much of the world struggles — Maduro is eager to play ball"
    )
    assert not is_near_duplicate(same, "Maduro is eager. Something else entirely happens here.")
    kept = collapse([same, same.upper(), "other text"], lambda t: t, limit=5)
    assert kept == [same, "other text"]
    assert collapse(["a b", "c d", "e f"], lambda t: t, limit=2) == ["a b", "c d"]


def test_highlight_picks_the_best_sentence_with_document_offsets() -> None:
    passage = "Rain fell. Bolton said the talks were about an exit."
    offset = 100
    spans = [Span(100, 110), Span(111, 100 + len(passage))]
    h = best_sentence(passage, "What did Bolton say about the talks?", spans, [0.2, 0.3], offset)
    assert h.text == "Bolton said the talks were about an exit."
    assert (h.char_start, h.char_end) == (111, 100 + len(passage))


def test_word_overlap_breaks_ties_toward_the_literal_answer() -> None:
    text = "The weather was fine. Bolton spoke."
    spans = [Span(0, 21), Span(22, 35)]
    assert best_sentence(text, "Bolton", spans, [0.5, 0.45]).text == "Bolton spoke."
    assert word_overlap("the a of", "anything") == 0.0


def test_highlight_needs_one_score_per_sentence() -> None:
    with pytest.raises(ValueError):
        best_sentence("abc", "q", [Span(0, 3)], [])


def test_weighted_fusion_keeps_score_gaps_and_respects_weights() -> None:
    dense = [("a", 0.9), ("b", 0.7), ("c", 0.1)]
    lexical = [("b", 7.0), ("c", 1.0)]
    fused = dict(weighted([dense, lexical], [0.5, 0.5]))
    assert fused == {"a": 0.5, "b": 0.875, "c": 0.0}
    assert weighted([dense, lexical], [1.0, 0.0])[0][0] == "a"
    assert dict(weighted([[("x", 2.0)], []], [0.3, 0.7])) == {"x": 0.3}


def test_weighted_fusion_needs_one_weight_per_list() -> None:
    with pytest.raises(ValueError, match="one weight per list"):
        weighted([[("a", 1.0)]], [0.5, 0.5])
