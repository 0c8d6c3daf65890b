from __future__ import annotations

import pytest

from index.documents import DocumentInfo, Highlight, Hit, Passage, Span
from index.search.answerable import is_answerable
from index.search.answertype import Expectation, expected_answer, gives
from index.search.highlight import best_sentence


def hit(*sentences: str, similarity: float = 0.6) -> Hit:
    text = " ".join(sentences)
    spans, start = [], 0
    for sentence in sentences:
        spans.append(Span(start, start + len(sentence)))
        start += len(sentence) + 1
    passage = Passage("d#0", "d", 0, 0, len(text), text, tuple(spans))
    info = DocumentInfo("d", None, None, None, None, 1, len(text))
    return Hit(1, 1.0, passage, info, Highlight(text, 0, len(text), similarity), 1, 1, similarity)


@pytest.mark.parametrize(
    ("question", "kind", "things"),
    [
        ("How many barrels of oil per day does Venezuela produce?", "count", {"barrel"}),
        ("How many governments backed Juan Guaidó?", "count", {"govern"}),
        ("How many political prisoners are held?", "count", {"prison"}),
        ("how much oil does it export?", "count", {"oil"}),
        ("How many times did they meet?", "count", set()),
        ("How much did the United States pay for the flights?", "money", set()),
        ("What is the exchange rate of the bolivar?", "measure", {"exchang", "rate"}),
        ("How large is the reward for his arrest?", "measure", {"reward"}),
        ("How old is Diosdado Cabello?", "age", set()),
    ],
)
def test_quantity_questions_say_what_they_count(question: str, kind: str, things: set[str]) -> None:
    expectation = expected_answer(question)
    assert expectation is not None
    assert (expectation.kind, set(expectation.things)) == (kind, things)


@pytest.mark.parametrize(
    "question",
    [
        "What did Bolton say about the talks?",
        "Who is Diosdado Cabello?",
        "What is the top priority of the America First adepts?",
        "How did Maduro use the meeting?",
        "When did Waltz meet Machado?",
    ],
)
def test_other_questions_expect_nothing(question: str) -> None:
    assert expected_answer(question) is None


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How many soldiers were sent?", "Approximately 15,000 soldiers are mobilized.", True),
        ("How many soldiers were sent?", "Soldiers were sent in 2019.", False),  # a year
        ("How many soldiers were sent?", "At least 21 vessels were destroyed.", False),
        ("How many Americans were released?", "The release of six Americans detained.", True),
        ("How many times did they meet?", "They met on at least eight occasions.", True),
        ("Within how many years would he go?", "He offered a two-year timeframe.", True),
        ("How old is Diosdado Cabello?", "Cabello, the 56-year-old head of the body", True),
        ("How old is María Machado?", "Cabello, the 56-year-old head of the body", False),
        ("How old is Diosdado Cabello?", "Cabello met 12 officials.", False),
        ("How much did the US pay for it?", "Six flights were paid for.", False),
        ("How much did the US pay for it?", "The US paid $4.5 million for it.", True),
        ("What is the exchange rate of the bolivar?", "The rate rose 40 percent.", False),
        ("What is the exchange rate?", "The exchange rate is 36 to the dollar.", True),
    ],
)
def test_a_sentence_gives_the_number_about_the_thing_asked(
    question: str, sentence: str, expected: bool
) -> None:
    expectation = expected_answer(question)
    assert expectation is not None
    assert gives(expectation, sentence) is expected


def test_a_quantity_question_without_a_number_in_the_results_is_not_in_the_corpus() -> None:
    about_oil = [hit("In 2019 the Venezuela oil industry faced sanctions.", "Oil is its revenue.")]
    assert not is_answerable("How many barrels of oil does Venezuela produce?", about_oil, 0.4)
    assert is_answerable(
        "How many barrels of oil does Venezuela produce?", about_oil, 0.4, quantities=False
    )
    counted = [hit("Venezuela has oil.", "It pumps 800,000 barrels a day.")]
    assert is_answerable("How many barrels of oil does Venezuela produce?", counted, 0.4)


def test_the_highlight_is_the_sentence_that_gives_the_number() -> None:
    text = "Caine visited Puerto Rico. About 15,000 soldiers are mobilized there."
    spans = [Span(0, 26), Span(27, len(text))]
    question = "How many soldiers are mobilized?"
    plain = best_sentence(text, question, spans, [0.7, 0.5])
    assert plain.text == "Caine visited Puerto Rico."
    expectation = expected_answer(question)
    assert isinstance(expectation, Expectation)
    chosen = best_sentence(
        text, question, spans, [0.7, 0.5], prefer=lambda s: gives(expectation, s)
    )
    assert chosen.text.startswith("About 15,000 soldiers")
    assert chosen.score == 0.5  # the reported similarity is still the sentence's own
