"""The real bundled model on the real seeds."""

from __future__ import annotations

import pytest

from index import Engine
from tests.conftest import BOLTON, BOLTON_ANSWER


@pytest.mark.model
def test_bolton_answer_is_in_the_top_three_and_cited_verifiably(seeded: Engine) -> None:
    result = seeded.search(BOLTON, top_k=3)
    assert result.answerable
    texts = [h.passage.text for h in result.hits]
    assert any(BOLTON_ANSWER in t for t in texts), texts
    for hit in result.hits:
        doc = seeded.document(hit.passage.doc_id)
        assert doc.text[hit.passage.char_start : hit.passage.char_end] == hit.passage.text
        assert doc.text[hit.highlight.char_start : hit.highlight.char_end] == hit.highlight.text
    best = next(h for h in result.hits if BOLTON_ANSWER in h.passage.text)
    assert BOLTON_ANSWER in best.highlight.text


@pytest.mark.model
@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_each_mode_returns_distinct_passages(seeded: Engine, mode: str) -> None:
    hits = seeded.search("secret talks between the US and Venezuela", top_k=10, mode=mode).hits
    assert len(hits) == 10
    assert len({h.passage.text for h in hits}) == 10
    assert len({(h.passage.doc_id, h.highlight.char_start) for h in hits}) == 10
    assert [h.rank for h in hits] == list(range(1, 11))


@pytest.mark.model
@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_question_far_from_the_corpus_is_flagged(seeded: Engine, mode: str) -> None:
    far = seeded.search("What is the boiling point of water on Mars?", mode=mode)
    assert not far.answerable
    assert seeded.search(BOLTON, mode=mode).answerable
    # Sentence vectors are pooled (the default), so the verdict read each hit's MaxSim,
    # in every mode, not only where late interaction reorders hybrid results.
    assert all(hit.late is not None for hit in far.hits)
