from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.questions import EvalInputError, load_questions, missing_quotes
from index import read_path
from tests.conftest import ROOT, SEEDS

QUESTIONS = ROOT / "eval" / "questions.jsonl"


def test_every_gold_quote_is_exact_text_of_its_document() -> None:
    texts = {doc.doc_id: doc.text for doc in read_path(SEEDS)}
    assert missing_quotes(load_questions(QUESTIONS), texts) == []


def test_the_seed_set_has_the_promised_mix_and_covers_every_article() -> None:
    questions = load_questions(QUESTIONS)
    kinds = Counter(q.kind for q in questions)
    assert len(questions) >= 60
    assert kinds["paraphrase"] >= 15 and kinds["multi"] >= 8
    assert kinds["who-said"] >= 10 and kinds["unanswerable"] >= 10
    cited = {e.doc_id for q in questions for e in q.evidence}
    assert cited == {doc.doc_id for doc in read_path(SEEDS)}


def _write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows))
    return path


GOOD = {"id": "a", "question": "q?", "kind": "fact", "evidence": [{"doc_id": "d", "quote": "abc"}]}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "q.jsonl:2: not a JSON object"),
        ({**GOOD, "id": "b", "kind": "opinion"}, "q.jsonl:2: kind"),
        ({**GOOD, "id": "b", "kind": "unanswerable"}, "takes no evidence"),
        ({**GOOD, "id": "b", "evidence": []}, "needs at least one evidence quote"),
        ({**GOOD, "id": "b", "kind": "multi"}, "two or more documents"),
        ({**GOOD, "id": "b", "extra": 1}, "extra"),
        (GOOD, "id 'a' is used twice"),
    ],
)
def test_a_bad_line_is_named_with_the_reason(tmp_path: Path, row: object, message: str) -> None:
    with pytest.raises(EvalInputError, match=message):
        load_questions(_write(tmp_path, GOOD, row))


def test_an_empty_or_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvalInputError, match="holds no questions"):
        load_questions(_write(tmp_path, ""))
    with pytest.raises(EvalInputError, match="cannot read"):
        load_questions(tmp_path / "nope.jsonl")


def test_missing_quotes_names_the_question_and_document() -> None:
    questions = load_questions(QUESTIONS)[:1]
    doc = questions[0].evidence[0].doc_id
    assert missing_quotes(questions, {doc: "other text"})[0].startswith(f"{questions[0].id}: quote")
    assert "no document" in missing_quotes(questions, {})[0]
