from __future__ import annotations

import pytest

from eval import metrics
from eval.matching import covers, normalize
from eval.questions import Evidence, Question
from eval.searchers import Answer, Returned
from eval.seed import score_question, summarize


def test_normalize_makes_typography_and_spacing_irrelevant() -> None:
    assert (
        normalize("Doral\u2019s \u201cEl\n Arepazo\u201d \u2013 MIAMI")
        == 'doral\'s "el arepazo" - miami'
    )


@pytest.mark.parametrize(
    ("passage", "quote", "expected"),
    [
        ("He said \u201cwe\u2019re talking\u201d today.", "We're  talking\"", True),
        ("the first seven words of the gold quote", "seven words of the gold quote and more", True),
        ("unrelated text about oil", "seven words of the gold quote and more", False),
        ("words of", "seven words of the gold quote and more", False),
        ("anything", "   ", False),
    ],
)
def test_covers_needs_the_quote_or_most_of_it(passage: str, quote: str, expected: bool) -> None:
    assert covers(passage, quote) is expected


def test_ranking_metrics_by_hand() -> None:
    found = [frozenset(), frozenset({0}), frozenset({0}), frozenset({1})]
    assert metrics.first_hit(found, 10) == 2
    assert metrics.hit_at(found, 1) == 0.0 and metrics.hit_at(found, 2) == 1.0
    assert metrics.recall_at(found, 2, 2) == 0.5 and metrics.recall_at(found, 5, 2) == 1.0
    assert metrics.mrr_at(found, 10) == 0.5 and metrics.mrr_at(found, 1) == 0.0
    # gains at ranks 2 and 4 (the copy at rank 3 earns nothing); ideal: ranks 1 and 2
    expected = (1 / 1.584962500721156 + 1 / 2.321928094887362) / (1 + 1 / 1.584962500721156)
    assert metrics.ndcg_at(found, 10, 2) == pytest.approx(expected)
    with pytest.raises(ValueError):
        metrics.recall_at(found, 5, 0)


def test_document_metrics_follow_trec_eval() -> None:
    qrels = {"a": 1, "b": 2, "z": 0}
    assert metrics.graded_ndcg_at(["b", "a"], qrels, 10) == pytest.approx(1.0)
    ideal = 2 + 1 / 1.584962500721156
    assert metrics.graded_ndcg_at(["x", "a", "b"], qrels, 10) == pytest.approx(
        (1 / 1.584962500721156 + 2 / 2) / ideal
    )
    assert metrics.doc_recall_at(["a", "x"], qrels, 100) == 0.5
    assert metrics.doc_mrr_at(["z", "x", "b"], qrels, 10) == pytest.approx(1 / 3)
    assert metrics.graded_ndcg_at(["a"], {}, 10) == 0.0


QUESTION = Question(
    id="q1",
    question="What did Bolton say?",
    kind="multi",
    evidence=(
        Evidence(doc_id="d1", quote="sole aim of the talks was an exit"),
        Evidence(doc_id="d2", quote="we are talking to Venezuela"),
    ),
)


def test_a_passage_counts_only_for_quotes_of_its_own_document() -> None:
    answer = Answer(
        True,
        (
            Returned("d2", "Bolton: the sole aim of the talks was an exit.", "Bolton: the sole"),
            Returned(
                "d1",
                "Bolton: the sole aim of the talks was an exit.",
                "the sole aim of the talks was an exit.",
            ),
            Returned("d2", "Trump: we are talking to Venezuela.", "we are talking to Venezuela."),
        ),
    )
    score = score_question(QUESTION, "hybrid", answer)
    assert score.first_rank == 2 and score.hit_at_1 == 0.0 and score.mrr_at_10 == 0.5
    assert score.recall_at_5 == 1.0 and score.highlight_at_1 == 0.0
    assert score.passage_chars == (46, 46, 35)


def test_highlight_at_1_accepts_a_highlight_inside_the_quote() -> None:
    answer = Answer(
        True, (Returned("d1", "x. The sole aim of the talks was an exit", "sole aim of the talks"),)
    )
    assert score_question(QUESTION, "dense", answer).highlight_at_1 == 1.0


def test_summaries_split_answerable_and_unanswerable() -> None:
    blind = Question(id="u", question="What did Putin say?", kind="unanswerable")
    scores = [
        score_question(QUESTION, "hybrid", Answer(False, ())),
        score_question(blind, "hybrid", Answer(False, (Returned("d1", "text", "text"),))),
        score_question(blind, "hybrid", Answer(True, ())),
    ]
    s = summarize(scores)
    assert (s.questions, s.answerable) == (3, 1)
    assert s.hit_at_1 == 0.0 and s.answerable_flagged == 1.0 and s.unanswerable_flagged == 0.5
    only_blind = summarize(scores[1:])
    assert only_blind.hit_at_1 is None and only_blind.answerable_flagged is None
